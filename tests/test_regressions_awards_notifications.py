"""Regressions found in review of issues 4 (awards, grants, reporting, payments, closure) and
5 (notifications, outbox, worker, reminders, timers): each test once failed (SQLite and
PostgreSQL, real SMTP on 127.0.0.1; only the clock is fake)."""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from facility.awards.service import RESERVE_RELEASED
from facility.clock import FrozenClock
from facility.db.engine import Database
from facility.notifications import scheduler
from facility.notifications.mail import SmtpTransport
from facility.notifications.models import OutboxMessage
from facility.notifications.worker import Worker, run_forever
from facility.settings import Settings
from tests.factories import Account, World, force_evaluated
from tests.smtp import SmtpServer
from tests.test_grants import (
    file_report,
    grant_do,
    new_grant,
    pay_do,
    payments,
    reports,
    signed_grant,
)

CENT = Decimal("0.01")


# --- helpers ------------------------------------------------------------------------------


def amounts(requested: str) -> dict[str, str]:
    total = (Decimal(requested) * Decimal("1.1")).quantize(CENT)
    return {"requested_amount": requested, "total_budget": str(total)}


async def evaluated(
    world: World, applicant: Account, call_id: str, total: str = "80.00",
    requested: str = "150000.00",
) -> dict[str, Any]:  # fmt: skip
    p = await world.submitted(applicant, call_id, **amounts(requested))
    await force_evaluated(world, p["id"], total)
    return p


async def outbox(db: Database, kind: str | None = None) -> list[OutboxMessage]:
    async with db.unit_of_work(write=False) as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        if kind is not None:
            stmt = stmt.where(OutboxMessage.kind == kind)
        return list((await session.execute(stmt)).scalars())


async def call_do(world: World, fm: Account, call_id: str, trigger: str) -> None:
    r = await world.client.post(
        f"/api/v1/calls/{call_id}/transitions", json={"trigger": trigger}, headers=fm.headers
    )
    assert r.status_code == 200, r.text


async def pay_everything_due(world: World, fm: Account, g: Any) -> None:
    for p in await payments(world, fm, g):
        if p["status"] == "due":
            r = await pay_do(world, fm, p["id"], "pay", paid_on="2026-03-02")
            assert r.status_code == 200, r.text


# --- issue 5: messages --------------------------------------------------------------------


async def test_rejection_after_evaluation_mail_carries_the_score_breakdown(
    world: World, db: Database, worker: Worker, smtp_server: SmtpServer
) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    p = await evaluated(world, applicant, call["id"], total="75.00")
    r = await world.fire(fm, p["id"], "reject", reasons=["Ranked below the funded proposals"])
    assert r.status_code == 200, r.text
    [row] = await outbox(db, "rejected")
    await worker.drain()
    [mail] = [m for m in smtp_server.messages if m["Message-ID"].startswith(f"<{row.message_id}@")]
    text = mail.get_body(("plain",)).get_content()
    assert "Ranked below the funded proposals" in text
    assert "Score by section" in text  # issue 5: "rejected (reasons and score breakdown ...)"
    assert "75.00" in text


async def test_the_grantee_is_told_when_its_grant_is_terminated(world: World, db: Database) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm)
    before = {m.id for m in await outbox(db)}
    r = await grant_do(world, fm, g, "terminate", reason="Serious breach of the contract")
    assert r.status_code == 200, r.text
    to_grantee = [
        m.kind for m in await outbox(db)
        if m.id not in before and m.recipient_email == g.grantee.email
    ]  # fmt: skip
    assert to_grantee, "the grantee learns of the termination of its grant only by polling"


async def test_terminating_before_signature_revokes_the_award_with_one_message(
    world: World, db: Database
) -> None:
    fm = await world.fund_manager()
    g = await new_grant(world, fm)
    before = {m.id for m in await outbox(db)}
    r = await grant_do(world, fm, g, "terminate", reason="The partner was debarred")
    assert r.status_code == 200, r.text
    got = await world.client.get(f"/api/v1/proposals/{g.proposal['id']}", headers=fm.headers)
    assert got.json()["status"] == "rejected"
    call = await world.client.get(f"/api/v1/calls/{g.call['id']}", headers=fm.headers)
    assert Decimal(call.json()["committed_amount"]) == 0
    to_grantee = [
        m for m in await outbox(db)
        if m.id not in before and m.recipient_email == g.grantee.email
    ]  # fmt: skip
    assert [m.kind for m in to_grantee] == ["award_revoked"]
    assert "The partner was debarred" in json.dumps(to_grantee[0].context)


