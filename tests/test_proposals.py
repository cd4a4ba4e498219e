"""Proposals: drafting, optimistic editing, submission rules, receipts, frozen content,
withdrawal, visibility and history."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import Account, World


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _get(world: World, who: Account, proposal_id: str) -> httpx.Response:
    return await world.client.get(f"/api/v1/proposals/{proposal_id}", headers=who.headers)


async def _patch(
    world: World, who: Account, proposal_id: str, etag: str | None, **body: Any
) -> httpx.Response:
    headers = dict(who.headers)
    if etag is not None:
        headers["If-Match"] = etag
    return await world.client.patch(f"/api/v1/proposals/{proposal_id}", json=body, headers=headers)


async def test_draft_then_submit_gives_a_receipt_and_freezes_content(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    draft = await world.ready_proposal(applicant, call["id"])
    assert draft["status"] == "draft" and draft["editable"] is True
    assert draft["stage"] == "full_application"
    assert draft["cofinancing_pct"] == "13.04"  # (230000 - 200000) / 230000
    assert draft["available_transitions"] == ["submit", "withdraw"]

    world.clock.advance(hours=2)
    r = await world.fire(applicant, draft["id"], "submit", comment="Our proposal")
    assert r.status_code == 200, r.text
    submitted = r.json()
    receipt = submitted["receipt"]
    assert submitted["status"] == "submitted" and submitted["editable"] is False
    assert receipt["reference"] == f"{call['reference']}-0001"
    assert _iso(receipt["submitted_at"]) == world.clock.now()
    assert submitted["available_transitions"] == ["withdraw"]

    # The receipt's hash is the SHA-256 of the frozen canonical content.
    subs = await world.client.get(
        f"/api/v1/proposals/{draft['id']}/submissions", headers=applicant.headers
    )
    [frozen] = subs.json()
    canonical = json.dumps(frozen["content"], sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False).encode()  # fmt: skip
    assert (
        hashlib.sha256(canonical).hexdigest() == receipt["content_hash"] == frozen["content_hash"]
    )
    assert frozen["content"]["title"] == draft["title"]
    assert [a["kind"] for a in frozen["content"]["attachments"]] == ["budget"]

    # Frozen: no more edits or files.
    edit = await _patch(world, applicant, draft["id"], f'"v{submitted["version"]}"', title="New")
    assert edit.status_code == 409
    assert edit.json()["state"] == "submitted"
    late_file = await world.attach(applicant, draft["id"])
    assert late_file.status_code == 409
    again = await world.fire(applicant, draft["id"], "submit")
    assert again.status_code == 409


async def test_deadline_is_kept_to_the_second(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    closes_at = _iso(call["closes_at"])
    applicant = await world.applicant()
    on_time = await world.ready_proposal(applicant, call["id"])
    exactly = await world.ready_proposal(applicant, call["id"])
    late = await world.ready_proposal(applicant, call["id"])

    world.clock.set(closes_at - timedelta(seconds=1))
    assert (await world.fire(applicant, on_time["id"], "submit")).status_code == 200
    world.clock.set(closes_at + timedelta(milliseconds=999))  # still the deadline's second
    assert (await world.fire(applicant, exactly["id"], "submit")).status_code == 200
    world.clock.set(closes_at + timedelta(seconds=1))
    refused = await world.fire(applicant, late["id"], "submit")
    assert refused.status_code == 422
    body = refused.json()
    assert body["type"] == "/problems/transition-refused"
    assert [e["code"] for e in body["errors"]] == ["deadline_passed"]
    assert "1 s late" in body["errors"][0]["detail"]
    still = (await _get(world, applicant, late["id"])).json()
    assert still["status"] == "draft" and still["receipt"] is None


async def test_every_refusal_reason_is_listed_at_once(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, eligible_org_types=[10], min_cofinancing_pct="20",
                            required_attachment_kinds=["budget", "legal_entity_sheet"])  # fmt: skip
    applicant = await world.applicant(iati_type=22)  # a national NGO; the call wants government
    proposal = await world.draft(
        applicant, call["id"],
        requested_amount="260000.00", total_budget="270000.00",  # above max; 3.7 % co-financing
        duration_months=24,
        primary_priority="integration",  # not in the call's scope
        country_shares=[{"country": "KG", "share": "50"}, {"country": "FR", "share": "50"}],
        summary=None, gender_justification=None,
    )  # fmt: skip
    await world.attach(applicant, proposal["id"], "budget")
    r = await world.fire(applicant, proposal["id"], "submit")
    assert r.status_code == 422
    errors = r.json()["errors"]
    by_code = {e["code"]: e for e in errors}
    assert set(by_code) == {
        "required", "amount_out_of_range", "duration_out_of_range", "cofinancing_too_low",
        "organisation_type_not_eligible", "country_not_eligible", "priority_out_of_scope",
        "attachment_missing",
    }  # fmt: skip
    assert {e["field"] for e in errors if e["code"] == "required"} == {
        "summary",
        "gender_justification",
    }
    assert by_code["country_not_eligible"]["field"] == "country_shares.1.country"
    assert by_code["country_not_eligible"]["location"] == "subject"
    assert "legal_entity_sheet" in by_code["attachment_missing"]["detail"]


async def test_before_opening_and_closed_calls_refuse_submission(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.ready_proposal(applicant, call["id"])
    world.clock.set(_iso(call["opens_at"]) - timedelta(seconds=1))
    early = await world.fire(applicant, proposal["id"], "submit")
    assert [e["code"] for e in early.json()["errors"]] == ["before_opening"]
    world.clock.set(_iso(call["opens_at"]) + timedelta(minutes=1))
    await world.client.post(
        f"/api/v1/calls/{call['id']}/transitions", json={"trigger": "close"}, headers=fm.headers
    )
    closed = await world.fire(applicant, proposal["id"], "submit")
    assert [e["code"] for e in closed.json()["errors"]] == ["call_not_open"]
    no_new = await world.client.post(
        f"/api/v1/calls/{call['id']}/proposals", json={}, headers=applicant.headers
    )
    assert no_new.status_code == 409


async def test_gender_marker_needs_a_sex_disaggregated_indicator(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    logframe = {
        "objective": "Better protection.",
        "outcomes": [{"statement": "Shelters run.", "indicators": [
            {"code": "1", "name": "Shelters", "target": "3", "sex_disaggregated": False}]}],
    }  # fmt: skip
    proposal = await world.ready_proposal(applicant, call["id"], gender_marker=2, logframe=logframe)
    r = await world.fire(applicant, proposal["id"], "submit")
    assert [e["code"] for e in r.json()["errors"]] == ["gender_indicator_missing"]


async def test_editing_needs_the_current_etag(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.draft(applicant, call["id"])
    got = await _get(world, applicant, proposal["id"])
    etag = got.headers["etag"]
    assert (await _patch(world, applicant, proposal["id"], None, title="x")).status_code == 428
    ok = await _patch(world, applicant, proposal["id"], etag, title="A clearer title")
    assert ok.status_code == 200 and ok.json()["title"] == "A clearer title"
    assert ok.headers["etag"] != etag
    stale = await _patch(world, applicant, proposal["id"], etag, title="Lost update")
    assert stale.status_code == 412
    assert (await _get(world, applicant, proposal["id"])).json()["title"] == "A clearer title"
    weak = await _patch(world, applicant, proposal["id"], "W/" + ok.headers["etag"], title="x")
    assert weak.status_code == 412
    same = await _patch(
        world,
        applicant,
        proposal["id"],
        ok.headers["etag"],
        secondary_priorities=["migration_mobility"],
    )
    assert same.status_code == 422  # the primary priority cannot also be secondary
    fm_edit = await _patch(world, fm, proposal["id"], ok.headers["etag"], title="By staff")
    assert fm_edit.status_code == 403


async def test_idempotency_key_replays_and_refuses_a_different_body(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    url = f"/api/v1/calls/{call['id']}/proposals"
    headers = {**applicant.headers, "Idempotency-Key": "create-42"}
    first = await world.client.post(url, json={"title": "One"}, headers=headers)
    assert first.status_code == 201
    replay = await world.client.post(url, json={"title": "One"}, headers=headers)
    assert replay.status_code == 200
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    different = await world.client.post(url, json={"title": "Two"}, headers=headers)
    assert different.status_code == 422
    assert different.json()["type"] == "/problems/idempotency-key-reused"
    # Keys belong to a user: someone else's identical key is a new request.
    other = await world.applicant()
    theirs = await world.client.post(
        url, json={"title": "One"}, headers={**other.headers, "Idempotency-Key": "create-42"}
    )
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    listed = await world.client.get("/api/v1/proposals", headers=applicant.headers)
    assert len(listed.json()["items"]) == 1


async def test_withdrawal(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    submitted = await world.submitted(applicant, call["id"])
    assert (await world.fire(fm, submitted["id"], "withdraw")).status_code == 403
    r = await world.fire(applicant, submitted["id"], "withdraw", comment="Partner left")
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    assert r.json()["available_transitions"] == []
    again = await world.fire(applicant, submitted["id"], "withdraw")
    assert again.status_code == 409
    draft = await world.draft(applicant, call["id"])
    assert (await world.fire(applicant, draft["id"], "withdraw")).json()["status"] == "withdrawn"


async def test_unknown_trigger_is_a_validation_error(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    draft = await world.draft(applicant, call["id"])
    r = await world.fire(applicant, draft["id"], "teleport")
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "trigger"


async def test_visibility_and_listing(world: World) -> None:
    fm = await world.fund_manager()
    call_a = await world.call(fm)
    call_b = await world.call(fm)
    alice, bob = await world.applicant(), await world.applicant(country="TJ")
    a1 = await world.submitted(alice, call_a["id"])
    a2 = await world.draft(alice, call_b["id"])
    b1 = await world.draft(bob, call_a["id"])

    assert (await _get(world, bob, a1["id"])).status_code == 404
    assert (await _patch(world, bob, a1["id"], '"v1"', title="x")).status_code == 404
    assert (await world.fire(bob, a2["id"], "withdraw")).status_code == 404
    mine = (await world.client.get("/api/v1/proposals", headers=alice.headers)).json()["items"]
    assert {p["id"] for p in mine} == {a1["id"], a2["id"]}
    everything = await world.client.get("/api/v1/proposals", headers=fm.headers)
    assert {p["id"] for p in everything.json()["items"]} == {a1["id"], a2["id"], b1["id"]}
    by_call = await world.client.get(
        f"/api/v1/proposals?call_id={call_a['id']}&status=submitted", headers=fm.headers
    )
    assert [p["id"] for p in by_call.json()["items"]] == [a1["id"]]
    capped = await world.client.get("/api/v1/proposals?limit=500", headers=fm.headers)
    assert capped.status_code == 200  # capped at the configured maximum, not refused
    first = await world.client.get("/api/v1/proposals?limit=2", headers=fm.headers)
    rest = await world.client.get(
        f"/api/v1/proposals?limit=2&cursor={first.json()['next_cursor']}", headers=fm.headers
    )
    ids = [p["id"] for p in first.json()["items"] + rest.json()["items"]]
    assert ids == [b1["id"], a2["id"], a1["id"]]
    assert rest.json()["next_cursor"] is None


async def test_history_shows_applicants_only_their_side(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    # A staff transition with an internal comment.
    r = await world.fire(fm, proposal["id"], "start_screening", comment="Looks thin on budget")
    assert r.status_code == 200, r.text

    url = f"/api/v1/proposals/{proposal['id']}/history"
    staff = (await world.client.get(url, headers=fm.headers)).json()
    assert [h["event"] for h in staff] == [
        "proposal.created", "proposal.submitted", "proposal.screening_started"
    ]  # fmt: skip
    assert staff[-1]["comment"] == "Looks thin on budget"
    assert staff[-1]["actor"] == {"role": "fund_manager", "id": str(fm.id)}
    assert staff[-2]["payload"]["reference"] == proposal["receipt"]["reference"]

    own = (await world.client.get(url, headers=applicant.headers)).json()
    assert own[-1]["comment"] is None
    assert own[-1]["actor"] == {"role": "fund_manager", "id": None}
    assert own[-2]["payload"]["content_hash"] == proposal["receipt"]["content_hash"]
    assert own[-2]["actor"]["id"] == str(applicant.id)


@pytest.mark.parametrize("stages", ["single", "two_stage"])
async def test_stage_follows_the_call(world: World, stages: str) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, stages=stages)
    applicant = await world.applicant()
    proposal = await world.draft(applicant, call["id"])
    assert proposal["stage"] == ("concept_note" if stages == "two_stage" else "full_application")
    if stages == "two_stage":
        # A concept note needs no logframe and no full-application attachments.
        r = await world.fire(applicant, proposal["id"], "submit")
        assert r.status_code == 200, r.text
