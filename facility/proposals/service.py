"""Proposals: idempotent creation, optimistic editing, transitions, receipts and history."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified
from sqlalchemy.orm.exc import StaleDataError

from facility import lifecycle
from facility.audit.models import AuditEvent
from facility.audit.repository import AuditRepository
from facility.audit.views import HistoryEntry, view_for
from facility.calls.models import Call
from facility.calls.repository import CallRepository
from facility.errors import (
    Conflict,
    DeclarationRequired,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from facility.evaluation.models import Assignment
from facility.identity.models import Organisation
from facility.ids import new_id
from facility.lifecycle import Actor, EffectContext
from facility.proposals.content import canonical_content, canonical_json, sha256_of
from facility.proposals.models import IdempotencyKey, Proposal, ProposalSubmission
from facility.proposals.repository import ProposalRepository
from workflows.proposal import CONCEPT_NOTE, FULL_APPLICATION


class IdempotencyKeyReused(InvalidInput):
    slug = "idempotency-key-reused"
    title = "The Idempotency-Key was used for a different request"


# What the concept note was assessed on may not change in the full application (PRAG).
LOCKED_AFTER_CONCEPT_NOTE = (
    "title", "summary", "primary_priority", "secondary_priorities", "country_shares",
)  # fmt: skip


def _full_application_problems(proposal: Proposal, changes: Mapping[str, Any]) -> list[FieldError]:
    if proposal.concept_note_amount is None:
        return []
    errors = [
        FieldError((name,), "Locked: the concept note was assessed on it", "locked")
        for name in LOCKED_AFTER_CONCEPT_NOTE
        if name in changes
        and canonical_json(changes[name]) != canonical_json(getattr(proposal, name))
    ]
    amount = changes.get("requested_amount")
    if amount is not None:
        low = (proposal.concept_note_amount * Decimal("0.8")).quantize(Decimal("0.01"))
        high = (proposal.concept_note_amount * Decimal("1.2")).quantize(Decimal("0.01"))
        if not low <= amount <= high:
            errors.append(
                FieldError(
                    ("requested_amount",),
                    f"Must stay within 20 % of the concept note's amount ({low}–{high})",
                    "out_of_range",
                )
            )
    return errors


def _draft_problems(fields: Mapping[str, Any]) -> list[FieldError]:
    errors = []
    requested, total = fields.get("requested_amount"), fields.get("total_budget")
    if requested is not None and total is not None and requested > total:
        errors.append(
            FieldError(("requested_amount",), "The requested amount cannot exceed the total budget")
        )
    primary = fields.get("primary_priority")
    if primary is not None and primary in (fields.get("secondary_priorities") or []):
        errors.append(
            FieldError(
                ("secondary_priorities",),
                "The primary priority cannot also be a secondary priority",
            )
        )
    return errors


def _call_open_for_drafting(call: Call, now: datetime) -> None:
    if call.status != "published":
        raise Conflict(f"The call is {call.status} and does not take new proposals")
    if now < call.opens_at:
        raise Conflict(f"The call opens at {call.opens_at.isoformat()}")
    if call.closes_at is not None and now.replace(microsecond=0) > call.closes_at.replace(
        microsecond=0
    ):  # to the second, as submissions are judged
        raise Conflict(f"The call closed at {call.closes_at.isoformat()}")


async def _claim_idempotency_key(
    session: AsyncSession, user_id: uuid.UUID, key: str, request_hash: str, now: datetime
) -> IdempotencyKey | None:
    """Insert the key, or return the row of an earlier request with it.

    ``INSERT .. ON CONFLICT DO NOTHING`` makes the database pick one winner: on PostgreSQL a
    concurrent duplicate waits for the first transaction and then sees its committed row.
    """
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = (
        insert(IdempotencyKey)
        .values(id=new_id(), user_id=user_id, key=key, request_hash=request_hash, created_at=now)
        .on_conflict_do_nothing(index_elements=["user_id", "key"])
        .returning(IdempotencyKey.id)
    )
    claimed = (await session.execute(stmt)).scalar_one_or_none()
    if claimed is not None:
        return None
    existing = await ProposalRepository(session).idempotency_key(user_id, key)
    assert existing is not None
    return existing


async def create_proposal(
    session: AsyncSession,
    actor: Actor,
    call_id: uuid.UUID,
    fields: Mapping[str, Any],
    *,
    idempotency_key: str | None,
    now: datetime,
) -> tuple[Proposal, bool]:
    """Create a draft; returns the proposal and whether it is a replay of an earlier request."""
    if actor.role != "applicant" or actor.organisation_id is None or actor.id is None:
        raise Forbidden("Only applicant organisations draft proposals")
    call = await CallRepository(session).get(call_id, include_drafts=False)
    if call is None:
        raise NotFound("No such call")

    if idempotency_key is not None:
        request_hash = sha256_of({"call_id": str(call_id), "body": fields})
        earlier = await _claim_idempotency_key(
            session, actor.id, idempotency_key, request_hash, now
        )
        if earlier is not None:
            if earlier.request_hash != request_hash:
                raise IdempotencyKeyReused(
                    [FieldError(("header", "Idempotency-Key"),
                                "This key was already used with a different request body")]
                )  # fmt: skip
            if earlier.proposal_id is None:
                raise Conflict("A request with this Idempotency-Key is still being processed")
            replay = await ProposalRepository(session).get(earlier.proposal_id, actor)
            if replay is None:
                raise NotFound("No such proposal")
            return replay, True

    _call_open_for_drafting(call, now)
    errors = _draft_problems(fields)
    if errors:
        raise InvalidInput(errors)
    stage = CONCEPT_NOTE if call.stages == "two_stage" else FULL_APPLICATION
    proposal = Proposal(
        call_id=call.id,
        organisation_id=actor.organisation_id,
        created_by_id=actor.id,
        stage=stage,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(proposal)
    await session.flush()
    if idempotency_key is not None:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.user_id == actor.id, IdempotencyKey.key == idempotency_key)
            .values(proposal_id=proposal.id)
        )
    await lifecycle.record(
        session, subject_type="proposal", subject_id=proposal.id, event="proposal.created",
        actor=actor, now=now, payload={"stage": stage},
    )  # fmt: skip
    return proposal, False


async def get_proposal(
    session: AsyncSession, actor: Actor, proposal_id: uuid.UUID, *, lock: bool = False
) -> Proposal:
    proposal = await ProposalRepository(session).get(proposal_id, actor, lock=lock)
    if proposal is None:
        if actor.role == "evaluator" and await _undeclared(session, actor, proposal_id):
            raise DeclarationRequired(
                "Declare impartiality and confidentiality for this assignment before reading "
                "the proposal: POST /api/v1/assignments/{id}/declaration"
            )
        raise NotFound("No such proposal")
    return proposal


async def _undeclared(session: AsyncSession, actor: Actor, proposal_id: uuid.UUID) -> bool:
    stmt = (
        select(Assignment.id)
        .join(Proposal, Proposal.id == Assignment.proposal_id)
        .where(
            Assignment.proposal_id == proposal_id,
            Assignment.evaluator_id == actor.id,
            Assignment.stage == Proposal.stage,
            Assignment.status == "assigned",
        )
    )
    return (await session.execute(stmt)).first() is not None


def touch(proposal: Proposal, now: datetime) -> None:
    """Record a change to the proposal's representation (e.g. its files): the next flush
    bumps the version, so its ETag changes even if the timestamp does not."""
    proposal.updated_at = now
    flag_modified(proposal, "updated_at")


def ensure_editable(proposal: Proposal) -> None:
    if not lifecycle.is_editable(proposal):
        raise Conflict(
            f"The proposal is {proposal.status} and can no longer be edited",
            state=proposal.status,
        )


async def update_proposal(
    session: AsyncSession,
    actor: Actor,
    proposal_id: uuid.UUID,
    changes: Mapping[str, Any],
    *,
    expected_version: int,
    now: datetime,
) -> Proposal:
    proposal = await get_proposal(session, actor, proposal_id, lock=True)
    if actor.role != "applicant":
        raise Forbidden("Only the applicant edits a proposal")
    if proposal.version != expected_version:
        raise PreconditionFailed(
            "The proposal has changed since you read it; fetch it again", version=proposal.version
        )
    ensure_editable(proposal)
    merged = {
        "primary_priority": proposal.primary_priority,
        "secondary_priorities": proposal.secondary_priorities,
        "requested_amount": proposal.requested_amount,
        "total_budget": proposal.total_budget,
        **changes,
    }
    errors = _draft_problems(merged) + _full_application_problems(proposal, changes)
    if errors:
        raise InvalidInput(errors)
    changed = sorted(k for k, v in changes.items() if getattr(proposal, k) != v)
    for name in changed:
        setattr(proposal, name, changes[name])
    if changed:
        proposal.updated_at = now
        try:
            await session.flush()
        except StaleDataError as exc:
            raise PreconditionFailed("The proposal has changed since you read it") from exc
        await lifecycle.record(
            session, subject_type="proposal", subject_id=proposal.id, event="proposal.updated",
            actor=actor, now=now, payload={"fields": changed}, applicant_visible=("fields",),
        )  # fmt: skip
    return proposal


FactProvider = Callable[[AsyncSession, Proposal], Awaitable[dict[str, Any]]]
_fact_providers: dict[str, list[FactProvider]] = defaultdict(list)


def facts_for(*triggers: str) -> Callable[[FactProvider], FactProvider]:
    """Register what a trigger's guards need to read besides the proposal (other domain
    areas register theirs, e.g. the screening for pass_screening)."""

    def register(fn: FactProvider) -> FactProvider:
        for trigger in triggers:
            _fact_providers[trigger].append(fn)
        return fn

    return register


async def guard_facts(session: AsyncSession, proposal: Proposal, trigger: str) -> dict[str, Any]:
    """What the proposal workflow's guards read besides the proposal itself."""
    call = await session.get(Call, proposal.call_id)
    assert call is not None
    facts: dict[str, Any] = {"call": lifecycle.snapshot(call)}
    for provider in _fact_providers[trigger]:
        facts.update(await provider(session, proposal))
    return facts


