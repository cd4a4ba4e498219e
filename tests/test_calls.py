"""Calls: creation with field-level validation, editing while draft, the call workflow."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from facility.calls.grids import prag_concept_note_grid, prag_full_application_grid
from tests.factories import Account, World, call_body


def _fields(r: httpx.Response) -> set[str]:
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return {e["field"] for e in r.json()["errors"]}


async def test_create_returns_a_draft_with_etag_and_location(world: World) -> None:
    fm = await world.fund_manager()
    r = await world.client.post("/api/v1/calls", json=call_body(world.clock), headers=fm.headers)
    assert r.status_code == 201, r.text
    call = r.json()
    assert call["status"] == "draft"
    assert call["available_transitions"] == ["publish", "cancel"]
    assert r.headers["location"] == f"/api/v1/calls/{call['id']}"
    assert r.headers["etag"] == f'"v{call["version"]}"'
    assert call["evaluation_grid"]["max_points"] == "100"
    caps = {s["id"]: s["max_points"] for s in call["evaluation_grid"]["sections"]}
    assert caps == {"capacity": "20", "relevance": "30", "effectiveness": "20",
                    "sustainability": "15", "budget": "15"}  # fmt: skip
    assert call["opens_at"].endswith("Z")


async def test_every_cross_field_problem_is_reported_at_once(world: World) -> None:
    fm = await world.fund_manager()
    bad_grid = prag_full_application_grid()
    bad_grid["sections"][0]["threshold"] = "25"  # capacity maximum is 20
    bad_grid["pass_mark"] = "101"
    bad_grid["criteria"][0]["section"] = "finance"
    body = call_body(
        world.clock,
        budget_envelope="200000",  # below max_grant
        min_grant="260000",  # above max_grant
        min_duration_months=20,  # above max_duration_months
        closes_at=(world.clock.now() - timedelta(days=1)).isoformat(),  # before opens_at
        evaluation_grid=bad_grid,
        concept_note_grid=prag_concept_note_grid(),  # single-stage call
    )
    r = await world.client.post("/api/v1/calls", json=body, headers=fm.headers)
    assert r.status_code == 422
    assert _fields(r) >= {
        "max_grant", "budget_envelope", "max_duration_months", "closes_at",
        "concept_note_grid", "evaluation_grid.sections.0.threshold", "evaluation_grid.pass_mark",
        "evaluation_grid.criteria.0.section",
    }  # fmt: skip


async def test_codes_are_checked_field_by_field(world: World) -> None:
    fm = await world.fund_manager()
    body = call_body(
        world.clock,
        eligible_countries=["KG", "XX"],
        eligible_org_types=[22, 99],
        priorities=["integration", "space_travel"],
        currency="euro",
    )
    r = await world.client.post("/api/v1/calls", json=body, headers=fm.headers)
    assert r.status_code == 422
    assert _fields(r) == {
        "eligible_countries.1", "eligible_org_types.1", "priorities.1", "currency",
    }  # fmt: skip


async def test_fixed_deadline_needs_a_deadline_and_two_stage_a_concept_note_grid(
    world: World,
) -> None:
    fm = await world.fund_manager()
    body = call_body(world.clock, closes_at=None, stages="two_stage")
    del body["concept_note_grid"]
    r = await world.client.post("/api/v1/calls", json=body, headers=fm.headers)
    assert r.status_code == 422
    assert _fields(r) == {"closes_at", "concept_note_grid"}
    rolling = call_body(world.clock, closes_at=None, mode="rolling")
    assert (
        await world.client.post("/api/v1/calls", json=rolling, headers=fm.headers)
    ).status_code == 201


async def test_duplicate_reference_is_a_conflict(world: World) -> None:
    fm = await world.fund_manager()
    body = call_body(world.clock)
    assert (
        await world.client.post("/api/v1/calls", json=body, headers=fm.headers)
    ).status_code == 201
    again = await world.client.post("/api/v1/calls", json=body, headers=fm.headers)
    assert again.status_code == 409
    assert again.json()["type"] == "/problems/conflict"


async def _patch(
    world: World, fm: Account, call: dict[str, Any], etag: str | None, **body: Any
) -> httpx.Response:
    headers = dict(fm.headers)
    if etag is not None:
        headers["If-Match"] = etag
    return await world.client.patch(f"/api/v1/calls/{call['id']}", json=body, headers=headers)


async def test_draft_edits_need_a_fresh_etag(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.draft_call(fm)
    etag = f'"v{call["version"]}"'
    assert (await _patch(world, fm, call, None, title="New")).status_code == 428
    ok = await _patch(world, fm, call, etag, title="New title", max_grant="240000")
    assert ok.status_code == 200, ok.text
    assert (ok.json()["title"], ok.json()["max_grant"]) == ("New title", "240000.00")
    assert ok.headers["etag"] != etag
    stale = await _patch(world, fm, call, etag, title="Lost update")
    assert stale.status_code == 412
    # The merged result is validated: min above the new max.
    bad = await _patch(world, fm, call, ok.headers["etag"], min_grant="245000")
    assert bad.status_code == 422
    assert _fields(bad) == {"max_grant"}
    nulled = await _patch(world, fm, call, ok.headers["etag"], title=None, budget_envelope=None)
    assert nulled.status_code == 422
    assert _fields(nulled) == {"title", "budget_envelope"}


async def test_published_rules_are_frozen_and_deadline_only_moves_later(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    r = await world.client.get(f"/api/v1/calls/{call['id']}")
    frozen = await _patch(world, fm, call, r.headers["etag"], max_grant="200000")
    assert frozen.status_code == 409
    url = f"/api/v1/calls/{call['id']}/transitions"
    earlier = (world.clock.now() + timedelta(days=10)).isoformat()
    refused = await world.client.post(
        url, json={"trigger": "extend_deadline", "closes_at": earlier}, headers=fm.headers
    )
    assert refused.status_code == 422
    assert refused.json()["type"] == "/problems/transition-refused"
    later = world.clock.now() + timedelta(days=45)
    moved = await world.client.post(
        url, json={"trigger": "extend_deadline", "closes_at": later.isoformat(),
                   "comment": "Ramadan"}, headers=fm.headers,
    )  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["closes_at"] == later.isoformat().replace("+00:00", "Z")
    history = (
        await world.client.get(f"/api/v1/calls/{call['id']}/history", headers=fm.headers)
    ).json()
    extension = history[-1]
    assert extension["event"] == "call.deadline_extended"
    assert extension["payload"]["previous_closes_at"] == call["closes_at"].replace("Z", "+00:00")
    assert extension["comment"] == "Ramadan"
    assert [h["event"] for h in history] == [
        "call.created",
        "call.published",
        "call.deadline_extended",
    ]


async def test_publish_refuses_a_past_deadline(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.draft_call(fm)
    world.clock.advance(days=31)
    r = await world.client.post(
        f"/api/v1/calls/{call['id']}/transitions", json={"trigger": "publish"}, headers=fm.headers
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["code"] == "deadline_passed"


async def test_lifecycle_close_finalise_and_cancel(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    url = f"/api/v1/calls/{call['id']}/transitions"
    no_reason = await world.client.post(url, json={"trigger": "cancel"}, headers=fm.headers)
    assert no_reason.status_code == 422
    closed = await world.client.post(url, json={"trigger": "close"}, headers=fm.headers)
    assert closed.json()["status"] == "closed"
    assert closed.json()["accepting_submissions"] is False
    cancel = await world.client.post(
        url, json={"trigger": "cancel", "reason": "Too late"}, headers=fm.headers
    )
    assert cancel.status_code == 409
    assert cancel.json()["available_transitions"] == ["finalise"]
    final = await world.client.post(url, json={"trigger": "finalise"}, headers=fm.headers)
    assert final.json()["status"] == "finalised"
    assert final.json()["available_transitions"] == []

    other = await world.call(fm)
    gone = await world.client.post(
        f"/api/v1/calls/{other['id']}/transitions",
        json={"trigger": "cancel", "reason": "Funding withdrawn"}, headers=fm.headers,
    )  # fmt: skip
    assert gone.json()["status"] == "cancelled"


async def test_public_sees_published_calls_never_drafts(world: World) -> None:
    fm = await world.fund_manager()
    draft = await world.draft_call(fm)
    published = await world.call(fm)
    public = (await world.client.get("/api/v1/calls")).json()["items"]
    assert [c["id"] for c in public] == [published["id"]]
    assert public[0]["available_transitions"] == []
    assert (await world.client.get(f"/api/v1/calls/{draft['id']}")).status_code == 404
    applicant = await world.applicant()
    r = await world.client.get(f"/api/v1/calls/{draft['id']}", headers=applicant.headers)
    assert r.status_code == 404
    staff = (await world.client.get("/api/v1/calls", headers=fm.headers)).json()["items"]
    assert {c["id"] for c in staff} == {draft["id"], published["id"]}
    only_drafts = await world.client.get("/api/v1/calls?status=draft", headers=fm.headers)
    assert [c["id"] for c in only_drafts.json()["items"]] == [draft["id"]]


async def test_call_pages_follow_the_cursor(world: World) -> None:
    fm = await world.fund_manager()
    made = [(await world.call(fm))["id"] for _ in range(5)]
    seen: list[str] = []
    url = "/api/v1/calls?limit=2"
    while True:
        page = (await world.client.get(url)).json()
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        if page["next_cursor"] is None:
            break
        url = f"/api/v1/calls?limit=2&cursor={page['next_cursor']}"
    assert seen == list(reversed(made))


async def test_times_are_utc_with_offset(world: World) -> None:
    fm = await world.fund_manager()
    opens = "2026-03-02T14:00:00+05:00"  # Tashkent
    call = await world.draft_call(fm, opens_at=opens, closes_at="2026-04-01T23:59:59+05:00")
    assert call["opens_at"] == "2026-03-02T09:00:00Z"
    assert call["closes_at"] == "2026-04-01T18:59:59Z"
