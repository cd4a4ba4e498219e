"""Screening: the administrative and eligibility check of a submitted proposal."""
