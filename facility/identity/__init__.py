"""Users, organisations, roles, passwords and access tokens."""
