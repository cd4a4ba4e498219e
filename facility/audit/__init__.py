"""The append-only event timeline of every workflow subject."""
