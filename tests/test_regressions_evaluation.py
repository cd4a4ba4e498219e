"""Regressions found in review of issues 2 (foundation) and 3 (screening, evaluation,
ranking): each test states the behaviour users need, and each once failed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from facility.calls.grids import prag_concept_note_grid, prag_full_application_grid
from tests.factories import (
    Account,
    World,
    assignment_of,
    declare_and_score,
    evaluator_with_profile,
    full_evaluation,
    pass_screening,
)

GRID = prag_full_application_grid()
CN_GRID = prag_concept_note_grid()
NO_CONFLICT = {"conflict_of_interest": False, "statement": "No conflict; I keep it confidential."}
CONFLICT = {"conflict_of_interest": True, "statement": "I sit on this organisation's board."}


async def _status(world: World, fm: Account, proposal_id: str) -> str:
    r = await world.client.get(f"/api/v1/proposals/{proposal_id}", headers=fm.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


async def _auto(world: World, fm: Account, call_id: str) -> dict[str, Any]:
    r = await world.client.post(f"/api/v1/calls/{call_id}/assignments/auto", headers=fm.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def _in_evaluation_with_an_extra_evaluator(
    world: World,
) -> tuple[Account, dict[str, Any], list[Account], Account, str]:
    """A proposal with its two auto-assigned evaluators and a third assigned by hand; the two
    have submitted (same scores), the third's assignment is still open."""
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant(country="KG")
    proposal = await world.submitted(applicant, call["id"])
    await pass_screening(world, fm, proposal["id"])
    regular = [await evaluator_with_profile(world) for _ in range(2)]
    assert len((await _auto(world, fm, call["id"]))["created"]) == 2
    extra = await evaluator_with_profile(world)
    r = await world.client.post(
        f"/api/v1/proposals/{proposal['id']}/assignments",
        json={"evaluator_id": str(extra.id)},
        headers=fm.headers,
    )
    assert r.status_code == 201, r.text
    for evaluator in regular:
        mine = await assignment_of(world, evaluator, proposal["id"])
        done = await declare_and_score(world, evaluator, mine["id"], full_evaluation(GRID, 4))
        assert done.status_code == 200, done.text
    assert await _status(world, fm, proposal["id"]) == "evaluation"
    return fm, proposal, regular, extra, str(r.json()["id"])


# --- Issue 3 §6 consolidation: "When every active assignment of a proposal is submitted" ----


async def test_withdrawing_the_last_open_assignment_consolidates(world: World) -> None:
    fm, proposal, _, _, extra_assignment = await _in_evaluation_with_an_extra_evaluator(world)
    r = await world.client.post(
        f"/api/v1/assignments/{extra_assignment}/transitions",
        json={"trigger": "withdraw", "comment": "Not needed after all"},
        headers=fm.headers,
    )
    assert r.status_code == 200, r.text
    assert await _status(world, fm, proposal["id"]) == "evaluated"


