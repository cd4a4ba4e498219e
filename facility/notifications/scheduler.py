"""The scheduler: fires workflow timers and queues reminders, exactly once each.

Timers are declared in the workflow definitions (``State.timers``). A due timer is fired in
its own transaction with the system as the actor, on a locked row whose state is checked
again: if it already left the state (another scheduler fired it, or someone acted in time),
nothing happens. Refusals by the transition's guards (e.g. a contract signed in time) leave
it as it is.

Reminders carry a deduplication key, unique in the outbox table: one message per (subject,
kind, due date, recipient, and for weekly reminders the week), however many schedulers run
and however often they restart. Users who opted out of reminders get none; decisions are
not reminders and are always sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from facility import lifecycle
from facility.calls.models import Call
from facility.clock import Clock
from facility.db.engine import Database
from facility.errors import DomainError
from facility.evaluation.models import Assignment
from facility.grants.models import Grant, Report
from facility.ids import new_id
from facility.lifecycle import SYSTEM_ACTOR
from facility.notifications.catalogue import APPLICANT
from facility.notifications.models import PENDING, OutboxMessage
from facility.notifications.outbox import new_message, recipients, subject_context
from facility.proposals.models import Proposal
from facility.proposals.service import guard_facts
from facility.stateful import Stateful
from workflows.definition import Timer
from workflows.registry import ENGINES

log = logging.getLogger("facility.scheduler")

EVALUATION_REMINDER_DAYS = 3
REPORT_REMINDER_DAYS = 14

# The rows each workflow governs, and how its guards' facts are gathered.
MODELS: dict[str, type[Stateful]] = {"proposal": Proposal}
FACTS: dict[str, Callable[[AsyncSession, Any, str], Awaitable[dict[str, Any]]]] = {
    "proposal": guard_facts,
}


async def _acceptance_period(session: AsyncSession, proposal: Any) -> int:
    call = await session.get(Call, proposal.call_id)
    assert call is not None
    return call.acceptance_period_days


# Timer.days_from names a fact of the subject; this is where each is read.
DAYS_FROM: dict[tuple[str, str], Callable[[AsyncSession, Any], Awaitable[int]]] = {
    ("proposal", "acceptance_period_days"): _acceptance_period,
}


def add_working_days(start: datetime, days: int) -> datetime:
    """Monday to Friday count; the time of day is kept."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def missing_timer_wiring() -> list[str]:
    """Timers whose workflow or day count the scheduler cannot serve (checked in tests)."""
    problems = []
    for name, engine in ENGINES.items():
        for state in engine.workflow.states:
            for timer in state.timers:
                if name not in MODELS:
                    problems.append(f"{name}: no model for timers")
                if timer.days_from and (name, timer.days_from) not in DAYS_FROM:
                    problems.append(f"{name}.{state.name}: no reader for {timer.days_from}")
    return problems


async def _deadline(session: AsyncSession, workflow: str, timer: Timer, subject: Any) -> datetime:
    days = (
        timer.days
        if timer.days is not None
        else await DAYS_FROM[(workflow, str(timer.days_from))](session, subject)
    )
    started: datetime = subject.status_changed_at
    return add_working_days(started, days) if timer.working_days else started + timedelta(days=days)


async def fire_due_timers(db: Database, clock: Clock) -> list[tuple[str, str]]:
    """Fire every timer whose wait is over; returns (subject id, trigger) fired."""
    fired = []
    now = clock.now()
    for name, engine in ENGINES.items():
        for state in engine.workflow.states:
            for timer in state.timers:
                model = MODELS[name]
                async with db.unit_of_work(write=False) as session:
                    stmt = select(model).where(
                        model.status == state.name, model.status_changed_at.is_not(None)
                    )
                    due = [
                        s.id
                        for s in (await session.execute(stmt)).scalars()
                        if await _deadline(session, name, timer, s) <= now
                    ]
                for subject_id in due:
                    if await _fire(db, name, timer, subject_id, state.name, now):
                        fired.append((str(subject_id), timer.trigger))
    return fired


