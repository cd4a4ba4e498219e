"""Evaluation grids: criteria grouped in sections, weighted, with thresholds and a pass mark.

Stored as JSON with decimals as strings so nothing is lost to floats:

    {"sections": [{"id", "label", "threshold"}],
     "criteria": [{"id", "label", "section", "min_score", "max_score", "weight"}],
     "pass_mark": "30"}

A criterion's weighted score is ``score × weight``; a section's maximum is the sum of its
criteria's ``max_score × weight``; the grid's maximum is the sum of the sections'.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from facility.errors import FieldError

Grid = Mapping[str, Any]


def section_maxima(grid: Grid) -> dict[str, Decimal]:
    maxima: dict[str, Decimal] = {s["id"]: Decimal(0) for s in grid["sections"]}
    for c in grid["criteria"]:
        if c["section"] in maxima:
            maxima[c["section"]] += Decimal(c["max_score"]) * Decimal(str(c["weight"]))
    return maxima


def total_max(grid: Grid) -> Decimal:
    return sum(section_maxima(grid).values(), Decimal(0))


def grid_problems(grid: Grid, loc: Sequence[str | int]) -> list[FieldError]:
    """Every structural defect of a grid, located under ``loc`` in the request body."""
    base = tuple(loc)
    errors: list[FieldError] = []
    section_ids = [s["id"] for s in grid["sections"]]
    if not section_ids:
        errors.append(FieldError((*base, "sections"), "A grid needs at least one section"))
    if len(set(section_ids)) != len(section_ids):
        errors.append(FieldError((*base, "sections"), "Section ids must be unique", "duplicate"))
    criterion_ids = [c["id"] for c in grid["criteria"]]
    if not criterion_ids:
        errors.append(FieldError((*base, "criteria"), "A grid needs at least one criterion"))
    if len(set(criterion_ids)) != len(criterion_ids):
        errors.append(FieldError((*base, "criteria"), "Criterion ids must be unique", "duplicate"))
    for i, c in enumerate(grid["criteria"]):
        if c["section"] not in section_ids:
            errors.append(
                FieldError((*base, "criteria", i, "section"), f"Unknown section {c['section']!r}")
            )
        if c["min_score"] > c["max_score"]:
            errors.append(
                FieldError((*base, "criteria", i, "min_score"), "min_score exceeds max_score")
            )
    maxima = section_maxima(grid)
    for i, s in enumerate(grid["sections"]):
        if maxima.get(s["id"], Decimal(0)) == 0 and s["id"] in section_ids:
            errors.append(
                FieldError((*base, "sections", i), f"Section {s['id']!r} has no criteria")
            )
        threshold = s.get("threshold")
        if threshold is not None and Decimal(str(threshold)) > maxima.get(s["id"], Decimal(0)):
            errors.append(
                FieldError(
                    (*base, "sections", i, "threshold"),
                    f"Threshold {threshold} exceeds the section's maximum {maxima.get(s['id'])}",
                )
            )
    top = total_max(grid)
    if Decimal(str(grid["pass_mark"])) > top:
        errors.append(
            FieldError((*base, "pass_mark"), f"The pass mark exceeds the grid's maximum {top}")
        )
    return errors


def _criterion(cid: str, label: str, section: str, weight: int = 1) -> dict[str, Any]:
    return {
        "id": cid,
        "label": label,
        "section": section,
        "min_score": 1,
        "max_score": 5,
        "weight": str(weight),
    }


def prag_concept_note_grid() -> dict[str, Any]:
    """The PRAG concept-note grid: every sub-criterion 1–5, total 50, pass at 30."""
    return {
        "sections": [
            {"id": "relevance", "label": "Relevance of the action", "threshold": None},
            {"id": "design", "label": "Design of the action", "threshold": None},
        ],
        "criteria": [
            _criterion("1.1", "Fit to the call's objectives and priorities", "relevance", 2),
            _criterion("1.2", "Fit to the needs of the target countries", "relevance", 2),
            _criterion("1.3", "Target groups and final beneficiaries", "relevance"),
            _criterion("1.4", "Added value (gender, environment, climate)", "relevance"),
            _criterion("2.1", "Coherence of the overall design", "design", 2),
            _criterion("2.2", "Feasibility and consistency", "design", 2),
        ],
        "pass_mark": "30",
    }


def prag_full_application_grid(pass_mark: int = 50) -> dict[str, Any]:
    """The PRAG full-application grid, total 100; capacity below 12/20 is eliminatory."""
    return {
        "sections": [
            {"id": "capacity", "label": "Financial and operational capacity", "threshold": "12"},
            {"id": "relevance", "label": "Relevance of the action", "threshold": None},
            {"id": "effectiveness", "label": "Effectiveness and feasibility", "threshold": None},
            {"id": "sustainability", "label": "Sustainability", "threshold": None},
            {"id": "budget", "label": "Budget and cost-effectiveness", "threshold": None},
        ],
        "criteria": [
            _criterion("1.1", "Experience of project management", "capacity"),
            _criterion("1.2", "Technical expertise", "capacity"),
            _criterion("1.3", "Management capacity (staff, equipment)", "capacity"),
            _criterion("1.4", "Stable and sufficient sources of finance", "capacity"),
            _criterion("2.1", "Relevance to the call's objectives and priorities", "relevance", 2),
            _criterion("2.2", "Relevance to the target countries' needs", "relevance", 2),
            _criterion("2.3", "Target groups and stakeholders", "relevance"),
            _criterion("2.4", "Added value (gender, climate, innovation)", "relevance"),
            _criterion("3.1", "Activities appropriate and consistent", "effectiveness"),
            _criterion("3.2", "Action plan clear and feasible", "effectiveness"),
            _criterion("3.3", "Verifiable indicators", "effectiveness"),
            _criterion("3.4", "Involvement of partners", "effectiveness"),
            _criterion("4.1", "Tangible impact on target groups", "sustainability"),
            _criterion("4.2", "Multiplier effects", "sustainability"),
            _criterion("4.3", "Sustainability of results", "sustainability"),
            _criterion("5.1", "Costs in proportion to expected results", "budget"),
            _criterion("5.2", "Expenditure necessary for the action", "budget", 2),
        ],
        "pass_mark": str(pass_mark),
    }
