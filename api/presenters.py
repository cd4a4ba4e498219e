"""Turn domain objects into response schemas (the only place that knows both shapes)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from api.schemas.calls import CallOut, GridOut
from api.schemas.evaluation import (
    AssignmentOut,
    AssignmentStaffOut,
    EvaluationOut,
    EvaluatorRefOut,
    RankingOut,
    RankingRowOut,
)
from api.schemas.grants import GrantOut, PaymentOut, ReportAttachmentOut, ReportOut
from api.schemas.proposals import (
    PROPOSAL_TRIGGERS,
    AttachmentOut,
    HistoryActorOut,
    HistoryEntryOut,
    ProposalOut,
    ReceiptOut,
)
from api.schemas.screening import ScreeningOut
from facility import lifecycle
from facility.attachments.models import Attachment
from facility.audit.views import HistoryEntry
from facility.calls.grids import section_maxima, total_max
from facility.calls.models import Call
from facility.evaluation.models import Assignment, Evaluation
from facility.evaluation.ranking import Ranking
from facility.grants.models import Grant, Payment, Report, ReportAttachment
from facility.grants.service import is_overdue
from facility.identity.models import User
from facility.lifecycle import Actor
from facility.proposals.models import Proposal
from facility.screening.models import Screening


def grid_out(grid: dict[str, Any] | None) -> GridOut | None:
    if grid is None:
        return None
    maxima = section_maxima(grid)
    return GridOut.model_validate(
        {
            "sections": [{**s, "max_points": maxima[s["id"]]} for s in grid["sections"]],
            "criteria": grid["criteria"],
            "pass_mark": Decimal(str(grid["pass_mark"])),
            "max_points": total_max(grid),
        }
    )


def accepting_submissions(call: Call, now: datetime) -> bool:
    return (
        call.status == "published"
        and call.opens_at <= now
        and (call.closes_at is None or now.replace(microsecond=0) <= call.closes_at)
    )


def call_out(call: Call, role: str | None, now: datetime) -> CallOut:
    fields = {name: getattr(call, name) for name in CallOut.model_fields if hasattr(call, name)}
    fields.update(
        concept_note_grid=grid_out(call.concept_note_grid),
        evaluation_grid=grid_out(call.evaluation_grid),
        accepting_submissions=accepting_submissions(call, now),
        remaining_envelope=call.budget_envelope - call.committed_amount,
        available_transitions=lifecycle.available_triggers(call, role) if role else [],
    )
    return CallOut.model_validate(fields)


def proposal_out(proposal: Proposal, attachments: list[Attachment], actor: Actor) -> ProposalOut:
    fields = {n: getattr(proposal, n) for n in ProposalOut.model_fields if hasattr(proposal, n)}
    receipt = None
    if proposal.submitted_at is not None and proposal.reference and proposal.content_hash:
        receipt = ReceiptOut(
            reference=proposal.reference,
            stage=proposal.stage,
            submitted_at=proposal.submitted_at,
            content_hash=proposal.content_hash,
        )
    fields.update(
        editable=lifecycle.is_editable(proposal),
        receipt=receipt,
        attachments=[AttachmentOut.model_validate(a) for a in attachments],
        available_transitions=[
            t for t in lifecycle.available_triggers(proposal, actor.role) if t in PROPOSAL_TRIGGERS
        ],
    )
    return ProposalOut.model_validate(fields)


def history_out(entry: HistoryEntry) -> HistoryEntryOut:
    e = entry.event
    return HistoryEntryOut(
        id=e.id,
        event=e.event,
        trigger=e.trigger,
        from_state=e.from_state,
        to_state=e.to_state,
        occurred_at=e.occurred_at,
        actor=HistoryActorOut(role=e.actor_role, id=entry.actor_id),
        comment=entry.comment,
        payload=entry.payload,
    )


def screening_out(proposal: Proposal, screening: Screening) -> ScreeningOut:
    blocking = [
        f"automatic check {c['id']} failed" for c in screening.automatic_checks if not c["passed"]
    ]
    for item in screening.checklist:
        if item.get("passed") is None:
            blocking.append(f"{item['id']}: no result yet")
        elif item.get("passed") is False and item.get("mandatory"):
            blocking.append(f"{item['id']}: mandatory item failed")
    return ScreeningOut(
        proposal_id=str(proposal.id),
        stage=screening.stage,
        status=proposal.status,
        automatic_checks=screening.automatic_checks,
        checklist=screening.checklist,
        started_at=screening.started_at,
        updated_at=screening.updated_at,
        outcome=screening.outcome,
        decided_at=screening.decided_at,
        blocking=blocking,
    )


def assignment_staff_out(
    assignment: Assignment, evaluator: User, now: datetime
) -> AssignmentStaffOut:
    fields = {
        n: getattr(assignment, n) for n in AssignmentStaffOut.model_fields if hasattr(assignment, n)
    }
    fields.update(
        evaluator=EvaluatorRefOut(id=evaluator.id, full_name=evaluator.full_name),
        overdue=_overdue(assignment, now),
    )
    return AssignmentStaffOut.model_validate(fields)


def _overdue(assignment: Assignment, now: datetime) -> bool:
    return assignment.status in ("assigned", "active") and assignment.due_at < now


def assignment_out(
    assignment: Assignment, proposal: Proposal, call: Call, role: str, now: datetime
) -> AssignmentOut:
    declared = assignment.status in ("active", "submitted")
    return AssignmentOut(
        id=assignment.id,
        proposal_id=proposal.id,
        proposal_reference=proposal.reference,
        proposal_title=proposal.title if declared else None,
        call_id=call.id,
        call_reference=call.reference,
        stage=assignment.stage,
        status=assignment.status,
        is_arbitration=assignment.is_arbitration,
        due_at=assignment.due_at,
        overdue=_overdue(assignment, now),
        declared_at=assignment.declared_at,
        submitted_at=assignment.submitted_at,
        available_transitions=lifecycle.available_triggers(assignment, role),
    )


def evaluation_out(
    assignment: Assignment, evaluation: Evaluation | None, missing: list[str]
) -> EvaluationOut:
    empty: dict[str, object] = {"scores": {}, "section_comments": {}, "section_scores": {}}
    fields = {
        n: getattr(evaluation, n) for n in EvaluationOut.model_fields if hasattr(evaluation, n)
    }
    return EvaluationOut.model_validate(
        {**{n: None for n in EvaluationOut.model_fields}, **empty, **fields,
         "assignment_id": assignment.id, "status": assignment.status, "missing": missing}
    )  # fmt: skip


def ranking_out(ranked: Ranking) -> RankingOut:
    inside = [r.rank for r in ranked.rows if r.within_cut]
    return RankingOut(
        call_id=ranked.call.id,
        stage=ranked.stage,
        currency=ranked.call.currency,
        budget_envelope=ranked.call.budget_envelope,
        cut_percent=ranked.cut_percent,
        cut_amount=ranked.cut_amount,
        cut_after_rank=max(inside) if inside else None,
        rows=[
            RankingRowOut(
                rank=r.rank,
                proposal_id=r.proposal.id,
                reference=r.proposal.reference,
                title=r.proposal.title,
                organisation_id=r.proposal.organisation_id,
                status=r.proposal.status,
                section_scores={k: Decimal(v) for k, v in r.result.section_scores.items()},
                total=r.result.total,
                gender_marker=r.result.gender_marker,
                climate_adaptation_marker=r.result.climate_adaptation_marker,
                climate_mitigation_marker=r.result.climate_mitigation_marker,
                requested_amount=r.requested_amount,
                cumulative_requested=r.cumulative_requested,
                within_cut=r.within_cut,
                submitted_at=r.submitted_at,
            )
            for r in ranked.rows
        ],
    )


def grant_out(grant: Grant, role: str) -> GrantOut:
    fields = {n: getattr(grant, n) for n in GrantOut.model_fields if hasattr(grant, n)}
    fields["available_transitions"] = lifecycle.available_triggers(grant, role)
    return GrantOut.model_validate(fields)


def report_out(
    report: Report, attachments: list[ReportAttachment], role: str, now: datetime, grant: Grant
) -> ReportOut:
    fields = {n: getattr(report, n) for n in ReportOut.model_fields if hasattr(report, n)}
    fields.update(
        overdue=is_overdue(report, now, grant.status),
        attachments=[ReportAttachmentOut.model_validate(a) for a in attachments],
        available_transitions=lifecycle.available_triggers(report, role),
        indicator_progress=[
            {"women": None, "men": None, "comment": None, **p} for p in report.indicator_progress
        ],
    )
    return ReportOut.model_validate(fields)


def payment_out(payment: Payment, role: str) -> PaymentOut:
    fields = {n: getattr(payment, n) for n in PaymentOut.model_fields if hasattr(payment, n)}
    fields["available_transitions"] = lifecycle.available_triggers(payment, role)
    return PaymentOut.model_validate(fields)
