"""Award decisions: the plan, the envelope, the reserve list and promotion."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from facility import lifecycle
from facility.awards import envelope
from facility.calls.models import Call
from facility.calls.repository import CallRepository
from facility.errors import NotFound
from facility.evaluation.ranking import Row
from facility.evaluation.service import call_ranking
from facility.grants.service import grant_of_proposal, open_grant
from facility.lifecycle import SYSTEM_ACTOR, EffectContext
from facility.proposals.models import Proposal
from facility.proposals.service import facts_for, guard_facts
from workflows.proposal import FULL_APPLICATION

RESERVE_RELEASED = (
    "The call is finalised: the reserve list is closed and no more money will be freed."
)


@dataclass(frozen=True)
class PlanRow:
    row: Row
    action: str  # award | reserve | promote | keep_on_reserve | none
    remaining_after: Decimal


@dataclass(frozen=True)
class AwardPlan:
    call: Call
    remaining_before: Decimal
    rows: list[PlanRow]


async def award_plan(session: AsyncSession, call_id: uuid.UUID) -> AwardPlan:
    """Walk the ranking: award what fits the remaining envelope, reserve what does not.
    Reads only; decisions are taken with the award / place_on_reserve / promote triggers."""
    call = await CallRepository(session).get(call_id, include_drafts=True)
    if call is None:
        raise NotFound("No such call")
    ranked = await call_ranking(session, call, FULL_APPLICATION)
    remaining = call.budget_envelope - call.committed_amount
    rows = []
    for row in ranked.rows:
        status = row.proposal.status
        fits = row.requested_amount <= remaining
        if status == "evaluated":
            action = "award" if fits else "reserve"
        elif status == "reserve":
            action = "promote" if fits else "keep_on_reserve"
        else:
            action = "none"
        if action in ("award", "promote"):
            remaining -= row.requested_amount
        rows.append(PlanRow(row, action, remaining))
    return AwardPlan(call, call.budget_envelope - call.committed_amount, rows)


async def promotion_candidate(session: AsyncSession, call: Call) -> Row | None:
    """The best-ranked reserve proposal whose request fits what is left of the envelope."""
    left = call.budget_envelope - call.committed_amount
    ranked = await call_ranking(session, call, FULL_APPLICATION)
    return next(
        (r for r in ranked.rows if r.proposal.status == "reserve" and r.requested_amount <= left),
        None,
    )


@facts_for("promote")
async def _reserve_facts(session: AsyncSession, proposal: Proposal) -> dict[str, Any]:
    call = await session.get(Call, proposal.call_id)
    assert call is not None
    left = call.budget_envelope - call.committed_amount
    ranked = await call_ranking(session, call, FULL_APPLICATION)
    ahead = []
    for row in ranked.rows:
        if row.proposal.id == proposal.id:
            break
        if row.proposal.status == "reserve" and row.requested_amount <= left:
            ahead.append(row.proposal.reference or str(row.proposal.id))
    return {"reserve_ahead": ahead}


@lifecycle.effect("proposal", "commit_envelope")
async def _commit_envelope(ctx: EffectContext) -> None:
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    left = await envelope.commit(ctx.session, proposal.call_id, ctx.payload["amount"])
    ctx.event_payload["remaining_envelope"] = left
    call = await ctx.session.get(Call, proposal.call_id, populate_existing=True)
    assert call is not None
    # A rolling call stops taking proposals once no grant of the minimum size fits.
    if call.mode == "rolling" and call.status == "published" and left < call.min_grant:
        await lifecycle.fire(
            ctx.session, call, "close", SYSTEM_ACTOR, now=ctx.now,
            payload={"reason": "envelope_exhausted", "remaining_envelope": left},
            comment=f"Remaining envelope {left} is below the minimum grant {call.min_grant}",
        )  # fmt: skip


@lifecycle.effect("proposal", "open_grant")
async def _open_grant(ctx: EffectContext) -> None:
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    call = await ctx.session.get(Call, proposal.call_id)
    assert call is not None
    grant = await open_grant(ctx.session, proposal, ctx.payload["amount"], call.currency, ctx.now)
    ctx.event_payload["grant_id"] = grant.id
    ctx.event_payload["grant_reference"] = grant.reference
    ctx.event_payload["acceptance_period_days"] = call.acceptance_period_days


@lifecycle.effect("proposal", "return_award")
async def _return_award(ctx: EffectContext) -> None:
    """Declined or lapsed before signature: the grant ends and its money goes back."""
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    grant = await grant_of_proposal(ctx.session, proposal.id)
    if grant is None:
        return
    code = "award_lapsed" if ctx.trigger == "lapse" else "award_declined"
    reason = "The award lapsed" if ctx.trigger == "lapse" else "The award was declined"
    await lifecycle.fire(
        ctx.session, grant, "terminate", SYSTEM_ACTOR, now=ctx.now,
        payload={"reason": reason, "reason_code": code},
        facts={"final_report_status": None, "payments": []},
    )  # fmt: skip


@lifecycle.effect("proposal", "propose_promotion")
async def _propose_promotion(ctx: EffectContext) -> None:
    """Money was freed: propose the best-ranked reserve proposal that now fits (or promote it
    at once when the call says so)."""
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    call = await ctx.session.get(Call, proposal.call_id, populate_existing=True)
    assert call is not None
    if call.status not in ("published", "closed"):  # cancelled or finalised: no more awards
        ctx.event_payload["promotion_candidate"] = None
        return
    candidate = await promotion_candidate(ctx.session, call)
    if candidate is None:
        ctx.event_payload["promotion_candidate"] = None
        return
    ctx.event_payload["promotion_candidate"] = candidate.proposal.id
    if call.auto_promote:
        promoted = await ctx.session.get(Proposal, candidate.proposal.id, with_for_update=True)
        assert promoted is not None
        facts = await guard_facts(ctx.session, promoted, "promote")
        await lifecycle.fire(
            ctx.session, promoted, "promote", SYSTEM_ACTOR, now=ctx.now,
            payload={"amount": candidate.requested_amount}, facts=facts,
            comment="Promoted automatically from the reserve list",
        )  # fmt: skip
    else:
        await lifecycle.record(
            ctx.session, subject_type="call", subject_id=call.id,
            event="call.promotion_proposed", actor=SYSTEM_ACTOR, now=ctx.now,
            payload={"proposal_id": candidate.proposal.id,
                     "reference": candidate.proposal.reference,
                     "amount": candidate.requested_amount},
            subject=call,
        )  # fmt: skip


@lifecycle.effect("call", "release_reserve_list")
async def _release_reserve_list(ctx: EffectContext) -> None:
    call = ctx.subject
    assert isinstance(call, Call)
    stmt = (
        select(Proposal)
        .where(Proposal.call_id == call.id, Proposal.status == "reserve")
        .order_by(Proposal.id)
        .with_for_update()
    )
    released = []
    for proposal in (await ctx.session.execute(stmt)).scalars():
        facts = await guard_facts(ctx.session, proposal, "release_reserve")
        await lifecycle.fire(
            ctx.session, proposal, "release_reserve", SYSTEM_ACTOR, now=ctx.now,
            payload={"reasons": [RESERVE_RELEASED], "reason_code": "reserve_released"},
            facts=facts,
        )  # fmt: skip
        released.append(proposal.id)
    ctx.event_payload["reserve_released"] = released
