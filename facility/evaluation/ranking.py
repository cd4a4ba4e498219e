"""Ranking a call's evaluated proposals, and the cut line.

Order: consolidated total, highest first; ties by the "relevance" section's score (when the
grid has one), then by the earlier submission, then by proposal id, so the order never
depends on the database. At the concept-note stage of a two-stage call the cut falls where
the cumulative requested amounts would exceed 200 % of the envelope (PRAG); otherwise at
100 % of the envelope (what the budget can fund, for the award decisions).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from facility.calls.models import Call
from facility.evaluation.models import EvaluationResult
from facility.proposals.models import Proposal, ProposalSubmission
from workflows.proposal import CONCEPT_NOTE

TIE_BREAK_SECTION = "relevance"
SHORTLIST_PERCENT = 200


@dataclass(frozen=True)
class Row:
    rank: int
    proposal: Proposal
    result: EvaluationResult
    submitted_at: datetime
    requested_amount: Decimal
    cumulative_requested: Decimal
    within_cut: bool


@dataclass(frozen=True)
class Ranking:
    call: Call
    stage: str
    cut_percent: int
    cut_amount: Decimal
    rows: list[Row]

    def row_for(self, proposal_id: uuid.UUID) -> Row | None:
        return next((r for r in self.rows if r.proposal.id == proposal_id), None)


def cut_percent(call: Call, stage: str) -> int:
    return SHORTLIST_PERCENT if call.stages == "two_stage" and stage == CONCEPT_NOTE else 100


def rank(
    call: Call, stage: str, inputs: Sequence[tuple[Proposal, EvaluationResult, ProposalSubmission]]
) -> Ranking:
    def key(item: tuple[Proposal, EvaluationResult, ProposalSubmission]) -> tuple[object, ...]:
        proposal, result, submission = item
        relevance = Decimal(result.section_scores.get(TIE_BREAK_SECTION, "0"))
        return (-result.total, -relevance, submission.submitted_at, proposal.id)

    percent = cut_percent(call, stage)
    limit = call.budget_envelope * percent / 100
    rows: list[Row] = []
    cumulative = Decimal("0.00")
    inside = True
    for position, (proposal, result, submission) in enumerate(sorted(inputs, key=key), start=1):
        amount = Decimal(submission.content["requested_amount"])
        cumulative += amount
        inside = inside and cumulative <= limit  # a cut line: nothing below it is inside
        rows.append(
            Row(position, proposal, result, submission.submitted_at, amount, cumulative, inside)
        )
    return Ranking(call, stage, percent, limit.quantize(Decimal("0.01")), rows)
