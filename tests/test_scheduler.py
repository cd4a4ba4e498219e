"""Timers and reminders: each fires exactly once, whatever the restarts and concurrency."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from facility.audit.models import AuditEvent
from facility.clock import FrozenClock
from facility.db.engine import Database
from facility.notifications import scheduler
from facility.notifications.models import OutboxMessage
from facility.settings import Settings
from tests.factories import Account, World, force_evaluated


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.unit_of_work(write=False) as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(model).where(*where))
            ).scalar_one()
        )


async def awarded(
    world: World, **call: Any
) -> tuple[Account, Account, dict[str, Any], dict[str, Any]]:
    fm = await world.fund_manager()
    c = await world.call(fm, **call)
    applicant = await world.applicant()
    p = await world.submitted(applicant, c["id"])
    await force_evaluated(world, p["id"])
    r = await world.fire(fm, p["id"], "award")
    assert r.status_code == 200, r.text
    return fm, applicant, c, r.json()


async def _status(world: World, who: Account, proposal: dict[str, Any]) -> str:
    r = await world.client.get(f"/api/v1/proposals/{proposal['id']}", headers=who.headers)
    return str(r.json()["status"])


async def test_award_lapses_after_exactly_the_acceptance_period(
    world: World, db: Database, clock: FrozenClock
) -> None:
    fm, applicant, call, proposal = await awarded(world, acceptance_period_days=30)
    awarded_at = clock.now()
    clock.set(awarded_at + timedelta(days=30) - timedelta(seconds=1))
    assert await scheduler.fire_due_timers(db, clock) == []
    assert await _status(world, applicant, proposal) == "awarded"
    clock.set(awarded_at + timedelta(days=30))
    assert await scheduler.fire_due_timers(db, clock) == [(proposal["id"], "lapse")]
    assert await _status(world, applicant, proposal) == "declined"
    clock.advance(days=5)
    assert await scheduler.fire_due_timers(db, clock) == []  # once
    history = (await world.client.get(f"/api/v1/proposals/{proposal['id']}/history",
                                      headers=fm.headers)).json()  # fmt: skip
    lapse = [h for h in history if h["event"] == "proposal.award_lapsed"]
    assert len(lapse) == 1 and lapse[0]["actor"] == {"role": "system", "id": None}
    got = (await world.client.get(f"/api/v1/calls/{call['id']}")).json()
    assert got["committed_amount"] == "0.00"  # the money is back
    [grant] = (await world.client.get("/api/v1/grants", headers=fm.headers)).json()["items"]
    assert grant["status"] == "terminated"
    kinds = {(m.kind, m.recipient_email) for m in await _messages(db)}
    assert ("award_lapsed", applicant.email) in kinds
    assert ("award_lapsed", fm.email) in kinds


async def _messages(db: Database) -> list[OutboxMessage]:
    async with db.unit_of_work(write=False) as session:
        return list((await session.execute(select(OutboxMessage))).scalars())


async def test_no_lapse_when_the_contract_is_signed_in_time(
    world: World, db: Database, clock: FrozenClock
) -> None:
    fm, applicant, _, proposal = await awarded(world, acceptance_period_days=30)
    start = clock.now()
    clock.advance(days=10)
    [grant] = (await world.client.get("/api/v1/grants", headers=fm.headers)).json()["items"]
    signed = await world.client.post(
        f"/api/v1/grants/{grant['id']}/transitions",
        json={"trigger": "sign_contract", "signed_on": clock.now().date().isoformat()},
        headers=fm.headers,
    )  # fmt: skip
    assert signed.status_code == 200, signed.text
    clock.set(start + timedelta(days=31))
    assert await scheduler.fire_due_timers(db, clock) == []
    assert await _status(world, applicant, proposal) == "contracted"  # signed: no timer left


async def test_two_schedulers_fire_a_timer_once(
    world: World, db: Database, clock: FrozenClock, settings: Settings
) -> None:
    _, applicant, _, proposal = await awarded(world, acceptance_period_days=7)
    clock.advance(days=8)
    other = Database(settings)
    try:
        results = await asyncio.gather(
            scheduler.fire_due_timers(db, clock), scheduler.fire_due_timers(other, clock)
        )
    finally:
        await other.dispose()
    assert sorted(len(r) for r in results) == [0, 1]
    lapsed = await count(db, AuditEvent, AuditEvent.event == "proposal.award_lapsed")
    assert lapsed == 1
    assert await _status(world, applicant, proposal) == "declined"


async def test_evaluation_reminders_once_per_due_date_across_restarts(
    world: World, db: Database, clock: FrozenClock, settings: Settings
) -> None:
    from tests.factories import evaluator_with_profile, pass_screening

    fm = await world.fund_manager()
    call = await world.call(fm, evaluation_period_days=10)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    await pass_screening(world, fm, proposal["id"])
    evaluators = [await evaluator_with_profile(world) for _ in range(2)]
    await world.client.post(f"/api/v1/calls/{call['id']}/assignments/auto", headers=fm.headers)
    start = clock.now()

    async def reminders(kind: str) -> int:
        return await count(db, OutboxMessage, OutboxMessage.kind == kind)

    clock.set(start + timedelta(days=6))  # due in 4 days: not yet
    assert await scheduler.queue_reminders(db, clock) == 0
    clock.set(start + timedelta(days=7, seconds=1))  # due in under 3 days
    assert await scheduler.queue_reminders(db, clock) == 2
    assert await scheduler.queue_reminders(db, clock) == 0
    restarted = Database(settings)  # a new process: nothing in memory survives
    try:
        clock.advance(hours=12)
        assert await scheduler.queue_reminders(restarted, clock) == 0
        clock.set(start + timedelta(days=10, seconds=1))
        assert await scheduler.queue_reminders(restarted, clock) == 2
        assert await scheduler.queue_reminders(db, clock) == 0
    finally:
        await restarted.dispose()
    assert await reminders("evaluation_reminder") == 2
    assert await reminders("evaluation_overdue") == 2
    recipients = {m.recipient_email for m in await _messages(db) if m.kind == "evaluation_overdue"}
    assert recipients == {e.email for e in evaluators}


async def test_report_reminders_and_opt_out(
    world: World, db: Database, clock: FrozenClock, settings: Settings
) -> None:
    fm, applicant, _, proposal = await awarded(world, acceptance_period_days=30)
    colleague = await _colleague(world, applicant)
    [grant] = (await world.client.get("/api/v1/grants", headers=fm.headers)).json()["items"]
    await world.client.post(
        f"/api/v1/grants/{grant['id']}/transitions",
        json={"trigger": "sign_contract", "signed_on": clock.now().date().isoformat()},
        headers=fm.headers,
    )  # fmt: skip
    [final] = (
        await world.client.get(f"/api/v1/grants/{grant['id']}/reports", headers=fm.headers)
    ).json()
    due = datetime.fromisoformat(final["due_on"]).replace(tzinfo=UTC, hour=9)
    off = await world.client.patch(
        "/api/v1/me", json={"reminders_opt_out": True}, headers=colleague.headers
    )
    assert off.status_code == 200 and off.json()["reminders_opt_out"] is True

    async def sent(kind: str) -> list[str]:
        return sorted(m.recipient_email for m in await _messages(db) if m.kind == kind)

    timeline = [
        (due - timedelta(days=15), 0), (due - timedelta(days=14), 1), (due - timedelta(days=10), 0),
        (due, 1), (due + timedelta(hours=5), 0), (due + timedelta(days=1), 1),
        (due + timedelta(days=3), 0), (due + timedelta(days=8), 1), (due + timedelta(days=9), 0),
    ]  # fmt: skip
    for moment, expected in timeline:
        clock.set(moment)
        assert await scheduler.queue_reminders(db, clock) == expected, moment
    assert await sent("report_due_soon") == [applicant.email, applicant.email]
    assert await sent("report_overdue") == [applicant.email, applicant.email]
    # Decisions reach everyone, opted out or not.
    payments = await world.client.get(f"/api/v1/grants/{grant['id']}/payments", headers=fm.headers)
    assert payments.status_code == 200, payments.text
    first = payments.json()[0]
    paid = await world.client.post(
        f"/api/v1/payments/{first['id']}/transitions",
        json={"trigger": "pay", "paid_on": clock.now().date().isoformat()},
        headers=fm.headers,
    )
    assert paid.status_code == 200, paid.text
    assert await sent("payment_made") == sorted([applicant.email, colleague.email])
    _ = (settings, proposal)


async def _colleague(world: World, applicant: Account) -> Account:
    """A second user of the same organisation."""
    from facility.identity.models import User
    from facility.identity.passwords import Passwords

    async with world.svc.db.unit_of_work() as session:
        user = User(
            email=f"colleague-{applicant.email}",
            full_name="Colleague",
            password_hash=Passwords(world.svc.settings).hash("x" * 16),
            role="applicant",
            organisation_id=applicant.organisation_id,
            created_at=world.clock.now(),
        )
        session.add(user)
        await session.flush()
        account = Account(user.id, "applicant", user.email, world, applicant.organisation_id)
    return account


def test_working_days_skip_weekends() -> None:
    friday = datetime(2026, 3, 6, 9, tzinfo=UTC)
    assert scheduler.add_working_days(friday, 1) == datetime(2026, 3, 9, 9, tzinfo=UTC)
    assert scheduler.add_working_days(friday, 5) == datetime(2026, 3, 13, 9, tzinfo=UTC)
    assert scheduler.missing_timer_wiring() == []
