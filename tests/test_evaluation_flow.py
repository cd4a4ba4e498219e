"""Screening → assignment → declaration → scoring → consolidation, through the API."""

from __future__ import annotations

from typing import Any

from facility.calls.grids import prag_full_application_grid
from tests.factories import (
    Account,
    World,
    assignment_of,
    declare_and_score,
    evaluator_with_profile,
    full_evaluation,
    pass_screening,
)

CHECKLIST = [
    {"id": "declaration_of_honour", "label": "Declaration of honour signed", "mandatory": True},
    {"id": "budget_consistent", "label": "Budget consistent", "mandatory": False},
]


async def _in_evaluation(
    world: World, **call: Any
) -> tuple[Account, dict[str, Any], Account, dict[str, Any]]:
    fm = await world.fund_manager()
    c = await world.call(fm, screening_checklist=CHECKLIST, **call)
    applicant = await world.applicant(country="KG")
    proposal = await world.submitted(applicant, c["id"])
    await pass_screening(world, fm, proposal["id"])
    return fm, c, applicant, proposal


async def test_two_evaluators_agree_and_the_proposal_is_evaluated(world: World) -> None:
    fm, call, _applicant, proposal = await _in_evaluation(world)
    a = await evaluator_with_profile(world, expertise=["migration_mobility"])
    b = await evaluator_with_profile(world, expertise=["trafficking"])
    r = await world.client.post(f"/api/v1/calls/{call['id']}/assignments/auto", headers=fm.headers)
    assert r.status_code == 200, r.text
    assert len(r.json()["created"]) == 2
    grid = prag_full_application_grid()
    ra = await declare_and_score(
        world, a, (await assignment_of(world, a, proposal["id"]))["id"], full_evaluation(grid, 4)
    )
    assert ra.status_code == 200, ra.text
    assert ra.json()["total"] == "80.00"
    rb = await declare_and_score(
        world, b, (await assignment_of(world, b, proposal["id"]))["id"], full_evaluation(grid, 3)
    )
    assert rb.status_code == 200, rb.text
    got = (await world.client.get(f"/api/v1/proposals/{proposal['id']}", headers=fm.headers)).json()
    assert got["status"] == "evaluated"
    results = (
        await world.client.get(f"/api/v1/proposals/{proposal['id']}/results", headers=fm.headers)
    ).json()
    assert results[0]["total"] == "70.00"
    ranking = (
        await world.client.get(f"/api/v1/calls/{call['id']}/ranking", headers=fm.headers)
    ).json()
    assert [r["proposal_id"] for r in ranking["rows"]] == [proposal["id"]]
