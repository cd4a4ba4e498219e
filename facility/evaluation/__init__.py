"""Independent evaluation: evaluator profiles, assignments, declarations, scoring,
consolidation and ranking."""