async def _fire(db: Database, workflow: str, timer: Timer, subject_id: Any, state: str,
                now: datetime) -> bool:  # fmt: skip
    try:
        async with db.unit_of_work() as session:
            subject = await session.get(MODELS[workflow], subject_id, with_for_update=True,
                                        populate_existing=True)  # fmt: skip
            if subject is None or subject.status != state:
                return False  # someone (or another scheduler) moved it first
            if await _deadline(session, workflow, timer, subject) > now:
                return False
            facts = await FACTS[workflow](session, subject, timer.trigger)
            await lifecycle.fire(
                session, subject, timer.trigger, SYSTEM_ACTOR, now=now, facts=facts,
                comment=timer.description or f"Timer: {timer.trigger}",
            )  # fmt: skip
            return True
    except DomainError as exc:
        log.info("timer %s on %s %s not fired: %s", timer.trigger, workflow, subject_id, exc)
        return False
    except DBAPIError:
        # One subject's failure (a deadlock, a constraint) must not starve the others.
        log.exception("timer %s on %s %s failed; retried next tick", timer.trigger, workflow,
                      subject_id)  # fmt: skip
        return False


async def _queue_reminder(
    session: AsyncSession, *, kind: str, subject: Any, key: str, who: str, now: datetime,
    extra: dict[str, Any],
) -> int:  # fmt: skip
    base, organisation_id = await subject_context(session, subject)
    queued = 0
    for user in await recipients(session, who, subject, organisation_id):
        if user.reminders_opt_out:
            continue
        row = new_message(
            kind=kind, user=user, context={**base, **extra}, now=now,
            dedupe_key=f"{key}:{user.id}",
        )  # fmt: skip
        values = {c.key: getattr(row, c.key) for c in OutboxMessage.__table__.columns}
        values.update(id=new_id(), status=PENDING, attempts=0)
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        done = await session.execute(
            insert(OutboxMessage).values(**values).on_conflict_do_nothing(
                index_elements=["dedupe_key"]
            ).returning(OutboxMessage.id)
        )  # fmt: skip
        queued += 1 if done.scalar_one_or_none() is not None else 0
    return queued


async def queue_reminders(db: Database, clock: Clock) -> int:
    now = clock.now()
    today = now.date()
    queued = 0
    async with db.unit_of_work() as session:
        stmt = select(Assignment).where(Assignment.status.in_(("assigned", "active")))
        for a in (await session.execute(stmt)).scalars():
            due = a.due_at.isoformat()
            if now < a.due_at <= now + timedelta(days=EVALUATION_REMINDER_DAYS):
                queued += await _queue_reminder(
                    session, kind="evaluation_reminder", subject=a, who="evaluator", now=now,
                    key=f"evaluation_reminder:{a.id}:{due}",
                    extra={"days_left": (a.due_at - now).days},
                )  # fmt: skip
            elif a.due_at <= now:
                queued += await _queue_reminder(
                    session, kind="evaluation_overdue", subject=a, who="evaluator", now=now,
                    key=f"evaluation_overdue:{a.id}:{due}", extra={},
                )  # fmt: skip
        reports = (
            select(Report)
            .join(Grant, Grant.id == Report.grant_id)
            .where(
                Report.status.in_(("due", "revision_requested")),
                Grant.status.in_(("active", "suspended", "closing")),
            )
        )
        for r in (await session.execute(reports)).scalars():
            days_left = (r.due_on - today).days
            base_key = f"{r.id}:{r.due_on.isoformat()}"
            if days_left in range(1, REPORT_REMINDER_DAYS + 1) or days_left == 0:
                window = "today" if days_left == 0 else "soon"
                queued += await _queue_reminder(
                    session, kind="report_due_soon", subject=r, who=APPLICANT, now=now,
                    key=f"report_due_soon:{base_key}:{window}", extra={"days_left": days_left},
                )  # fmt: skip
            elif days_left < 0:
                week = (-days_left - 1) // 7  # day 1 overdue, then every 7 days
                queued += await _queue_reminder(
                    session, kind="report_overdue", subject=r, who=APPLICANT, now=now,
                    key=f"report_overdue:{base_key}:{week}", extra={"days_overdue": -days_left},
                )  # fmt: skip
    return queued


async def tick(db: Database, clock: Clock) -> None:
    await fire_due_timers(db, clock)
    await queue_reminders(db, clock)
