"""Carry out workflow transitions on rows: the only code that changes a ``status``.

One call to :func:`fire` does, inside the caller's transaction: ask the engine (role,
availability, pure guards), move the subject to its new state, run the transition's effects
(which see the new state), write it all with a version check (one winner when two requests
race), append the audit event, and hand the event to subscribers (notifications) so their
rows commit with it or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from facility.audit.models import AuditEvent
from facility.errors import Conflict, FieldError, Forbidden, InvalidInput
from facility.stateful import Stateful, status_writes_allowed
from workflows.engine import NotAvailable, Refused, RoleNotPermitted, UnknownTrigger
from workflows.guards import GuardContext
from workflows.registry import engine_for


@dataclass(frozen=True)
class Actor:
    id: uuid.UUID | None
    role: str
    organisation_id: uuid.UUID | None = None


SYSTEM_ACTOR = Actor(id=None, role="system")


class TransitionRefused(InvalidInput):
    slug = "transition-refused"
    title = "The transition's conditions are not met"


@dataclass
class EffectContext:
    session: AsyncSession
    subject: Stateful
    actor: Actor
    now: datetime
    trigger: str
    payload: Mapping[str, Any]
    facts: Mapping[str, Any]
    source: str = ""  # the state the subject is leaving
    # What the effects want recorded in the audit event (e.g. the receipt's reference).
    event_payload: dict[str, Any] = field(default_factory=dict)


Effect = Callable[[EffectContext], Awaitable[None]]
Subscriber = Callable[[AsyncSession, AuditEvent, Stateful], Awaitable[None]]

_effects: dict[tuple[str, str], Effect] = {}
_subscribers: list[Subscriber] = []


def effect(workflow: str, name: str) -> Callable[[Effect], Effect]:
    """Register the domain's implementation of an effect named in a workflow definition."""

    def register(fn: Effect) -> Effect:
        if (workflow, name) in _effects:
            raise ValueError(f"effect {workflow}.{name} registered twice")
        _effects[(workflow, name)] = fn
        return fn

    return register


def subscribe(fn: Subscriber) -> Subscriber:
    _subscribers.append(fn)
    return fn


def missing_effects() -> list[str]:
    """Effects named in definitions with no implementation (checked at start-up and in tests)."""
    from workflows.registry import ENGINES

    return sorted(
        f"{name}.{eff}"
        for name, engine in ENGINES.items()
        for t in engine.workflow.transitions
        for eff in t.effects
        if (name, eff) not in _effects
    )


def snapshot(subject: Stateful) -> dict[str, Any]:
    """Plain column values: what guards are allowed to see of a row."""
    mapper = sa_inspect(type(subject))
    return {attr.key: getattr(subject, attr.key) for attr in mapper.column_attrs}


def available_triggers(subject: Stateful, role: str) -> list[str]:
    return engine_for(subject.workflow_name).available(subject.status, role)


def is_editable(subject: Stateful) -> bool:
    return engine_for(subject.workflow_name).is_editable(subject.status)


async def fire(
    session: AsyncSession,
    subject: Stateful,
    trigger: str,
    actor: Actor,
    *,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
    comment: str | None = None,
    facts: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Fire ``trigger`` on ``subject``. The caller loaded ``subject`` with a row lock."""
    engine = engine_for(subject.workflow_name)
    payload = dict(payload or {})
    facts = facts or {}
    ctx = GuardContext(
        subject=snapshot(subject), role=actor.role, now=now, payload=payload, facts=facts
    )
    try:
        decision = engine.decide(subject.status, trigger, ctx)
    except UnknownTrigger as exc:
        raise InvalidInput([FieldError(("trigger",), str(exc), "unknown_trigger")]) from exc
    except NotAvailable as exc:
        raise Conflict(
            f"{trigger!r} is not possible while the {engine.name} is {subject.status!r}",
            state=subject.status,
            available_transitions=engine.available(subject.status, actor.role),
        ) from exc
    except RoleNotPermitted as exc:
        raise Forbidden(str(exc)) from exc
    except Refused as exc:
        raise TransitionRefused(
            [FieldError(r.field, r.detail, r.code) for r in exc.refusals],
            detail=f"{trigger!r} refused: " + "; ".join(r.detail for r in exc.refusals),
        ) from exc

    # Effects see the subject in its new state; status and effects are flushed as one
    # UPDATE carrying "WHERE version = <read version>": a concurrent change loses here.
    with status_writes_allowed():
        subject.status = decision.dest
    if decision.dest != decision.source:
        subject.status_changed_at = now
    eff_ctx = EffectContext(
        session, subject, actor, now, trigger, payload, facts, source=decision.source
    )
    try:
        for name in decision.transition.effects:
            await _effects[(engine.name, name)](eff_ctx)
        await session.flush()
    except StaleDataError as exc:
        raise Conflict(f"The {engine.name} was changed by someone else; reload it") from exc

    event = AuditEvent(
        subject_type=engine.name,
        subject_id=subject.id,
        event=decision.transition.event,
        trigger=trigger,
        from_state=decision.source,
        to_state=decision.dest,
        actor_id=actor.id,
        actor_role=actor.role,
        occurred_at=now,
        comment=comment,
        payload=jsonable({**payload, **eff_ctx.event_payload}),
        applicant_visible=list(decision.transition.applicant_visible),
    )
    session.add(event)
    await session.flush()
    for subscriber in _subscribers:
        await subscriber(session, event, subject)
    return event


async def record(
    session: AsyncSession,
    *,
    subject_type: str,
    subject_id: uuid.UUID,
    event: str,
    actor: Actor,
    now: datetime,
    payload: Mapping[str, Any] | None = None,
    comment: str | None = None,
    applicant_visible: tuple[str, ...] = (),
    subject: Any = None,
) -> AuditEvent:
    """Append an audit event that is not a state change (e.g. a call edited in draft). With
    ``subject``, subscribers (notifications) hear of it too."""
    row = AuditEvent(
        subject_type=subject_type,
        subject_id=subject_id,
        event=event,
        trigger=None,
        from_state=None,
        to_state=None,
        actor_id=actor.id,
        actor_role=actor.role,
        occurred_at=now,
        comment=comment,
        payload=jsonable(dict(payload or {})),
        applicant_visible=list(applicant_visible),
    )
    session.add(row)
    await session.flush()
    if subject is not None:
        for subscriber in _subscribers:
            await subscriber(session, row, subject)
    return row


def jsonable(value: Any) -> Any:
    """Audit payloads are JSON: decimals as strings, times in ISO 8601."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value
