"""Rules a call must satisfy as a whole (single fields are checked by the API's schemas)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facility.calls.grids import grid_problems
from facility.errors import FieldError


def call_problems(c: Mapping[str, Any]) -> list[FieldError]:
    """Every cross-field defect of a call, given all of its (merged) values."""
    errors: list[FieldError] = []

    def add(field: str, detail: str, code: str = "invalid") -> None:
        errors.append(FieldError((field,), detail, code))

    if c["max_grant"] < c["min_grant"]:
        add("max_grant", "max_grant must be at least min_grant")
    if c["budget_envelope"] < c["max_grant"]:
        add("budget_envelope", "The budget envelope must be at least max_grant")
    if c["max_duration_months"] < c["min_duration_months"]:
        add("max_duration_months", "max_duration_months must be at least min_duration_months")
    if c["mode"] == "fixed_deadline" and c.get("closes_at") is None:
        add("closes_at", "A fixed-deadline call needs closes_at", "required")
    if c.get("closes_at") is not None and c["closes_at"] <= c["opens_at"]:
        add("closes_at", "closes_at must be later than opens_at")

    if c["stages"] == "two_stage":
        if c.get("concept_note_grid") is None:
            add("concept_note_grid", "A two-stage call needs a concept-note grid", "required")
        else:
            errors.extend(grid_problems(c["concept_note_grid"], ("concept_note_grid",)))
    else:
        if c.get("concept_note_grid") is not None:
            add("concept_note_grid", "Only two-stage calls have a concept-note grid")
        if c.get("concept_note_attachment_kinds"):
            add("concept_note_attachment_kinds", "Only two-stage calls have concept notes")
    errors.extend(grid_problems(c["evaluation_grid"], ("evaluation_grid",)))
    return errors
