"""Calls: create and edit while draft, then move through the call workflow."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from facility import lifecycle
from facility.calls.models import Call
from facility.calls.repository import CallRepository
from facility.calls.rules import call_problems
from facility.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from facility.lifecycle import Actor, EffectContext
from facility.proposals.models import Proposal

# Everything a fund manager sets on a call; the rest (status, counters, stamps) is the engine's.
SPEC_FIELDS = (
    "reference", "title", "description", "mode", "stages", "currency", "budget_envelope",
    "min_grant", "max_grant", "min_duration_months", "max_duration_months",
    "min_cofinancing_pct", "opens_at", "closes_at", "eligible_countries", "eligible_org_types",
    "priorities", "concept_note_grid", "evaluation_grid", "evaluators_per_proposal",
    "divergence_threshold_pct", "required_attachment_kinds", "concept_note_attachment_kinds",
    "screening_checklist", "evaluation_period_days", "auto_promote", "acceptance_period_days",
)  # fmt: skip


# What a call gets when its creator does not say (the API's schema documents the same).
SPEC_DEFAULTS: dict[str, Any] = {
    "closes_at": None,
    "concept_note_grid": None,
    "required_attachment_kinds": [],
    "concept_note_attachment_kinds": [],
    "screening_checklist": [],
    "evaluation_period_days": 14,
    "auto_promote": False,
    "acceptance_period_days": 30,
}


def spec_of(call: Call) -> dict[str, Any]:
    return {name: getattr(call, name) for name in SPEC_FIELDS}


async def create_call(
    session: AsyncSession, actor: Actor, fields: Mapping[str, Any], now: datetime
) -> Call:
    fields = {**SPEC_DEFAULTS, **fields}
    errors = call_problems(fields)
    if errors:
        raise InvalidInput(errors)
    repo = CallRepository(session)
    if await repo.by_reference(fields["reference"]) is not None:
        raise Conflict(f"A call with reference {fields['reference']!r} already exists")
    assert actor.id is not None
    call = Call(**{k: fields[k] for k in SPEC_FIELDS}, created_by_id=actor.id, created_at=now,
                updated_at=now)  # fmt: skip
    session.add(call)
    await session.flush()
    await lifecycle.record(
        session, subject_type="call", subject_id=call.id, event="call.created", actor=actor,
        now=now,
    )  # fmt: skip
    return call


async def get_call(session: AsyncSession, call_id: uuid.UUID, *, staff: bool) -> Call:
    call = await CallRepository(session).get(call_id, include_drafts=staff)
    if call is None:
        raise NotFound("No such call")
    return call


async def update_call(
    session: AsyncSession,
    actor: Actor,
    call_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    expected_version: int,
    now: datetime,
) -> Call:
    repo = CallRepository(session)
    call = await repo.get(call_id, include_drafts=True, lock=True)
    if call is None:
        raise NotFound("No such call")
    if call.version != expected_version:
        raise PreconditionFailed("The call has changed since you read it", version=call.version)
    if not lifecycle.is_editable(call):
        raise Conflict(
            f"The call is {call.status}: its rules are frozen. Only the deadline can move "
            "(later), with the extend_deadline transition",
            state=call.status,
        )
    merged = {**spec_of(call), **changes}
    errors = call_problems(merged)
    if errors:
        raise InvalidInput(errors)
    new_reference = changes.get("reference", call.reference)
    if new_reference != call.reference and await repo.by_reference(new_reference) is not None:
        raise Conflict(f"A call with reference {changes['reference']!r} already exists")
    changed = sorted(k for k, v in changes.items() if getattr(call, k) != v)
    for name in changed:
        setattr(call, name, changes[name])
    if changed:
        call.updated_at = now
        try:
            await session.flush()
        except StaleDataError as exc:
            raise PreconditionFailed("The call has changed since you read it") from exc
        await lifecycle.record(
            session, subject_type="call", subject_id=call.id, event="call.updated",
            actor=actor, now=now, payload={"fields": changed},
        )  # fmt: skip
    return call


async def transition_call(
    session: AsyncSession,
    actor: Actor,
    call_id: uuid.UUID,
    trigger: str,
    *,
    payload: Mapping[str, Any],
    comment: str | None,
    now: datetime,
) -> Call:
    call = await CallRepository(session).get(call_id, include_drafts=True, lock=True)
    if call is None:
        raise NotFound("No such call")
    facts = {"undecided": await undecided(session, call, now)} if trigger == "finalise" else {}
    await lifecycle.fire(
        session, call, trigger, actor, now=now, payload=payload, comment=comment, facts=facts
    )
    return call


# Proposals that still expect an answer from the facility (a reserve proposal has one: the
# finalisation itself releases the list). An invited full application counts while its own
# deadline has not passed.
WAITING = ("submitted", "screening", "evaluation", "arbitration", "evaluated", "shortlisted")


async def undecided(session: AsyncSession, call: Call, now: datetime) -> dict[str, int]:
    waiting = (
        select(Proposal.status, func.count())
        .where(Proposal.call_id == call.id, Proposal.status.in_(WAITING))
        .group_by(Proposal.status)
    )
    counts = {status: n for status, n in (await session.execute(waiting)).all()}
    invited = select(func.count()).where(
        Proposal.call_id == call.id,
        Proposal.status == "draft",
        Proposal.full_application_due_at >= now,
    )
    if n := (await session.execute(invited)).scalar_one():
        counts["invited to a full application"] = n
    return counts


@lifecycle.effect("call", "stamp_published_at")
async def _stamp_published_at(ctx: EffectContext) -> None:
    assert isinstance(ctx.subject, Call)
    ctx.subject.published_at = ctx.now
    ctx.subject.updated_at = ctx.now


@lifecycle.effect("call", "move_deadline")
async def _move_deadline(ctx: EffectContext) -> None:
    call = ctx.subject
    assert isinstance(call, Call)
    ctx.event_payload["previous_closes_at"] = call.closes_at
    call.closes_at = ctx.payload["closes_at"]
    call.updated_at = ctx.now


@lifecycle.effect("call", "record_closure")
async def _record_closure(ctx: EffectContext) -> None:
    call = ctx.subject
    assert isinstance(call, Call)
    call.closed_reason = str(ctx.payload.get("reason") or "closed by a fund manager")
    call.updated_at = ctx.now
