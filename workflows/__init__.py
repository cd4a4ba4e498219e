"""Workflows as data, and the engine that judges transitions. No database, no HTTP."""
