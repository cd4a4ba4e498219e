"""Calls for proposals: the rules applicants answer and evaluators score against."""
