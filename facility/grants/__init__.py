"""Grants, their reporting and payment schedules, reports and payments."""