async def test_recusal_of_the_last_open_assignment_consolidates(world: World) -> None:
    fm, proposal, _, extra, extra_assignment = await _in_evaluation_with_an_extra_evaluator(world)
    r = await world.client.post(
        f"/api/v1/assignments/{extra_assignment}/declaration", json=CONFLICT, headers=extra.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "recused"
    assert await _status(world, fm, proposal["id"]) == "evaluated"


# --- Issue 3 §3 "Declaring a conflict recuses the evaluator" / §2 conflict rules --------------


async def test_a_declared_conflict_carries_over_to_the_full_application(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, stages="two_stage", required_attachment_kinds=[])
    applicant = await world.applicant()
    evaluators = {str(e.id): e for e in [await evaluator_with_profile(world) for _ in range(3)]}
    note = await world.draft(applicant, call["id"])
    assert (await world.fire(applicant, note["id"], "submit")).status_code == 200
    await pass_screening(world, fm, note["id"])
    first = sorted(a["evaluator"]["id"] for a in (await _auto(world, fm, call["id"]))["created"])
    recuser = evaluators[first[0]]
    mine = await assignment_of(world, recuser, note["id"])
    r = await world.client.post(
        f"/api/v1/assignments/{mine['id']}/declaration", json=CONFLICT, headers=recuser.headers
    )
    assert r.status_code == 200, r.text
    for evaluator in evaluators.values():
        if evaluator is not recuser:
            a = await assignment_of(world, evaluator, note["id"])
            done = await declare_and_score(world, evaluator, a["id"], full_evaluation(CN_GRID, 4))
            assert done.status_code == 200, done.text
    assert await _status(world, fm, note["id"]) == "evaluated"
    assert (await world.fire(fm, note["id"], "shortlist")).status_code == 200
    due = (world.clock.now() + timedelta(days=30)).isoformat()
    invited = await world.fire(
        fm, note["id"], "invite_full_application", full_application_due_at=due
    )
    assert invited.status_code == 200, invited.text
    assert (await world.attach(applicant, note["id"])).status_code == 201
    assert (await world.fire(applicant, note["id"], "submit")).status_code == 200
    await pass_screening(world, fm, note["id"])

    second = {a["evaluator"]["id"] for a in (await _auto(world, fm, call["id"]))["created"]}
    assert len(second) == 2
    assert str(recuser.id) not in second


# --- Issue 3 §7 ranking: "shortlist cuts where cumulative requests reach 200 %" ---------------


async def test_a_rejected_concept_note_frees_its_place_under_the_cut(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(
        fm, stages="two_stage", budget_envelope="400000", required_attachment_kinds=[]
    )
    applicant = await world.applicant()
    evaluators = [await evaluator_with_profile(world) for _ in range(2)]
    notes = []
    for _ in range(5):  # 5 × 200 000 against a cut of 800 000: the fifth is below it
        note = await world.draft(applicant, call["id"])
        assert (await world.fire(applicant, note["id"], "submit")).status_code == 200
        await pass_screening(world, fm, note["id"])
        notes.append(note)
        world.clock.advance(minutes=1)
    await _auto(world, fm, call["id"])
    for evaluator in evaluators:
        for note in notes:
            a = await assignment_of(world, evaluator, note["id"])
            done = await declare_and_score(world, evaluator, a["id"], full_evaluation(CN_GRID, 4))
            assert done.status_code == 200, done.text
    url = f"/api/v1/calls/{call['id']}/ranking"
    rows = (await world.client.get(url, headers=fm.headers)).json()["rows"]
    assert [r["within_cut"] for r in rows] == [True, True, True, True, False]
    rejected = await world.fire(
        fm, rows[0]["proposal_id"], "reject", reasons=["Duplicate of another application."]
    )
    assert rejected.status_code == 200, rejected.text

    fifth = rows[4]["proposal_id"]
    shortlisted = await world.fire(fm, fifth, "shortlist")
    assert shortlisted.status_code == 200, shortlisted.text


# --- Issue 2 §7 "GET /api/v1/calls ... are public for published calls" ------------------------


async def test_a_draft_cancelled_before_publication_stays_private(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.draft_call(fm, title="Internal: budget not yet approved")
    assert (await world.client.get(f"/api/v1/calls/{call['id']}")).status_code == 404
    r = await world.client.post(
        f"/api/v1/calls/{call['id']}/transitions",
        json={"trigger": "cancel", "reason": "The budget was not approved"},
        headers=fm.headers,
    )
    assert r.status_code == 200, r.text
    applicant = await world.applicant()
    for headers in ({}, applicant.headers):
        one = await world.client.get(f"/api/v1/calls/{call['id']}", headers=headers)
        assert one.status_code == 404, one.text
        listed = (await world.client.get("/api/v1/calls", headers=headers)).json()["items"]
        assert call["id"] not in [c["id"] for c in listed]


# --- Issue 2 §11 "validation errors with field paths"; never a concurrency error for bad input --


async def test_a_request_above_the_total_budget_is_a_field_error(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    created = await world.client.post(
        f"/api/v1/calls/{call['id']}/proposals",
        json={"title": "Corridors", "requested_amount": "240000.00", "total_budget": "200000.00"},
        headers=applicant.headers,
    )
    assert created.status_code == 422, created.text
    assert "requested_amount" in {e["field"] for e in created.json()["errors"]}

    draft = await world.draft(applicant, call["id"])  # 200 000 of 230 000
    got = await world.client.get(f"/api/v1/proposals/{draft['id']}", headers=applicant.headers)
    patched = await world.client.patch(
        f"/api/v1/proposals/{draft['id']}",
        json={"requested_amount": "240000.00"},
        headers={**applicant.headers, "If-Match": got.headers["etag"]},
    )
    assert patched.status_code == 422, patched.text
    assert "requested_amount" in {e["field"] for e in patched.json()["errors"]}


# --- Issue 3 §7 "the concept-note content locked": same value, different spelling ------------


async def test_resending_the_same_country_shares_is_not_a_change(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, stages="two_stage", required_attachment_kinds=[])
    applicant = await world.applicant()
    evaluators = [await evaluator_with_profile(world) for _ in range(2)]
    note = await world.draft(applicant, call["id"])  # shares "60" and "40"
    assert (await world.fire(applicant, note["id"], "submit")).status_code == 200
    await pass_screening(world, fm, note["id"])
    await _auto(world, fm, call["id"])
    for evaluator in evaluators:
        a = await assignment_of(world, evaluator, note["id"])
        done = await declare_and_score(world, evaluator, a["id"], full_evaluation(CN_GRID, 4))
        assert done.status_code == 200, done.text
    assert (await world.fire(fm, note["id"], "shortlist")).status_code == 200
    due = (world.clock.now() + timedelta(days=30)).isoformat()
    invited = await world.fire(
        fm, note["id"], "invite_full_application", full_application_due_at=due
    )
    assert invited.status_code == 200, invited.text
    url = f"/api/v1/proposals/{note['id']}"
    got = await world.client.get(url, headers=applicant.headers)
    shares = [{"country": "KG", "share": "60.00"}, {"country": "TJ", "share": "40.00"}]
    r = await world.client.patch(
        url,
        json={"country_shares": shares, "duration_months": 14},
        headers={**applicant.headers, "If-Match": got.headers["etag"]},
    )
    assert r.status_code == 200, r.text


# --- Issue 3 §8 "Every step is ... an audit event" ---------------------------------------------


async def test_screening_checklist_results_are_in_the_audit_trail(world: World) -> None:
    fm = await world.fund_manager()
    checklist = [{"id": "declaration_of_honour", "label": "Declaration signed", "mandatory": True}]
    call = await world.call(fm, screening_checklist=checklist)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    url = f"/api/v1/proposals/{proposal['id']}"
    for passed, note in ((False, "Not signed"), (True, None)):
        r = await world.client.put(
            f"{url}/screening",
            json={"items": [{"id": "declaration_of_honour", "passed": passed, "note": note}]},
            headers=fm.headers,
        )
        assert r.status_code == 200, r.text
    history = (await world.client.get(f"{url}/history", headers=fm.headers)).json()
    recorded = [h for h in history if "declaration_of_honour" in str(h["payload"])]
    assert len(recorded) == 2, [h["event"] for h in history]


# --- Issue 2 §9 refusal reasons must be understandable: "co-financing below the minimum" -------


async def test_cofinancing_refusal_does_not_contradict_itself(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, min_cofinancing_pct="5")
    applicant = await world.applicant()
    draft = await world.ready_proposal(
        applicant, call["id"], requested_amount="218500.01", total_budget="230000.00"
    )
    refused = await world.fire(applicant, draft["id"], "submit")
    assert refused.status_code == 422, refused.text
    [error] = [e for e in refused.json()["errors"] if e["code"] == "cofinancing_too_low"]
    assert "Co-financing is 5.00 %" not in error["detail"], error["detail"]
    assert draft["cofinancing_pct"] != "5.00"
