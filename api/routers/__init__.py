"""One router per domain area."""