async def test_money_freed_by_a_revoked_award_goes_to_the_reserve_list(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(
        fm, budget_envelope="300000.00", max_grant="300000.00", auto_promote=True
    )
    first, second = await world.applicant(), await world.applicant()
    winner = await evaluated(world, first, call["id"], total="90.00", requested="200000.00")
    reserve = await evaluated(world, second, call["id"], total="80.00", requested="200000.00")
    assert (await world.fire(fm, winner["id"], "award")).status_code == 200
    r = await world.fire(fm, reserve["id"], "place_on_reserve")
    assert r.status_code == 200, r.text
    [grant] = (
        await world.client.get("/api/v1/grants", params={"call_id": call["id"]}, headers=fm.headers)
    ).json()["items"]
    r = await world.client.post(
        f"/api/v1/grants/{grant['id']}/transitions",
        json={"trigger": "terminate", "reason": "The partner was debarred"},
        headers=fm.headers,
    )
    assert r.status_code == 200, r.text
    got = await world.client.get(f"/api/v1/proposals/{reserve['id']}", headers=fm.headers)
    assert got.json()["status"] == "awarded"


async def test_a_russian_rejection_has_no_english_reasons(
    world: World, db: Database, worker: Worker, smtp_server: SmtpServer
) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant(language="ru")
    p = await evaluated(world, applicant, call["id"])
    assert (await world.fire(fm, p["id"], "place_on_reserve")).status_code == 200
    await call_do(world, fm, call["id"], "close")
    await call_do(world, fm, call["id"], "finalise")
    [row] = await outbox(db, "rejected")
    assert row.locale == "ru"
    await worker.drain()
    [mail] = [m for m in smtp_server.messages if m["Message-ID"].startswith(f"<{row.message_id}@")]
    assert mail["Content-Language"] == "ru"
    text = mail.get_body(("plain",)).get_content()
    assert RESERVE_RELEASED not in text


# --- issue 5: worker and scheduler --------------------------------------------------------


async def test_a_worker_does_not_send_rows_whose_lease_it_lost(
    world: World, db: Database, mail_settings: Settings, smtp_server: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    await world.submitted(applicant, call["id"])
    await world.submitted(applicant, call["id"])
    slow = Worker(db, mail_settings, clock, SmtpTransport(mail_settings), name="slow")
    other = Worker(db, mail_settings, clock, SmtpTransport(mail_settings), name="other")
    batch = await slow.claim()
    assert len(batch) == 2
    assert await slow.deliver(batch[0]) == "sent"
    # Sending the first row took longer than the lease (e.g. 20 rows x a slow relay).
    clock.advance(seconds=mail_settings.outbox_lease_s + 1)
    assert await other.run_once() == {"sent": 1}  # the second row, re-claimed
    await slow.deliver(batch[1])  # the slow worker carries on with its stale batch
    ids = smtp_server.recorder.ids()
    assert len(ids) == len(set(ids)), f"sent twice: {ids}"


async def test_a_signed_award_is_not_retried_by_the_lapse_timer_on_every_tick(
    world: World, db: Database, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm)
    assert g.grant["status"] == "active"
    caplog.set_level(logging.INFO, logger="facility.scheduler")
    for _ in range(3):
        clock.advance(days=31)
        assert await scheduler.fire_due_timers(db, clock) == []
    refused = [r.getMessage() for r in caplog.records if "not fired" in r.getMessage()]
    assert refused == [], refused


# --- issue 4: awards, finalisation, closure -----------------------------------------------


async def test_finalising_leaves_no_proposal_without_a_decision(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    undecided = await evaluated(world, applicant, call["id"])
    await call_do(world, fm, call["id"], "close")
    r = await world.client.post(
        f"/api/v1/calls/{call['id']}/transitions", json={"trigger": "finalise"},
        headers=fm.headers,
    )  # fmt: skip
    got = await world.client.get(f"/api/v1/proposals/{undecided['id']}", headers=fm.headers)
    # Either finalisation is refused while decisions are pending, or it takes them.
    assert r.status_code in (409, 422) or got.json()["status"] == "rejected", got.json()["status"]


async def test_a_closed_grant_has_no_report_left_overdue(world: World, clock: FrozenClock) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=18)
    interim, final = await reports(world, fm, g)
    assert (interim["kind"], final["kind"]) == ("interim", "final")
    await pay_everything_due(world, fm, g)
    await file_report(world, fm, g, final["id"], "150000.00")
    await pay_everything_due(world, fm, g)
    assert (await grant_do(world, fm, g, "start_closure")).status_code == 200
    closed = await grant_do(world, fm, g, "close")
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    clock.advance(days=800)
    left = [(r["kind"], r["status"], r["overdue"]) for r in await reports(world, fm, g)]
    assert ("interim", "due", True) not in left, left
    overdue = await world.client.get("/api/v1/reports?overdue=true", headers=fm.headers)
    assert overdue.json()["items"] == []


async def test_a_decline_does_not_show_the_applicant_another_organisations_proposal(
    world: World,
) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="300000.00")
    first, second = await world.applicant(), await world.applicant()
    winner = await evaluated(world, first, call["id"], total="90.00", requested="200000.00")
    reserve = await evaluated(world, second, call["id"], total="80.00", requested="200000.00")
    assert (await world.fire(fm, winner["id"], "award")).status_code == 200
    assert (await world.fire(fm, reserve["id"], "place_on_reserve")).status_code == 200
    assert (await world.fire(first, winner["id"], "decline")).status_code == 200
    history = await world.client.get(
        f"/api/v1/proposals/{winner['id']}/history", headers=first.headers
    )
    assert reserve["id"] not in history.text


async def test_a_failing_scheduler_tick_does_not_hold_up_delivery(
    world: World, worker: Worker, smtp_server: SmtpServer, mail_settings: Settings
) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    await world.submitted(await world.applicant(), call["id"])  # queues the receipt
    ticks = 0

    async def broken_tick() -> None:
        nonlocal ticks
        ticks += 1
        raise RuntimeError("the timers could not be read")

    stop = asyncio.Event()
    fast = mail_settings.model_copy(update={"worker_poll_s": 0.02, "scheduler_interval_s": 0.01})
    loop = asyncio.create_task(run_forever(worker, broken_tick, stop, fast))
    for _ in range(250):
        if smtp_server.messages:
            break
        await asyncio.sleep(0.02)
    stop.set()
    await loop
    assert ticks >= 1
    assert smtp_server.messages, "the mail waited for a scheduler that kept failing"
