"""Proposals: drafting, submission with a receipt, idempotent creation."""
