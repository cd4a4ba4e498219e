"""Attachments: type checked by content, stored content-addressed by SHA-256."""