@facts_for("submit", "start_screening")
async def _applicant_facts(session: AsyncSession, proposal: Proposal) -> dict[str, Any]:
    org = await session.get(Organisation, proposal.organisation_id)
    assert org is not None
    attachments = await ProposalRepository(session).attachments(proposal.id)
    return {
        "organisation": {"iati_type": org.iati_type, "country": org.country},
        "attachment_kinds": {a.kind for a in attachments if a.stage == proposal.stage},
    }


async def transition_proposal(
    session: AsyncSession,
    actor: Actor,
    proposal_id: uuid.UUID,
    trigger: str,
    *,
    payload: Mapping[str, Any],
    comment: str | None,
    now: datetime,
) -> tuple[Proposal, AuditEvent]:
    proposal = await get_proposal(session, actor, proposal_id, lock=True)
    if trigger in ("award", "promote") and payload.get("amount") is None:
        payload = {**payload, "amount": proposal.requested_amount}  # the request, by default
    facts = await guard_facts(session, proposal, trigger)
    event = await lifecycle.fire(
        session, proposal, trigger, actor, now=now, payload=payload, comment=comment, facts=facts
    )
    return proposal, event


async def history(
    session: AsyncSession, actor: Actor, proposal_id: uuid.UUID
) -> list[HistoryEntry]:
    """The proposal's timeline, as the caller may see it."""
    proposal = await get_proposal(session, actor, proposal_id)
    events = await AuditRepository(session).timeline("proposal", proposal.id)
    return view_for(actor.role, events)


