"""Turn domain objects into response schemas (the only place that knows both shapes)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from api.schemas.calls import CallOut, GridOut
from api.schemas.proposals import (
    PROPOSAL_TRIGGERS,
    AttachmentOut,
    HistoryActorOut,
    HistoryEntryOut,
    ProposalOut,
    ReceiptOut,
)
from facility import lifecycle
from facility.attachments.models import Attachment
from facility.audit.views import HistoryEntry
from facility.calls.grids import section_maxima, total_max
from facility.calls.models import Call
from facility.lifecycle import Actor
from facility.proposals.models import Proposal


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
