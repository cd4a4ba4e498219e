"""Persistence: declarative base, column types, engines and units of work."""
