"""Evaluator profiles, assignments (automatic and by hand), declarations and recusal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from facility import lifecycle
from facility.calls.models import Call
from facility.calls.repository import CallRepository
from facility.errors import (
    Conflict,
    FieldError,
    InvalidInput,
    NotFound,
)
from facility.evaluation import matching
from facility.evaluation.models import Assignment, EvaluatorProfile
from facility.evaluation.repository import COUNTED, OPEN, EvaluationRepository
from facility.identity.models import Organisation, User
from facility.lifecycle import SYSTEM_ACTOR, Actor, EffectContext
from facility.proposals.models import Proposal
from facility.proposals.service import get_proposal

EVALUATING = ("evaluation", "arbitration")


async def save_profile(
    session: AsyncSession, actor: Actor, fields: Mapping[str, Any], now: datetime
) -> EvaluatorProfile:
    assert actor.id is not None
    profile = await EvaluationRepository(session).profile(actor.id)
    if profile is None:
        profile = EvaluatorProfile(user_id=actor.id, updated_at=now, **fields)
        session.add(profile)
    else:
        for name, value in fields.items():
            setattr(profile, name, value)
        profile.updated_at = now
    await session.flush()
    return profile


def as_candidate(user: User, profile: EvaluatorProfile) -> matching.Evaluator:
    return matching.Evaluator(
        id=user.id,
        expertise=frozenset(profile.expertise),
        countries=frozenset(profile.countries),
        affiliations=frozenset(
            matching.normalise_registration(a["country"], a["registration_number"])
            for a in profile.affiliations
            if a.get("country") and a.get("registration_number")
        ),
    )


async def candidates(session: AsyncSession) -> list[matching.Evaluator]:
    """Active evaluators who have declared a profile (affiliations and countries): only they
    can be matched automatically."""
    return [
        as_candidate(user, profile)
        for user, profile in await EvaluationRepository(session).evaluators()
        if user.is_active and profile is not None
    ]


async def applicant_of(session: AsyncSession, proposal: Proposal) -> matching.Applicant:
    org = await session.get(Organisation, proposal.organisation_id)
    assert org is not None
    return matching.Applicant(org.country, org.registration_number, proposal.primary_priority)


async def conflicted_on(session: AsyncSession, proposal_id: uuid.UUID) -> set[uuid.UUID]:
    """Evaluators who declared a conflict of interest on this proposal, at any stage: the
    conflict is about the applicant, not the stage."""
    stmt = select(Assignment.evaluator_id).where(
        Assignment.proposal_id == proposal_id, Assignment.conflict_of_interest.is_(True)
    )
    return set((await session.execute(stmt)).scalars())


def places_missing(proposal: Proposal, call: Call, assignments: list[Assignment]) -> int:
    """How many more evaluators the proposal needs now."""
    held = [a for a in assignments if a.status in COUNTED]
    regular = sum(1 for a in held if not a.is_arbitration)
    if proposal.status == "evaluation":
        return max(call.evaluators_per_proposal - regular, 0)
    if proposal.status == "arbitration":
        return 0 if any(a.is_arbitration for a in held) else 1
    return 0


async def create_assignment(
    session: AsyncSession,
    proposal: Proposal,
    call: Call,
    evaluator_id: uuid.UUID,
    actor: Actor,
    now: datetime,
    *,
    due_at: datetime | None = None,
    justification: str | None = None,
) -> Assignment:
    assignment = Assignment(
        proposal_id=proposal.id,
        call_id=call.id,
        evaluator_id=evaluator_id,
        stage=proposal.stage,
        is_arbitration=proposal.status == "arbitration",
        due_at=due_at or now + timedelta(days=call.evaluation_period_days),
        assigned_by_id=actor.id,
        override_justification=justification,
        created_at=now,
    )
    session.add(assignment)
    await session.flush()
    await lifecycle.record(
        session, subject_type="assignment", subject_id=assignment.id,
        event="assignment.created", actor=actor, now=now,
        payload={"proposal_id": proposal.id, "evaluator_id": evaluator_id,
                 "due_at": assignment.due_at, "is_arbitration": assignment.is_arbitration,
                 "override_justification": justification},
        subject=assignment,
    )  # fmt: skip
    return assignment


@dataclass
class AutoAssignment:
    created: list[Assignment] = field(default_factory=list)
    # Proposals still short of evaluators: no eligible evaluator was left.
    unfilled: dict[uuid.UUID, int] = field(default_factory=dict)


async def auto_assign(
    session: AsyncSession, actor: Actor, call_id: uuid.UUID, now: datetime
) -> AutoAssignment:
    """Give every proposal in evaluation (or arbitration) of the call the evaluators it lacks."""
    call = await CallRepository(session).get(call_id, include_drafts=True, lock=True)
    if call is None:
        raise NotFound("No such call")
    stmt = (
        select(Proposal)
        .where(Proposal.call_id == call.id, Proposal.status.in_(EVALUATING))
        .order_by(Proposal.submitted_at, Proposal.id)
        .with_for_update()
    )
    proposals = list((await session.execute(stmt)).scalars())
    repo = EvaluationRepository(session)
    slots: list[matching.Slot] = []
    by_id = {p.id: p for p in proposals}
    for proposal in proposals:
        assignments = await repo.for_proposal(proposal.id, proposal.stage)
        missing = places_missing(proposal, call, assignments)
        if missing:
            taken = {a.evaluator_id for a in assignments} | await conflicted_on(
                session, proposal.id
            )
            slot = matching.Slot(
                proposal.id, await applicant_of(session, proposal), frozenset(taken)
            )
            slots += [slot] * missing
    outcome = AutoAssignment()
    # The matching is pure CPU work (hundreds of ms on a large call): keep the event loop free.
    pairs = await asyncio.to_thread(
        matching.assign, await candidates(session), await repo.loads(call.id), slots
    )
    for slot, evaluator in pairs:
        outcome.created.append(
            await create_assignment(
                session, by_id[slot.proposal_id], call, evaluator.id, actor, now
            )
        )
    for slot in slots:
        outcome.unfilled[slot.proposal_id] = outcome.unfilled.get(slot.proposal_id, 0) + 1
    for assignment in outcome.created:
        outcome.unfilled[assignment.proposal_id] -= 1
    outcome.unfilled = {pid: n for pid, n in outcome.unfilled.items() if n > 0}
    return outcome


async def assign_by_hand(
    session: AsyncSession,
    actor: Actor,
    proposal_id: uuid.UUID,
    evaluator_id: uuid.UUID,
    *,
    due_at: datetime | None,
    justification: str | None,
    now: datetime,
) -> Assignment:
    proposal = await get_proposal(session, actor, proposal_id, lock=True)
    if proposal.status not in EVALUATING:
        raise Conflict(
            f"The proposal is {proposal.status}, not in evaluation", state=proposal.status
        )
    user = await session.get(User, evaluator_id)
    if user is None or user.role != "evaluator" or not user.is_active:
        raise InvalidInput([FieldError(("evaluator_id",), "Not an active evaluator")])
    if due_at is not None and due_at <= now:
        raise InvalidInput([FieldError(("due_at",), "The due date must be in the future")])
    repo = EvaluationRepository(session)
    for existing in await repo.for_proposal(proposal.id, proposal.stage):
        if existing.evaluator_id == evaluator_id:
            raise Conflict(
                f"This evaluator already has an assignment for this proposal ({existing.status})"
            )
    if evaluator_id in await conflicted_on(session, proposal.id):
        raise Conflict("This evaluator declared a conflict of interest on this proposal")
    profile = await repo.profile(evaluator_id)
    reasons: list[str] = []
    if profile is None:
        reasons.append("the evaluator has not declared a profile (affiliations, countries)")
    else:
        reasons = matching.conflicts(
            as_candidate(user, profile), await applicant_of(session, proposal)
        )
    if reasons and not (justification or "").strip():
        raise Conflict(
            "Assigning this evaluator breaks the conflict rules: "
            + "; ".join(reasons)
            + ". Give a justification to override.",
            conflicts=reasons,
        )
    call = await session.get(Call, proposal.call_id)
    assert call is not None
    return await create_assignment(
        session, proposal, call, evaluator_id, actor, now, due_at=due_at,
        justification=justification.strip() if reasons and justification else None,
    )  # fmt: skip


async def own_assignment(
    session: AsyncSession, actor: Actor, assignment_id: uuid.UUID, *, lock: bool = False
) -> Assignment:
    """An evaluator's own assignment (others' are not found); fund managers see all."""
    assignment = await EvaluationRepository(session).assignment(assignment_id, lock=lock)
    if assignment is None or (actor.role != "fund_manager" and assignment.evaluator_id != actor.id):
        raise NotFound("No such assignment")
    return assignment


async def declare(
    session: AsyncSession,
    actor: Actor,
    assignment_id: uuid.UUID,
    *,
    conflict_of_interest: bool,
    statement: str,
    now: datetime,
) -> Assignment:
    assignment = await own_assignment(session, actor, assignment_id, lock=True)
    trigger = "recuse" if conflict_of_interest else "declare_impartiality"
    await lifecycle.fire(
        session, assignment, trigger, actor, now=now,
        payload={"statement": statement, "conflict_of_interest": conflict_of_interest},
    )  # fmt: skip
    return assignment


async def transition_assignment(
    session: AsyncSession, actor: Actor, assignment_id: uuid.UUID, trigger: str, *,
    comment: str | None, now: datetime,
) -> Assignment:  # fmt: skip
    assignment = await own_assignment(session, actor, assignment_id, lock=True)
    await lifecycle.fire(session, assignment, trigger, actor, now=now, comment=comment)
    return assignment


async def find_evaluator_for(
    session: AsyncSession, proposal: Proposal, actor: Actor, now: datetime
) -> Assignment | None:
    """One more evaluator for a proposal (a replacement, or an arbitrator), if any is free."""
    call = await session.get(Call, proposal.call_id)
    assert call is not None
    repo = EvaluationRepository(session)
    assignments = await repo.for_proposal(proposal.id, proposal.stage)
    if not places_missing(proposal, call, assignments):
        return None
    taken = {a.evaluator_id for a in assignments} | await conflicted_on(session, proposal.id)
    slot = matching.Slot(proposal.id, await applicant_of(session, proposal), frozenset(taken))
    chosen = matching.pick_one(await candidates(session), await repo.loads(call.id), slot)
    if chosen is None:
        return None
    return await create_assignment(session, proposal, call, chosen.id, actor, now)


@lifecycle.effect("assignment", "record_declaration")
async def _record_declaration(ctx: EffectContext) -> None:
    assignment = ctx.subject
    assert isinstance(assignment, Assignment)
    assignment.declared_at = ctx.now
    assignment.conflict_of_interest = ctx.trigger == "recuse"
    assignment.declaration_statement = str(ctx.payload.get("statement") or "").strip()


@lifecycle.effect("assignment", "find_replacement")
async def _find_replacement(ctx: EffectContext) -> None:
    """The recused evaluator's place goes to another (the recusal is already in effect)."""
    assignment = ctx.subject
    assert isinstance(assignment, Assignment)
    proposal = await ctx.session.get(Proposal, assignment.proposal_id, with_for_update=True)
    assert proposal is not None
    replacement = None
    if proposal.status in EVALUATING and proposal.stage == assignment.stage:
        replacement = await find_evaluator_for(ctx.session, proposal, SYSTEM_ACTOR, ctx.now)
    ctx.event_payload["replacement_assignment_id"] = replacement.id if replacement else None


@lifecycle.effect("proposal", "assign_arbitrator")
async def _assign_arbitrator(ctx: EffectContext) -> None:
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    arbitrator = await find_evaluator_for(ctx.session, proposal, SYSTEM_ACTOR, ctx.now)
    # None: nobody eligible is free; a fund manager assigns one by hand.
    ctx.event_payload["arbitration_assignment_id"] = arbitrator.id if arbitrator else None


@lifecycle.effect("proposal", "withdraw_open_assignments")
async def _withdraw_open_assignments(ctx: EffectContext) -> None:
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    for assignment in await EvaluationRepository(ctx.session).for_proposal(proposal.id):
        if assignment.status in OPEN:
            await lifecycle.fire(
                ctx.session, assignment, "withdraw", SYSTEM_ACTOR, now=ctx.now,
                comment="The proposal was withdrawn",
            )  # fmt: skip
