"""Requests stay cheap: the number of SQL statements per request is budgeted, because the
Python stack, not the database, is what limits throughput here (docs/performance.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from facility.db.engine import Database
from tests.factories import World


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.startswith(("PRAGMA", "BEGIN", "SAVEPOINT", "RELEASE")):
            seen.append(statement.split()[0].upper())

    engines = {db.write_engine.sync_engine, db.read_engine.sync_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def test_reads_and_writes_stay_within_their_statement_budget(
    world: World, db: Database
) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    draft = await world.ready_proposal(applicant, call["id"])

    with statements(db) as seen:
        assert (await world.client.get(f"/api/v1/calls/{call['id']}")).status_code == 200
    assert len(seen) <= 1, seen

    with statements(db) as seen:
        r = await world.client.get(f"/api/v1/proposals/{draft['id']}", headers=applicant.headers)
        assert r.status_code == 200
    assert len(seen) <= 3, seen  # the user, the proposal, its attachments

    with statements(db) as seen:
        r = await world.client.post(
            f"/api/v1/calls/{call['id']}/proposals", json={"title": "x"}, headers=applicant.headers
        )
        assert r.status_code == 201
    assert len(seen) <= 7, seen

    with statements(db) as seen:
        r = await world.fire(applicant, draft["id"], "submit")
        assert r.status_code == 200
    # user, proposal (locked), call, organisation, attachments, reference counter, receipt,
    # proposal update, audit event, outbox (organisation's users, call, message), response
    assert len(seen) <= 18, seen
