"""Ranking with deterministic ties, the 200 % shortlist cut, the ±20 % rule, and a full
two-stage run through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from facility.calls.grids import prag_concept_note_grid, prag_full_application_grid
from tests.factories import (
    Account,
    World,
    declare_and_score,
    evaluator_with_profile,
    full_evaluation,
    pass_screening,
)

CN_GRID = prag_concept_note_grid()
FA_GRID = prag_full_application_grid()


async def evaluate_all(
    world: World, fm: Account, call_id: str, evaluators: list[Account], scores: dict[str, Any]
) -> None:
    """Assign every proposal in evaluation, then let each evaluator score their queue with
    ``scores[proposal_id]`` (a level or per-criterion scores) on the given grid."""
    r = await world.client.post(f"/api/v1/calls/{call_id}/assignments/auto", headers=fm.headers)
    assert r.status_code == 200, r.text
    assert not r.json()["unfilled"], r.json()
    for evaluator in evaluators:
        queue = (await world.client.get("/api/v1/me/assignments", headers=evaluator.headers)).json()
        for a in queue:
            if a["status"] != "assigned":
                continue
            grid = CN_GRID if a["stage"] == "concept_note" else FA_GRID
            done = await declare_and_score(
                world, evaluator, a["id"], full_evaluation(grid, scores[a["proposal_id"]])
            )
            assert done.status_code == 200, done.text


async def _ranking(world: World, fm: Account, call_id: str, stage: str) -> dict[str, Any]:
    r = await world.client.get(f"/api/v1/calls/{call_id}/ranking?stage={stage}", headers=fm.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_ties_break_on_relevance_then_earlier_submission(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    evaluators = [await evaluator_with_profile(world) for _ in range(2)]
    x = await world.submitted(applicant, call["id"])
    world.clock.advance(minutes=5)
    y = await world.submitted(applicant, call["id"])
    world.clock.advance(minutes=5)
    z = await world.submitted(applicant, call["id"])
    for p in (x, y, z):
        await pass_screening(world, fm, p["id"])
    # Y: relevance 30 instead of 24, sustainability 6 instead of 12: the same total, 80.
    y_scores = {c["id"]: 5 if c["section"] == "relevance" else 2 if c["section"] == "sustainability"
                else 4 for c in FA_GRID["criteria"]}  # fmt: skip
    await evaluate_all(
        world, fm, call["id"], evaluators, {x["id"]: 4, y["id"]: y_scores, z["id"]: 4}
    )
    ranking = await _ranking(world, fm, call["id"], "full_application")
    rows = ranking["rows"]
    assert [r["total"] for r in rows] == ["80.00"] * 3
    assert [r["proposal_id"] for r in rows] == [y["id"], x["id"], z["id"]]
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert [r["cumulative_requested"] for r in rows] == ["200000.00", "400000.00", "600000.00"]
    assert ranking["cut_percent"] == 100
    assert ranking["cut_amount"] == "1500000.00"
    assert ranking["cut_after_rank"] == 3
    again = await _ranking(world, fm, call["id"], "full_application")
    assert again == ranking


async def test_the_shortlist_cut_is_200_percent_of_the_envelope(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(
        fm, stages="two_stage", budget_envelope="400000", max_grant="250000", min_grant="150000"
    )
    applicant = await world.applicant()
    evaluators = [await evaluator_with_profile(world) for _ in range(2)]
    proposals = []
    for _ in range(5):
        p = await world.draft(applicant, call["id"])
        assert (await world.fire(applicant, p["id"], "submit")).status_code == 200
        await pass_screening(world, fm, p["id"])
        proposals.append(p)
        world.clock.advance(minutes=1)
    levels = {p["id"]: 5 - i % 2 for i, p in enumerate(proposals)}  # 50, 40, 50, 40, 50
    await evaluate_all(world, fm, call["id"], evaluators, levels)
    ranking = await _ranking(world, fm, call["id"], "concept_note")
    assert ranking["cut_percent"] == 200
    assert ranking["cut_amount"] == "800000.00"
    rows = ranking["rows"]
    assert [r["within_cut"] for r in rows] == [True, True, True, True, False]
    assert [r["total"] for r in rows] == ["50.00", "50.00", "50.00", "40.00", "40.00"]
    below = rows[-1]["proposal_id"]
    refused = await world.fire(fm, below, "shortlist")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["code"] == "below_shortlist_cut"
    done = await world.client.post(f"/api/v1/calls/{call['id']}/shortlist", headers=fm.headers)
    assert done.status_code == 200, done.text
    assert {p["id"] for p in done.json()} == {r["proposal_id"] for r in rows[:4]}
    assert {p["status"] for p in done.json()} == {"shortlisted"}
    not_selected = await world.fire(
        fm, below, "reject", reasons=["Below the pre-selection cut of the ranked list."]
    )
    assert not_selected.json()["status"] == "rejected"


async def test_full_two_stage_run(world: World) -> None:
    fm = await world.fund_manager()
    checklist = [{"id": "declaration_of_honour", "label": "Declaration signed", "mandatory": True}]
    call = await world.call(fm, stages="two_stage", screening_checklist=checklist,
                            required_attachment_kinds=["budget"])  # fmt: skip
    applicant = await world.applicant()
    evaluators = [await evaluator_with_profile(world) for _ in range(2)]

    # Stage 1: the concept note.
    note = await world.draft(applicant, call["id"], requested_amount="200000.00")
    assert note["stage"] == "concept_note"
    submitted = await world.fire(applicant, note["id"], "submit")
    assert submitted.status_code == 200, submitted.text
    reference = submitted.json()["receipt"]["reference"]
    await pass_screening(world, fm, note["id"])
    await evaluate_all(world, fm, call["id"], evaluators, {note["id"]: 4})
    ranking = await _ranking(world, fm, call["id"], "concept_note")
    assert ranking["rows"][0]["total"] == "40.00"
    assert (await world.fire(fm, note["id"], "shortlist")).json()["status"] == "shortlisted"
    past = (world.clock.now() - timedelta(days=1)).isoformat()
    assert (await world.fire(fm, note["id"], "invite_full_application",
                             full_application_due_at=past)).status_code == 422  # fmt: skip
    due = world.clock.now() + timedelta(days=45)
    invited = await world.fire(fm, note["id"], "invite_full_application",
                               full_application_due_at=due.isoformat())  # fmt: skip
    assert invited.status_code == 200, invited.text
    full = invited.json()
    assert (full["status"], full["stage"], full["editable"]) == ("draft", "full_application", True)
    assert full["concept_note_amount"] == "200000.00"

    # The call closes to new concept notes; the invited full application is still accepted.
    await world.client.post(
        f"/api/v1/calls/{call['id']}/transitions", json={"trigger": "close"}, headers=fm.headers
    )

    # Stage 2: the full application. What the concept note was assessed on is locked.
    url = f"/api/v1/proposals/{note['id']}"

    async def patch(**body: Any) -> Any:
        etag = (await world.client.get(url, headers=applicant.headers)).headers["etag"]
        return await world.client.patch(
            url, json=body, headers={**applicant.headers, "If-Match": etag}
        )

    locked = await patch(title="A different action")
    assert locked.status_code == 422
    assert locked.json()["errors"][0]["code"] == "locked"
    too_much = await patch(requested_amount="245000.00")  # +22.5 %
    assert too_much.json()["errors"][0]["field"] == "requested_amount"
    assert (await patch(requested_amount="235000.00", total_budget="260000.00")).status_code == 200
    assert (await world.attach(applicant, note["id"])).status_code == 201
    world.clock.advance(days=10)
    final = await world.fire(applicant, note["id"], "submit")
    assert final.status_code == 200, final.text
    assert final.json()["receipt"]["reference"] == reference  # one reference for both stages
    subs = (await world.client.get(f"{url}/submissions", headers=applicant.headers)).json()
    assert [s["stage"] for s in subs] == ["concept_note", "full_application"]
    assert subs[0]["content"]["requested_amount"] == "200000.00"  # the concept note, frozen

    await pass_screening(world, fm, note["id"])
    await evaluate_all(world, fm, call["id"], evaluators, {note["id"]: 4})
    done = (await world.client.get(url, headers=fm.headers)).json()
    assert done["status"] == "evaluated"
    ranking = await _ranking(world, fm, call["id"], "full_application")
    assert [(r["proposal_id"], r["total"], r["requested_amount"]) for r in ranking["rows"]] == [
        (note["id"], "80.00", "235000.00")
    ]
    results = (await world.client.get(f"{url}/results", headers=fm.headers)).json()
    assert [r["stage"] for r in results] == ["concept_note", "full_application"]
    history = (await world.client.get(f"{url}/history", headers=applicant.headers)).json()
    assert [h["event"] for h in history if h["to_state"]] == [
        "proposal.submitted", "proposal.screening_started", "proposal.screening_passed",
        "proposal.evaluated", "proposal.shortlisted", "proposal.invited_full_application",
        "proposal.submitted", "proposal.screening_started", "proposal.screening_passed",
        "proposal.evaluated",
    ]  # fmt: skip


async def test_the_full_application_deadline_is_the_invitation_deadline(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, stages="two_stage", required_attachment_kinds=[])
    applicant = await world.applicant()
    evaluators = [await evaluator_with_profile(world) for _ in range(2)]
    note = await world.draft(applicant, call["id"])
    await world.fire(applicant, note["id"], "submit")
    await pass_screening(world, fm, note["id"])
    await evaluate_all(world, fm, call["id"], evaluators, {note["id"]: 4})
    await world.fire(fm, note["id"], "shortlist")
    due = world.clock.now() + timedelta(days=3)
    await world.fire(
        fm, note["id"], "invite_full_application", full_application_due_at=due.isoformat()
    )
    world.clock.set(due + timedelta(seconds=1))
    late = await world.fire(applicant, note["id"], "submit")
    assert late.status_code == 422
    assert [e["code"] for e in late.json()["errors"]] == ["deadline_passed"]
