"""Invariants held by the database transaction, proven under concurrent requests.

On PostgreSQL the requests really overlap (a pool of 12 connections); on SQLite writers queue
for the single write connection and for SQLite's lock, taken up front with BEGIN IMMEDIATE.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text, update

from facility.calls.models import Call
from facility.db.engine import Database
from facility.settings import Settings
from tests.factories import World


async def test_twenty_concurrent_submissions_get_gap_free_references(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicants = [await world.applicant() for _ in range(4)]
    drafts = [
        (who, await world.ready_proposal(who, call["id"])) for who in applicants for _ in range(5)
    ]
    responses = await asyncio.gather(*(world.fire(who, p["id"], "submit") for who, p in drafts))
    assert [r.status_code for r in responses] == [200] * 20
    references = sorted(r.json()["receipt"]["reference"] for r in responses)
    assert references == [f"{call['reference']}-{n:04d}" for n in range(1, 21)]


async def test_ten_concurrent_creates_with_one_key_make_one_proposal(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    headers = {**applicant.headers, "Idempotency-Key": "same-key-10"}
    url = f"/api/v1/calls/{call['id']}/proposals"
    responses = await asyncio.gather(
        *(world.client.post(url, json={"title": "Once"}, headers=headers) for _ in range(10))
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses[201] == 1
    assert set(statuses) <= {201, 200, 409}  # a retry still in flight may be told to wait
    ids = {r.json()["id"] for r in responses if r.status_code in (200, 201)}
    assert len(ids) == 1
    listed = await world.client.get("/api/v1/proposals", headers=applicant.headers)
    assert [p["id"] for p in listed.json()["items"]] == list(ids)


async def test_one_winner_per_concurrent_transition(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    responses = await asyncio.gather(
        *(world.fire(applicant, proposal["id"], "withdraw") for _ in range(10))
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 9
    history = await world.client.get(
        f"/api/v1/proposals/{proposal['id']}/history", headers=applicant.headers
    )
    assert [h["event"] for h in history.json()].count("proposal.withdrawn") == 1


async def test_one_winner_per_concurrent_edit(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.draft(applicant, call["id"])
    etag = f'"v{proposal["version"]}"'
    responses = await asyncio.gather(
        *(
            world.client.patch(
                f"/api/v1/proposals/{proposal['id']}",
                json={"title": f"Version {i}"},
                headers={**applicant.headers, "If-Match": etag},
            )
            for i in range(10)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] + [412] * 9


async def test_sqlite_writers_in_separate_connections_wait_instead_of_failing(
    settings: Settings, backend: str, tmp_path: Path
) -> None:
    """Two engines on one file (as two processes would be): read-then-write transactions
    would deadlock on lock upgrade under deferred BEGIN; BEGIN IMMEDIATE makes them queue."""
    if backend != "sqlite":
        return  # PostgreSQL has row locks; this is about SQLite's single writer
    first, second = Database(settings), Database(settings)
    try:
        async with first.unit_of_work() as session:
            await session.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
            await session.execute(text("INSERT INTO counter VALUES (0)"))

        async def bump(db: Database) -> None:
            async with db.unit_of_work() as session:
                n = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
                await asyncio.sleep(0.005)  # hold the transaction open across the read
                await session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

        await asyncio.gather(*(bump(db) for _ in range(15) for db in (first, second)))
        async with first.unit_of_work(write=False) as session:
            assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 30
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_payment_is_recorded_once_under_concurrent_requests(world: World) -> None:
    from tests.factories import force_evaluated

    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    await force_evaluated(world, proposal["id"])
    assert (await world.fire(fm, proposal["id"], "award")).status_code == 200
    [grant] = (await world.client.get("/api/v1/grants", headers=fm.headers)).json()["items"]
    today = world.clock.now().date().isoformat()
    signed = await world.client.post(
        f"/api/v1/grants/{grant['id']}/transitions",
        json={"trigger": "sign_contract", "signed_on": today},
        headers=fm.headers,
    )
    assert signed.status_code == 200, signed.text
    payments = await world.client.get(f"/api/v1/grants/{grant['id']}/payments", headers=fm.headers)
    first = payments.json()[0]
    responses = await asyncio.gather(
        *(
            world.client.post(
                f"/api/v1/payments/{first['id']}/transitions",
                json={"trigger": "pay", "paid_on": today},
                headers=fm.headers,
            )
            for _ in range(8)
        )
    )
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    got = await world.client.get(f"/api/v1/grants/{grant['id']}", headers=fm.headers)
    assert got.json()["paid_total"] == first["amount"]


async def test_two_schedulers_queue_each_reminder_once(world: World, settings: Settings) -> None:
    from datetime import timedelta

    from sqlalchemy import func, select

    from facility.notifications import scheduler
    from facility.notifications.models import OutboxMessage
    from tests.factories import evaluator_with_profile, pass_screening

    fm = await world.fund_manager()
    call = await world.call(fm, evaluation_period_days=5)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    await pass_screening(world, fm, proposal["id"])
    for _ in range(2):
        await evaluator_with_profile(world)
    await world.client.post(f"/api/v1/calls/{call['id']}/assignments/auto", headers=fm.headers)
    world.clock.advance(timedelta(days=3))  # both evaluations due within three days
    first, second = Database(settings), Database(settings)
    try:
        queued = await asyncio.gather(
            scheduler.queue_reminders(first, world.clock),
            scheduler.queue_reminders(second, world.clock),
        )
    finally:
        await first.dispose()
        await second.dispose()
    assert sum(queued) == 2  # one per evaluator, whoever queued it
    async with world.svc.db.unit_of_work(write=False) as session:
        count = select(func.count()).select_from(OutboxMessage)
        reminders = count.where(OutboxMessage.kind == "evaluation_reminder")
        assert (await session.execute(reminders)).scalar_one() == 2


async def _with_call_changed_meanwhile(
    settings: Settings, call_id: str, status: str, request: Coroutine[Any, Any, httpx.Response]
) -> httpx.Response:
    """Run ``request`` while another transaction holds the call row and moves it to
    ``status``, committing only once the request is under way. On PostgreSQL the request's
    guards read the old status and its write must see the new one (409); on SQLite the
    request waits for the write lock before reading anything, so its guards refuse (422)."""
    other = Database(settings)
    try:
        async with other.unit_of_work() as session:
            # Stands in for the engine's own transition, which would hold the same row lock.
            await session.execute(
                update(Call).where(Call.id == uuid.UUID(call_id)).values(status=status)
            )
            task = asyncio.ensure_future(request)
            await asyncio.sleep(0.3)  # the request runs up to the call row and waits there
            assert not task.done()
        return await task
    finally:
        await other.dispose()


async def test_a_submission_racing_the_call_closing_is_refused(
    world: World, settings: Settings, backend: str
) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.ready_proposal(applicant, call["id"])
    submit = world.fire(applicant, proposal["id"], "submit")
    response = await _with_call_changed_meanwhile(settings, call["id"], "closed", submit)
    assert response.status_code == (409 if backend == "postgresql" else 422), response.text
    got = await world.client.get(f"/api/v1/proposals/{proposal['id']}", headers=applicant.headers)
    assert got.json()["status"] == "draft"
    assert got.json()["reference"] is None


async def test_an_award_racing_the_call_being_finalised_is_refused(
    world: World, settings: Settings, backend: str
) -> None:
    from tests.factories import force_evaluated

    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    await force_evaluated(world, proposal["id"])
    award = world.fire(fm, proposal["id"], "award")
    response = await _with_call_changed_meanwhile(settings, call["id"], "finalised", award)
    assert response.status_code == (409 if backend == "postgresql" else 422), response.text
    got = await world.client.get(f"/api/v1/calls/{call['id']}", headers=fm.headers)
    assert Decimal(got.json()["committed_amount"]) == 0


async def test_signing_and_declining_an_award_at_once_leaves_one_outcome(world: World) -> None:
    from tests.test_grants import grant_do, new_grant

    fm = await world.fund_manager()
    g = await new_grant(world, fm)
    today = world.clock.now().date().isoformat()
    signed, declined = await asyncio.gather(
        grant_do(world, fm, g, "sign_contract", signed_on=today),
        world.fire(g.grantee, g.proposal["id"], "decline"),
    )
    assert sorted([signed.status_code, declined.status_code]) == [200, 409], (
        signed.text,
        declined.text,
    )
    grant = (await world.client.get(g.url, headers=fm.headers)).json()
    proposal = (
        await world.client.get(f"/api/v1/proposals/{g.proposal['id']}", headers=fm.headers)
    ).json()
    if signed.status_code == 200:
        assert (grant["status"], proposal["status"]) == ("active", "contracted")
    else:
        assert (grant["status"], proposal["status"]) == ("terminated", "declined")
