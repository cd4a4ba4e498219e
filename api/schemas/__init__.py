"""Request and response schemas, separate per direction and role."""