async def submissions(
    session: AsyncSession, actor: Actor, proposal_id: uuid.UUID
) -> list[ProposalSubmission]:
    proposal = await get_proposal(session, actor, proposal_id)
    return await ProposalRepository(session).submissions(proposal.id)


@lifecycle.effect("proposal", "assign_reference")
async def _assign_reference(ctx: EffectContext) -> None:
    """Number submissions per call without gaps: the counter lives on the call row and is
    bumped in the submitting transaction, so a rollback gives the number back.

    The guards read the call without a lock; the UPDATE re-checks its status, so a call
    closed or cancelled by a concurrent request cannot take a submission after all."""
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    invited = proposal.stage == FULL_APPLICATION and proposal.full_application_due_at is not None
    accepting = ("published", "closed") if invited else ("published",)
    numbered = proposal.reference is not None  # full application after a concept note
    row = (
        await ctx.session.execute(
            update(Call)
            .where(Call.id == proposal.call_id, Call.status.in_(accepting))
            .values(submission_seq=Call.submission_seq + (0 if numbered else 1))
            .returning(Call.submission_seq, Call.reference)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        raise Conflict("The call stopped accepting submissions while this one was being made")
    if not numbered:
        proposal.sequence = row.submission_seq
        proposal.reference = f"{row.reference}-{row.submission_seq:04d}"


@lifecycle.effect("proposal", "record_submission")
async def _record_submission(ctx: EffectContext) -> None:
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    assert proposal.reference is not None
    assert ctx.actor.id is not None
    attachments = await ProposalRepository(ctx.session).attachments(proposal.id)
    content = canonical_content(proposal, ctx.facts["call"]["reference"], attachments)
    digest = sha256_of(content)
    proposal.submitted_at = ctx.now
    proposal.content_hash = digest
    proposal.updated_at = ctx.now
    ctx.session.add(
        ProposalSubmission(
            proposal_id=proposal.id,
            stage=proposal.stage,
            reference=proposal.reference,
            submitted_at=ctx.now,
            submitted_by_id=ctx.actor.id,
            content_hash=digest,
            content=content,
        )
    )
    ctx.event_payload.update(
        reference=proposal.reference,
        stage=proposal.stage,
        submitted_at=ctx.now,
        content_hash=digest,
    )


@lifecycle.effect("proposal", "open_full_application_stage")
async def _open_full_application_stage(ctx: EffectContext) -> None:
    """The concept note stays frozen in its submission; the proposal becomes a draft full
    application with its own deadline and the concept note's amount as the ±20 % anchor."""
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    proposal.concept_note_amount = proposal.requested_amount
    proposal.stage = FULL_APPLICATION
    proposal.full_application_due_at = ctx.payload["full_application_due_at"]
    proposal.submitted_at = None
    proposal.content_hash = None
    proposal.updated_at = ctx.now
