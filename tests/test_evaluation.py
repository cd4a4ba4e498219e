"""Scoring, blindness, consolidation and arbitration, through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

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

GRID = prag_full_application_grid()


@dataclass
class Panel:
    fm: Account
    call: dict[str, Any]
    applicant: Account
    proposal: dict[str, Any]
    evaluators: list[Account]

    def pid(self) -> str:
        return str(self.proposal["id"])


async def panel(world: World, *, spare: int = 1, **call: Any) -> Panel:
    """A proposal in evaluation with two assigned evaluators and ``spare`` free ones."""
    fm = await world.fund_manager()
    c = await world.call(fm, **call)
    applicant = await world.applicant(country="KG")
    proposal = await world.submitted(applicant, c["id"])
    await pass_screening(world, fm, proposal["id"])
    first = [await evaluator_with_profile(world) for _ in range(2)]
    r = await world.client.post(f"/api/v1/calls/{c['id']}/assignments/auto", headers=fm.headers)
    assert len(r.json()["created"]) == 2
    others = [await evaluator_with_profile(world) for _ in range(spare)]
    return Panel(fm, c, applicant, proposal, first + others)


async def _score(world: World, p: Panel, who: Account, evaluation: dict[str, Any]) -> Any:
    assignment = await assignment_of(world, who, p.pid())
    r = await declare_and_score(world, who, assignment["id"], evaluation)
    assert r.status_code == 200, r.text
    return r.json()


async def _status(world: World, p: Panel) -> str:
    r = await world.client.get(f"/api/v1/proposals/{p.pid()}", headers=p.fm.headers)
    return str(r.json()["status"])


async def test_submit_lists_every_gap_and_the_draft_keeps_totals(world: World) -> None:
    p = await panel(world, spare=0)
    a = p.evaluators[0]
    assignment = await assignment_of(world, a, p.pid())
    url = f"/api/v1/assignments/{assignment['id']}"
    await world.client.post(
        f"{url}/declaration", json={"conflict_of_interest": False, "statement": "None."},
        headers=a.headers,
    )  # fmt: skip
    partial = {"scores": {"1.1": 5, "2.1": 4}, "section_comments": {"capacity": "Solid."}}
    saved = await world.client.put(f"{url}/evaluation", json=partial, headers=a.headers)
    assert saved.status_code == 200, saved.text
    body = saved.json()
    assert body["section_scores"]["capacity"] == "5.00"
    assert body["section_scores"]["relevance"] == "8.00"  # 4 × weight 2
    assert body["total"] == "13.00"
    assert len(body["missing"]) > 10

    out_of_range = await world.client.put(
        f"{url}/evaluation", json={"scores": {"1.1": 6, "9.9": 3, "1.2": 0}}, headers=a.headers
    )
    assert out_of_range.status_code == 422
    assert {e["field"] for e in out_of_range.json()["errors"]} == {
        "scores.1.1",
        "scores.9.9",
        "scores.1.2",
    }

    refused = await world.client.post(f"{url}/evaluation/submit", headers=a.headers)
    assert refused.status_code == 422
    fields = {e["field"] for e in refused.json()["errors"]}
    assert {"scores.1.2", "scores.5.2", "section_comments.budget", "gender_marker",
            "gender_justification", "primary_priority_confirmed", "strengths",
            "recommendation"} <= fields  # fmt: skip
    assert "scores.1.1" not in fields


async def test_a_submitted_evaluation_is_final(world: World) -> None:
    p = await panel(world, spare=0)
    a = p.evaluators[0]
    done = await _score(world, p, a, full_evaluation(GRID, 4))
    assert done["status"] == "submitted"
    assert done["total"] == "80.00"
    url = f"/api/v1/assignments/{done['assignment_id']}/evaluation"
    again = await world.client.put(url, json=full_evaluation(GRID, 5), headers=a.headers)
    assert again.status_code == 409
    resubmit = await world.client.post(f"{url}/submit", headers=a.headers)
    assert resubmit.status_code == 409
    assert (await world.client.get(url, headers=a.headers)).json()["total"] == "80.00"
    # The database itself refuses to change it.
    with pytest.raises(DBAPIError):
        async with world.svc.db.unit_of_work() as session:
            await session.execute(
                text("UPDATE evaluations SET total = 10000 WHERE assignment_id = :id"),
                {"id": uuid.UUID(done["assignment_id"]).hex if world.svc.db.dialect == "sqlite"
                 else uuid.UUID(done["assignment_id"])},
            )  # fmt: skip


async def test_evaluators_are_blind_to_each_other(world: World) -> None:
    p = await panel(world, spare=0)
    a, b = p.evaluators
    a_done = await _score(world, p, a, full_evaluation(GRID, 4))
    b_assignment = await assignment_of(world, b, p.pid())
    await world.client.post(
        f"/api/v1/assignments/{b_assignment['id']}/declaration",
        json={"conflict_of_interest": False, "statement": "None."}, headers=b.headers,
    )  # fmt: skip
    # B cannot reach A's evaluation, name or scores through any route.
    routes = [
        f"/api/v1/assignments/{a_done['assignment_id']}/evaluation",
        f"/api/v1/assignments/{a_done['assignment_id']}",
        f"/api/v1/proposals/{p.pid()}/evaluations",
        f"/api/v1/proposals/{p.pid()}/assignments",
        f"/api/v1/proposals/{p.pid()}/results",
        f"/api/v1/proposals/{p.pid()}/history",
        f"/api/v1/calls/{p.call['id']}/ranking",
        "/api/v1/evaluators",
    ]
    for route in routes:
        r = await world.client.get(route, headers=b.headers)
        assert r.status_code in (403, 404), (route, r.status_code)
        assert "80.00" not in r.text and str(a.id) not in r.text
    for route in ("/api/v1/me/assignments", f"/api/v1/proposals/{p.pid()}",
                  f"/api/v1/assignments/{b_assignment['id']}/evaluation"):  # fmt: skip
        r = await world.client.get(route, headers=b.headers)
        assert r.status_code == 200
        assert str(a.id) not in r.text and a_done["assignment_id"] not in r.text
        assert "80.00" not in r.text
    # Fund managers see everything.
    staff = (
        await world.client.get(f"/api/v1/proposals/{p.pid()}/evaluations", headers=p.fm.headers)
    ).json()
    assert {e["assignment"]["evaluator"]["id"] for e in staff} == {str(a.id), str(b.id)}


async def test_divergence_goes_to_arbitration_and_three_are_consolidated(world: World) -> None:
    p = await panel(world, spare=1, divergence_threshold_pct="20")
    a, b, c = p.evaluators
    await _score(world, p, a, full_evaluation(GRID, 5))  # 100
    await _score(world, p, b, full_evaluation(GRID, 2))  # 40: spread 60 > 20
    assert await _status(world, p) == "arbitration"
    assignments = (
        await world.client.get(f"/api/v1/proposals/{p.pid()}/assignments", headers=p.fm.headers)
    ).json()
    arbitrator = [x for x in assignments if x["is_arbitration"]]
    assert [x["evaluator"]["id"] for x in arbitrator] == [str(c.id)]
    assert arbitrator[0]["assigned_by_id"] is None  # assigned by the facility
    await _score(world, p, c, full_evaluation(GRID, 4))  # 80
    assert await _status(world, p) == "evaluated"
    [result] = (
        await world.client.get(f"/api/v1/proposals/{p.pid()}/results", headers=p.fm.headers)
    ).json()
    assert result["evaluations_count"] == 3
    assert result["total"] == "73.33"  # (100 + 40 + 80) / 3, half up
    assert result["spread"] == "60.00"
    staff_history = (
        await world.client.get(f"/api/v1/proposals/{p.pid()}/history", headers=p.fm.headers)
    ).json()
    events = [h["event"] for h in staff_history]
    assert events[-2:] == ["proposal.arbitration_requested", "proposal.evaluated"]


async def test_within_the_threshold_there_is_no_arbitration(world: World) -> None:
    p = await panel(world, spare=1, divergence_threshold_pct="20")
    a, b, _ = p.evaluators
    await _score(world, p, a, full_evaluation(GRID, 4))  # 80
    await _score(world, p, b, full_evaluation(GRID, 3))  # 60: spread exactly 20, not above
    assert await _status(world, p) == "evaluated"


async def test_below_a_section_threshold_is_rejected_with_reasons_and_scores(world: World) -> None:
    p = await panel(world, spare=0)
    a, b = p.evaluators
    low_capacity = {c["id"]: (2 if c["section"] == "capacity" else 5) for c in GRID["criteria"]}
    await _score(world, p, a, full_evaluation(GRID, low_capacity))  # capacity 8 < 12
    await _score(world, p, b, full_evaluation(GRID, low_capacity))
    assert await _status(world, p) == "rejected"
    own = (
        await world.client.get(f"/api/v1/proposals/{p.pid()}/history", headers=p.applicant.headers)
    ).json()
    rejection = own[-1]
    assert rejection["event"] == "proposal.rejected"
    assert rejection["actor"] == {"role": "system", "id": None}
    assert any(
        "Financial and operational capacity: 8.00" in r for r in rejection["payload"]["reasons"]
    )
    assert rejection["payload"]["scores"]["sections"]["capacity"] == "8.00"
    assert rejection["payload"]["scores"]["total"] == "88.00"
    # No evaluator identity anywhere the applicant can look.
    everything = ""
    for url in (f"/api/v1/proposals/{p.pid()}/history", f"/api/v1/proposals/{p.pid()}"):
        everything += (await world.client.get(url, headers=p.applicant.headers)).text
    for evaluator in p.evaluators:
        assert str(evaluator.id) not in everything
        assert evaluator.email not in everything


async def test_below_the_pass_mark_is_rejected(world: World) -> None:
    p = await panel(world, spare=0)
    a, b = p.evaluators
    weak = {c["id"]: (3 if c["section"] == "capacity" else 2) for c in GRID["criteria"]}
    await _score(world, p, a, full_evaluation(GRID, weak))  # capacity 12 (at its threshold), 44
    await _score(world, p, b, full_evaluation(GRID, weak))
    assert await _status(world, p) == "rejected"
    [result] = (
        await world.client.get(f"/api/v1/proposals/{p.pid()}/results", headers=p.fm.headers)
    ).json()
    assert result["passed"] is False
    assert result["reasons"] == ["The total score 44.00 is below the pass mark 50.00"]


async def test_consolidated_markers_are_the_median_rounded_down(world: World) -> None:
    p = await panel(world, spare=0)
    a, b = p.evaluators
    await _score(
        world, p, a, full_evaluation(GRID, 4, gender_marker=2, climate_adaptation_marker=1)
    )
    await _score(
        world, p, b, full_evaluation(GRID, 4, gender_marker=1, climate_adaptation_marker=0)
    )
    [result] = (
        await world.client.get(f"/api/v1/proposals/{p.pid()}/results", headers=p.fm.headers)
    ).json()
    assert (result["gender_marker"], result["climate_adaptation_marker"]) == (1, 0)
    assert result["climate_mitigation_marker"] == 0
