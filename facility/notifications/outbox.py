"""Turn workflow events into outbox rows, in the transaction of the event itself: if the
state change rolls back, so do its messages; if it commits, they are never lost.

The context stored with a message is plain JSON; templates render it when the message is
sent. What the context holds is listed in ``email_templates/README.md``.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from facility import lifecycle
from facility.audit.models import AuditEvent
from facility.audit.views import applicant_payload
from facility.calls.models import Call
from facility.evaluation.models import Assignment
from facility.grants.models import Grant, Payment, Report
from facility.identity.models import Organisation, User
from facility.ids import new_id
from facility.lifecycle import jsonable
from facility.notifications.catalogue import APPLICANT, EVALUATOR, FUND_MANAGERS, rules_for
from facility.notifications.models import OutboxMessage
from facility.proposals.models import Proposal


def _call(call: Call) -> dict[str, Any]:
    return {"id": str(call.id), "reference": call.reference, "title": call.title,
            "currency": call.currency}  # fmt: skip


def _proposal(p: Proposal, *, with_content: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"id": str(p.id), "reference": p.reference, "stage": p.stage,
                            "status": p.status}  # fmt: skip
    if with_content:
        data.update(title=p.title, requested_amount=jsonable(p.requested_amount))
    return data


def _grant(g: Grant) -> dict[str, Any]:
    return {
        "id": str(g.id), "reference": g.reference, "title": g.title,
        "amount": str(g.amount), "currency": g.currency, "status": g.status,
        "start_date": jsonable(g.start_date), "end_date": jsonable(g.end_date),
    }  # fmt: skip


async def subject_context(
    session: AsyncSession, subject: Any
) -> tuple[dict[str, Any], uuid.UUID | None]:
    """What a message may say about its subject, and the organisation it concerns."""
    if isinstance(subject, Proposal):
        call = await session.get(Call, subject.call_id)
        org = await session.get(Organisation, subject.organisation_id)
        assert call is not None
        assert org is not None
        return (
            {"stage": subject.stage, "proposal": _proposal(subject), "call": _call(call),
             "organisation": {"name": org.name}, "link": f"/api/v1/proposals/{subject.id}"},
            subject.organisation_id,
        )  # fmt: skip
    if isinstance(subject, Assignment):
        proposal = await session.get(Proposal, subject.proposal_id)
        call = await session.get(Call, subject.call_id)
        assert proposal is not None
        assert call is not None
        # No content of the proposal before the evaluator declares impartiality.
        return (
            {"stage": subject.stage, "proposal": _proposal(proposal, with_content=False),
             "call": _call(call),
             "assignment": {"id": str(subject.id), "due_at": jsonable(subject.due_at),
                            "is_arbitration": subject.is_arbitration},
             "link": f"/api/v1/assignments/{subject.id}"},
            None,
        )  # fmt: skip
    if isinstance(subject, Grant | Report | Payment):
        grant = (
            subject if isinstance(subject, Grant) else await session.get(Grant, subject.grant_id)
        )
        assert grant is not None
        data: dict[str, Any] = {"grant": _grant(grant), "link": f"/api/v1/grants/{grant.id}"}
        if isinstance(subject, Report):
            data["report"] = {"id": str(subject.id), "kind": subject.kind,
                              "sequence": subject.sequence, "due_on": jsonable(subject.due_on),
                              "period_end": jsonable(subject.period_end)}  # fmt: skip
            data["link"] = f"/api/v1/reports/{subject.id}"
        if isinstance(subject, Payment):
            data["payment"] = {"id": str(subject.id), "kind": subject.kind,
                               "sequence": subject.sequence, "amount": str(subject.amount),
                               "paid_amount": jsonable(subject.paid_amount),
                               "paid_on": jsonable(subject.paid_on)}  # fmt: skip
        return data, grant.organisation_id
    if isinstance(subject, Call):
        return {"call": _call(subject), "link": f"/api/v1/calls/{subject.id}"}, None
    return {}, None


async def recipients(
    session: AsyncSession, who: str, subject: Any, organisation_id: uuid.UUID | None
) -> list[User]:
    if who == APPLICANT and organisation_id is not None:
        stmt = select(User).where(
            User.organisation_id == organisation_id, User.role == "applicant", User.is_active
        )
    elif who == FUND_MANAGERS:
        stmt = select(User).where(User.role == "fund_manager", User.is_active)
    elif who == EVALUATOR and isinstance(subject, Assignment):
        stmt = select(User).where(User.id == subject.evaluator_id, User.is_active)
    else:
        return []
    return list((await session.execute(stmt.order_by(User.id))).scalars())


def visible_payload(event: AuditEvent, who: str) -> dict[str, Any]:
    """Applicants read what the workflow lets them read of an event (as in the history)."""
    return applicant_payload(event) if who == APPLICANT else dict(event.payload)


def new_message(
    *,
    kind: str,
    user: User,
    context: dict[str, Any],
    now: datetime,
    event_id: int | None = None,
    dedupe_key: str | None = None,
) -> OutboxMessage:
    return OutboxMessage(
        message_id=new_id().hex,
        kind=kind,
        recipient_id=user.id,
        recipient_email=user.email,
        locale=user.preferred_language,
        context={**context, "recipient_name": user.full_name, "kind": kind},
        event_id=event_id,
        dedupe_key=dedupe_key,
        next_attempt_at=now,
        created_at=now,
    )


@lifecycle.subscribe
async def enqueue(session: AsyncSession, event: AuditEvent, subject: Any) -> None:
    rules = rules_for(event.event)
    if not rules:
        return
    base, organisation_id = await subject_context(session, subject)
    for rule in rules:
        context = {**base, "event": event.event, "occurred_at": jsonable(event.occurred_at),
                   "payload": jsonable(visible_payload(event, rule.recipients))}  # fmt: skip
        if rule.when is not None and not rule.when(context):
            continue
        for user in await recipients(session, rule.recipients, subject, organisation_id):
            session.add(
                new_message(
                    kind=rule.message, user=user, context=context, now=event.occurred_at,
                    event_id=event.id,
                )
            )  # fmt: skip
    await session.flush()
