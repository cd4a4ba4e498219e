"""Scores, exactly. Pure functions over the call's grid (see calls/grids.py).

Rounding, documented once:
- an evaluation's section subtotal is Σ score × weight over the section's criteria, and its
  total the sum of its subtotals: exact, since scores are integers and weights have at most
  two decimals;
- a consolidated section score is the arithmetic mean of the evaluations' subtotals, and the
  consolidated total the mean of their totals, each rounded half up to two decimals
  (ROUND_HALF_UP); thresholds and the pass mark are compared with these rounded values;
- a consolidated marker (gender, climate adaptation, climate mitigation) is the median of
  the evaluators' markers, rounded down when it falls between two values (no over-claiming).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from facility.calls.grids import Grid, total_max
from facility.errors import FieldError

CENT = Decimal("0.01")
MARKERS = ("gender_marker", "climate_adaptation_marker", "climate_mitigation_marker")
JUSTIFICATIONS = {
    "gender_marker": "gender_justification",
    "climate_adaptation_marker": "climate_adaptation_justification",
    "climate_mitigation_marker": "climate_mitigation_justification",
}
FINAL_TEXT_FIELDS = ("strengths", "weaknesses", "recommendation")


@dataclass(frozen=True)
class Weighted:
    sections: dict[str, Decimal]
    total: Decimal


def weighted(grid: Grid, scores: Mapping[str, int]) -> Weighted:
    sections = {s["id"]: Decimal(0) for s in grid["sections"]}
    for c in grid["criteria"]:
        score = scores.get(c["id"])
        if score is not None:
            sections[c["section"]] += Decimal(score) * Decimal(str(c["weight"]))
    exact = {k: v.quantize(CENT) for k, v in sections.items()}
    return Weighted(exact, sum(exact.values(), Decimal(0)).quantize(CENT))


def evaluation_problems(grid: Grid, ev: Mapping[str, Any], *, final: bool) -> list[FieldError]:
    """What is wrong with an evaluation; with ``final`` also what is missing. All at once."""
    errors: list[FieldError] = []
    criteria = {c["id"]: c for c in grid["criteria"]}
    sections = {s["id"]: s for s in grid["sections"]}
    scores: Mapping[str, int] = ev.get("scores") or {}
    for cid, score in scores.items():
        c = criteria.get(cid)
        if c is None:
            errors.append(
                FieldError(("scores", cid), f"The grid has no criterion {cid!r}", "unknown")
            )
        elif not c["min_score"] <= score <= c["max_score"]:
            errors.append(
                FieldError(
                    ("scores", cid),
                    f"Criterion {cid} is scored {c['min_score']}–{c['max_score']}, not {score}",
                    "out_of_range",
                )
            )
    comments: Mapping[str, str] = ev.get("section_comments") or {}
    for sid in comments:
        if sid not in sections:
            errors.append(
                FieldError(("section_comments", sid), f"The grid has no section {sid!r}", "unknown")
            )
    if not final:
        return errors
    for cid in criteria:
        if cid not in scores:
            errors.append(FieldError(("scores", cid), f"Criterion {cid} has no score", "required"))
    for sid in sections:
        if not (comments.get(sid) or "").strip():
            errors.append(
                FieldError(
                    ("section_comments", sid), f"Section {sid!r} needs a comment", "required"
                )
            )
    for marker in MARKERS:
        if ev.get(marker) is None:
            errors.append(FieldError((marker,), f"{marker} is required", "required"))
        if not (ev.get(JUSTIFICATIONS[marker]) or "").strip():
            errors.append(
                FieldError((JUSTIFICATIONS[marker],), "A justification is required", "required")
            )
    if ev.get("primary_priority_confirmed") is None:
        errors.append(
            FieldError(("primary_priority_confirmed",), "Confirm the primary priority", "required")
        )
    for name in FINAL_TEXT_FIELDS:
        if not (ev.get(name) or "").strip():
            errors.append(FieldError((name,), f"{name} is required", "required"))
    return errors


def mean(values: Sequence[Decimal]) -> Decimal:
    return (sum(values, Decimal(0)) / len(values)).quantize(CENT, rounding=ROUND_HALF_UP)


def median_rounded_down(values: Sequence[int]) -> int:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) // 2


def divergence_limit(grid: Grid, threshold_pct: Decimal) -> Decimal:
    """The largest allowed spread of totals, in points of this grid."""
    return (total_max(grid) * threshold_pct / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def spread(totals: Sequence[Decimal]) -> Decimal:
    return max(totals) - min(totals)


@dataclass(frozen=True)
class Consolidated:
    sections: dict[str, Decimal]
    total: Decimal
    markers: dict[str, int]
    spread: Decimal
    count: int
    reasons: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # section id → label
    # The same as ``reasons``, as data, so each message can say it in its own language.
    failures: list[dict[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.reasons

    def breakdown(self) -> dict[str, Any]:
        """The score breakdown an applicant is given (no evaluator identities)."""
        return {
            "sections": {k: str(v) for k, v in self.sections.items()},
            "total": str(self.total),
            "markers": dict(self.markers),
            "labels": dict(self.labels),
        }


@dataclass(frozen=True)
class Submitted:
    """What consolidation needs of one submitted evaluation."""

    sections: Mapping[str, Decimal]
    total: Decimal
    markers: Mapping[str, int]


def consolidate(grid: Grid, evaluations: Sequence[Submitted]) -> Consolidated:
    if not evaluations:
        raise ValueError("nothing to consolidate")
    sections = {s["id"]: mean([e.sections[s["id"]] for e in evaluations]) for s in grid["sections"]}
    total = mean([e.total for e in evaluations])
    markers = {m: median_rounded_down([e.markers[m] for e in evaluations]) for m in MARKERS}
    reasons, failures = [], []
    for s in grid["sections"]:
        threshold = s.get("threshold")
        if threshold is not None and sections[s["id"]] < Decimal(str(threshold)):
            limit = Decimal(str(threshold)).quantize(CENT)
            reasons.append(
                f"{s['label']}: {sections[s['id']]} is below the section threshold {limit}"
            )
            failures.append({"kind": "section", "section": s["id"], "label": s["label"],
                             "score": str(sections[s["id"]]), "threshold": str(limit)})  # fmt: skip
    pass_mark = Decimal(str(grid["pass_mark"])).quantize(CENT)
    if total < pass_mark:
        reasons.append(f"The total score {total} is below the pass mark {pass_mark}")
        failures.append({"kind": "total", "total": str(total), "pass_mark": str(pass_mark)})
    return Consolidated(
        sections=sections,
        total=total,
        markers=markers,
        spread=spread([e.total for e in evaluations]),
        count=len(evaluations),
        reasons=reasons,
        labels={s["id"]: s["label"] for s in grid["sections"]},
        failures=failures,
    )
