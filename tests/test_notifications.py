"""The outbox and its delivery, against a real SMTP server (aiosmtpd on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from facility.clock import FrozenClock
from facility.db.engine import Database
from facility.errors import Conflict
from facility.notifications.mail import FolderTransport, SmtpTransport
from facility.notifications.models import OutboxMessage
from facility.notifications.worker import Worker
from facility.settings import Settings
from tests.factories import World
from tests.smtp import SmtpServer


async def outbox(db: Database, **where: Any) -> list[OutboxMessage]:
    async with db.unit_of_work(write=False) as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.created_at, OutboxMessage.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(OutboxMessage, key) == value)
        return list((await session.execute(stmt)).scalars())


async def submitted_proposal(world: World) -> tuple[Any, dict[str, Any]]:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant(language="ru")
    proposal = await world.submitted(applicant, call["id"], title="Corridors <script>x</script>")
    return applicant, proposal


async def test_a_decision_writes_its_message_in_the_same_transaction(
    world: World, db: Database
) -> None:
    applicant, proposal = await submitted_proposal(world)
    [row] = await outbox(db)
    assert (row.kind, row.recipient_email, row.locale) == (
        "proposal_received",
        applicant.email,
        "ru",
    )
    assert row.status == "pending"
    assert row.context["payload"]["reference"] == proposal["receipt"]["reference"]
    assert row.context["proposal"]["title"] == "Corridors <script>x</script>"


async def test_a_rolled_back_transition_leaves_no_message(world: World, db: Database) -> None:
    from facility import lifecycle
    from facility.lifecycle import Actor
    from facility.proposals.models import Proposal
    from facility.proposals.service import guard_facts

    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    draft = await world.ready_proposal(applicant, call["id"])

    async def submit_then_fail() -> None:
        async with db.unit_of_work() as session:
            row = await session.get(Proposal, uuid.UUID(draft["id"]))
            assert row is not None
            actor = Actor(
                id=applicant.id, role="applicant", organisation_id=applicant.organisation_id
            )
            facts = await guard_facts(session, row, "submit")
            await lifecycle.fire(session, row, "submit", actor, now=world.clock.now(), facts=facts)
            assert len((await session.execute(select(OutboxMessage))).scalars().all()) == 1
            raise Conflict("something later in the request failed")

    with pytest.raises(Conflict):
        await submit_then_fail()
    assert await outbox(db) == []
    still = await world.client.get(f"/api/v1/proposals/{draft['id']}", headers=applicant.headers)
    assert still.json()["status"] == "draft"


async def test_delivered_message_is_complete_and_escaped(
    world: World, db: Database, worker: Worker, smtp_server: SmtpServer
) -> None:
    applicant, proposal = await submitted_proposal(world)
    assert await worker.drain() == {"sent": 1}
    [message] = smtp_server.messages
    assert message["To"].addresses[0].addr_spec == applicant.email
    assert (
        message["Subject"]
        == f"Получено: {proposal['receipt']['reference']} – Corridors <script>x</script>"
    )
    assert message["Content-Language"] == "ru"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(">")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert proposal["receipt"]["content_hash"] in text
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>" not in html
    [row] = await outbox(db)
    assert (row.status, row.attempts, row.sent_at) == ("sent", 1, world.clock.now())
    assert await worker.drain() == {}  # nothing left: never sent twice


async def test_smtp_down_then_back_delivers_once(
    world: World, db: Database, worker: Worker, smtp_server: SmtpServer, clock: FrozenClock
) -> None:
    await submitted_proposal(world)
    smtp_server.stop()
    assert await worker.drain() == {"pending": 1}
    [row] = await outbox(db)
    assert row.attempts == 1 and row.last_error
    first_retry = row.next_attempt_at - clock.now()
    assert timedelta(seconds=48) <= first_retry <= timedelta(seconds=72)  # 60 s ± 20 %
    assert await worker.drain() == {}  # not due yet
    clock.advance(first_retry)
    assert await worker.drain() == {"pending": 1}  # still down: backs off further
    [row] = await outbox(db)
    assert row.next_attempt_at - clock.now() >= timedelta(seconds=96)  # 120 s − 20 %
    smtp_server.start()
    clock.advance(hours=1)
    assert await worker.drain() == {"sent": 1}
    assert len(smtp_server.messages) == 1
    assert len(set(smtp_server.recorder.ids())) == 1


async def test_temporary_refusals_retry_and_permanent_ones_die(
    world: World, db: Database, worker: Worker, smtp_server: SmtpServer, clock: FrozenClock,
    mail_settings: Settings,
) -> None:  # fmt: skip
    await submitted_proposal(world)
    smtp_server.recorder.mode = "tempfail"
    for _ in range(mail_settings.outbox_max_attempts - 1):
        assert await worker.drain() == {"pending": 1}
        clock.advance(hours=7)
    assert await worker.drain() == {"dead": 1}  # the last allowed attempt
    [row] = await outbox(db)
    assert row.status == "dead" and "451" in (row.last_error or "")

    await submitted_proposal(world)
    smtp_server.recorder.mode = "permfail"
    assert await worker.drain() == {"dead": 1}  # a 5xx is final at once
    dead = await outbox(db, status="dead")
    assert len(dead) == 2 and "550" in (dead[1].last_error or "")
    assert smtp_server.messages == []


async def test_admins_see_dead_messages_and_retry_them(
    world: World, db: Database, worker: Worker, smtp_server: SmtpServer
) -> None:
    await submitted_proposal(world)
    smtp_server.recorder.mode = "permfail"
    await worker.drain()
    admin = await world.admin()
    listed = await world.client.get("/api/v1/outbox?status=dead", headers=admin.headers)
    assert listed.status_code == 200
    [dead] = listed.json()["items"]
    assert dead["kind"] == "proposal_received" and "550" in dead["last_error"]
    fm = await world.fund_manager()
    assert (await world.client.get("/api/v1/outbox", headers=fm.headers)).status_code == 403
    smtp_server.recorder.mode = "accept"
    retried = await world.client.post(f"/api/v1/outbox/{dead['id']}/retry", headers=admin.headers)
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    again = await world.client.post(f"/api/v1/outbox/{dead['id']}/retry", headers=admin.headers)
    assert again.status_code == 409
    assert await worker.drain() == {"sent": 1}
    assert len(smtp_server.messages) == 1


async def test_a_worker_that_dies_after_claiming_loses_nothing(
    world: World, db: Database, mail_settings: Settings, smtp_server: SmtpServer,
    clock: FrozenClock,
) -> None:  # fmt: skip
    await submitted_proposal(world)
    crashed = Worker(db, mail_settings, clock, SmtpTransport(mail_settings), name="crashed")
    claimed = await crashed.claim()  # ... and the process dies before sending
    assert len(claimed) == 1
    survivor = Worker(db, mail_settings, clock, SmtpTransport(mail_settings), name="survivor")
    assert await survivor.drain() == {}  # the lease still holds
    clock.advance(seconds=mail_settings.outbox_lease_s + 1)
    assert await survivor.drain() == {"sent": 1}
    assert len(smtp_server.messages) == 1
    [row] = await outbox(db)
    assert (row.status, row.claimed_by, row.attempts) == ("sent", "survivor", 2)
    # The crashed worker coming back cannot overwrite the outcome.
    await crashed._finish(claimed[0], status="dead")
    assert (await outbox(db))[0].status == "sent"


async def test_concurrent_workers_never_send_a_row_twice(
    world: World, db: Database, mail_settings: Settings, smtp_server: SmtpServer,
    clock: FrozenClock, backend: str,
) -> None:  # fmt: skip
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicants = [await world.applicant() for _ in range(6)]
    for who in applicants:
        for _ in range(5):
            await world.submitted(who, call["id"])
    assert len(await outbox(db)) == 30
    workers = [
        Worker(
            db,
            mail_settings,
            clock,
            SmtpTransport(mail_settings),
            name=f"w{i}",
            rng=random.Random(i),
        )
        for i in range(4)
    ]
    # On PostgreSQL the workers overlap for real (SKIP LOCKED); SQLite serialises them.
    results = await asyncio.gather(*(w.run_once(limit=5) for w in workers for _ in range(3)))
    assert sum(r.get("sent", 0) for r in results) == 30
    ids = smtp_server.recorder.ids()
    assert len(ids) == 30 and len(set(ids)) == 30
    assert {r.status for r in await outbox(db)} == {"sent"}
    _ = backend


async def test_without_smtp_the_demo_writes_eml_files(
    world: World, db: Database, settings: Settings, clock: FrozenClock
) -> None:
    applicant, proposal = await submitted_proposal(world)
    folder = settings.mail_dir
    demo = Worker(db, settings, clock, FolderTransport(folder), name="demo")
    assert await demo.drain() == {"sent": 1}
    [eml] = list(folder.glob("*.eml"))
    raw = eml.read_bytes()
    assert b"Message-ID: <" in raw and b"Content-Type: multipart/alternative" in raw
    assert applicant.email.encode() in raw
    assert not list(folder.glob("*.tmp"))
    _ = proposal


async def test_the_catalogue_lists_who_gets_what(world: World) -> None:
    fm = await world.fund_manager()
    r = await world.client.get("/api/v1/notifications/catalogue", headers=fm.headers)
    assert r.status_code == 200
    entries = {(e["event"], e["message"], e["recipients"]) for e in r.json()}
    assert ("proposal.submitted", "proposal_received", "applicant") in entries
    assert ("proposal.award_declined", "award_declined", "fund_managers") in entries
    assert (None, "report_overdue", "applicant") in entries
    applicant = await world.applicant()
    assert (await world.client.get("/api/v1/notifications/catalogue",
                                   headers=applicant.headers)).status_code == 403  # fmt: skip


async def test_sent_rows_are_not_claimed_again(world: World, db: Database, worker: Worker) -> None:
    await submitted_proposal(world)
    await worker.drain()
    async with db.unit_of_work() as session:  # an old "sending" lease on a sent row is ignored
        await session.execute(
            update(OutboxMessage).values(claimed_at=world.clock.now() - timedelta(days=1))
        )
    assert await worker.drain() == {}


async def test_a_whole_run_delivers_every_message_in_the_recipients_language(
    world: World, db: Database, worker: Worker, smtp_server: SmtpServer
) -> None:
    """Real events, real contexts, a real SMTP server: every message renders and arrives."""
    from facility.calls.grids import prag_full_application_grid
    from tests.factories import (
        declare_and_score,
        evaluator_with_profile,
        force_evaluated,
        full_evaluation,
        pass_screening,
    )

    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="450000.00")
    russian = await world.applicant(language="ru")
    english = await world.applicant(language="en")
    title = "Коридоры <b>safe</b> & sound"
    scored = await world.submitted(russian, call["id"], title=title)
    await pass_screening(world, fm, scored["id"])
    evaluators = [await evaluator_with_profile(world) for _ in range(2)]
    r = await world.client.post(f"/api/v1/calls/{call['id']}/assignments/auto", headers=fm.headers)
    by_id = {str(e.id): e for e in evaluators}
    for a in r.json()["created"]:
        done = await declare_and_score(
            world,
            by_id[a["evaluator"]["id"]],
            a["id"],
            full_evaluation(prag_full_application_grid(), 4),
        )
        assert done.status_code == 200, done.text
    others = [await world.submitted(english, call["id"]) for _ in range(2)]
    for p in others:
        await force_evaluated(world, p["id"], "70.00")
    # Award the scored one, reserve and reject the others; decline to free money, promote.
    assert (await world.fire(fm, scored["id"], "award")).status_code == 200
    assert (await world.fire(fm, others[0]["id"], "place_on_reserve")).status_code == 200
    rejected = await world.fire(fm, others[1]["id"], "reject", reasons=["Outside the focus."])
    assert rejected.status_code == 200
    assert (await world.fire(russian, scored["id"], "decline")).status_code == 200
    assert (await world.fire(fm, others[0]["id"], "promote")).status_code == 200

    outcome = await worker.drain()
    assert set(outcome) == {"sent"}, outcome
    kinds = {m["X-Facility-Kind"] for m in smtp_server.messages if m["X-Facility-Kind"]}
    subjects = {str(m["Subject"]) for m in smtp_server.messages}
    assert any(s.startswith("Получено:") and title in s for s in subjects)  # Russian receipt
    assert kinds == {
        "proposal_received", "evaluation_assigned", "awarded", "placed_on_reserve", "rejected",
        "award_declined", "promotion_proposed", "promoted_from_reserve",
    }  # fmt: skip
    rejection = next(
        m for m in smtp_server.messages if str(m["Subject"]).endswith("proposal not selected")
    )
    html = rejection.get_body(("html",)).get_content()
    assert "Outside the focus." in html and "Financial and operational capacity" in html
    for message in smtp_server.messages:
        assert "<b>safe</b>" not in message.get_body(("html",)).get_content()


async def test_the_server_delivers_and_runs_timers_by_itself(
    settings: Settings, clock: FrozenClock, world: World
) -> None:
    """`make run`: the worker and the scheduler run inside the API process."""
    from api.app import create_app
    from tests.factories import force_evaluated

    live = settings.model_copy(
        update={"worker_in_process": True, "worker_poll_s": 0.02, "scheduler_interval_s": 0.02}
    )
    app = create_app(live, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            fm = await world.fund_manager()
            call = await world.call(fm, acceptance_period_days=10)
            applicant = await world.applicant()
            proposal = await world.submitted(applicant, call["id"])
            await force_evaluated(world, proposal["id"])
            assert (await world.fire(fm, proposal["id"], "award")).status_code == 200
            clock.advance(days=10)
            for _ in range(200):  # the in-process loop delivers and fires on its own
                got = await client.get(f"/api/v1/proposals/{proposal['id']}",
                                       headers=applicant.headers)  # fmt: skip
                lapsed = got.json()["status"] == "declined"
                mails = list(live.mail_dir.glob("*.eml"))
                if lapsed and len(mails) >= 3:
                    break
                await asyncio.sleep(0.02)
    assert lapsed, "the award-lapse timer did not fire"
    raw = b"".join(m.read_bytes() for m in live.mail_dir.glob("*.eml"))
    assert b"X-Facility-Kind: award_lapsed" in raw
    assert b"X-Facility-Kind: proposal_received" in raw
