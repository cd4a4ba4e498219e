"""Award decisions within a call's envelope, reserve lists and promotion."""
