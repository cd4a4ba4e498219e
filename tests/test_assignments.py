"""Evaluator profiles and assignments, through the API: automatic matching (conflict rules,
balance, expertise), assignment by hand with overrides, the evaluator's queue, the
declaration that gates every read, recusal and replacement, withdrawal, and concurrent
auto-assignment."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import pytest

from facility.calls.grids import prag_full_application_grid
from tests.factories import (
    PDF,
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
]
DECLARATION = {"conflict_of_interest": False, "statement": "No conflict; I keep it confidential."}
CONFLICT = {"conflict_of_interest": True, "statement": "I advised this organisation last year."}
MIGRATION, TRAFFICKING, PROTECTION = (
    "migration_mobility",
    "trafficking",
    "international_protection",
)
SECONDARY = {MIGRATION: [TRAFFICKING], TRAFFICKING: [MIGRATION], PROTECTION: [TRAFFICKING]}
DECLARATION_REQUIRED = "/problems/declaration-required"


# --- builders -------------------------------------------------------------------------------


async def _scenario(
    world: World,
    n: int = 1,
    *,
    priorities: list[str] | None = None,
    **call: Any,
) -> tuple[Account, dict[str, Any], Account, list[dict[str, Any]]]:
    """A published call with ``n`` proposals from one KG applicant, all in evaluation.
    The clock moves a minute between submissions, so proposals are ordered."""
    fm = await world.fund_manager()
    c = await world.call(fm, screening_checklist=CHECKLIST, **call)
    applicant = await world.applicant(country="KG")
    proposals = []
    for i in range(n):
        primary = priorities[i] if priorities else MIGRATION
        p = await world.submitted(
            applicant, c["id"], primary_priority=primary, secondary_priorities=SECONDARY[primary]
        )
        await pass_screening(world, fm, p["id"])
        proposals.append(p)
        world.clock.advance(minutes=1)
    return fm, c, applicant, proposals


async def _registration(world: World, applicant: Account) -> tuple[str, str]:
    r = await world.client.get("/api/v1/me", headers=applicant.headers)
    assert r.status_code == 200, r.text
    org = r.json()["organisation"]
    return org["country"], org["registration_number"]


async def _auto(world: World, fm: Account, call_id: str) -> dict[str, Any]:
    r = await world.client.post(f"/api/v1/calls/{call_id}/assignments/auto", headers=fm.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _assignments(world: World, fm: Account, proposal_id: str) -> list[dict[str, Any]]:
    r = await world.client.get(f"/api/v1/proposals/{proposal_id}/assignments", headers=fm.headers)
    assert r.status_code == 200, r.text
    return r.json()


def _holding(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assignments that hold one of the proposal's places."""
    return [a for a in rows if a["status"] in ("assigned", "active", "submitted")]


async def _assign(
    world: World, fm: Account, proposal_id: str, evaluator_id: uuid.UUID | str, **extra: Any
) -> Any:
    return await world.client.post(
        f"/api/v1/proposals/{proposal_id}/assignments",
        json={"evaluator_id": str(evaluator_id), **extra},
        headers=fm.headers,
    )


async def _declare(world: World, who: Account, assignment_id: str, body: dict[str, Any]) -> Any:
    return await world.client.post(
        f"/api/v1/assignments/{assignment_id}/declaration", json=body, headers=who.headers
    )


async def _queue(world: World, who: Account) -> list[dict[str, Any]]:
    r = await world.client.get("/api/v1/me/assignments", headers=who.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _deactivate(world: World, user: Account) -> None:
    admin = await world.admin()
    r = await world.client.patch(
        f"/api/v1/users/{user.id}", json={"is_active": False}, headers=admin.headers
    )
    assert r.status_code == 200, r.text


async def _evaluator_rows(world: World, fm: Account) -> dict[str, dict[str, Any]]:
    r = await world.client.get("/api/v1/evaluators", headers=fm.headers)
    assert r.status_code == 200, r.text
    return {row["id"]: row for row in r.json()}


def _at(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, value
    return parsed


def _evaluator_ids(rows: list[dict[str, Any]]) -> set[str]:
    return {a["evaluator"]["id"] for a in rows}


# --- evaluator profile ----------------------------------------------------------------------


async def test_evaluator_profile_is_declared_read_and_replaced(world: World) -> None:
    evaluator = await world.evaluator()
    url = "/api/v1/me/evaluator-profile"
    r = await world.client.get(url, headers=evaluator.headers)
    assert r.status_code == 404, r.text
    body = {
        "expertise": [MIGRATION, PROTECTION],
        "languages": ["en", "ru"],
        "countries": ["FR", "DE"],
        "affiliations": [{"name": "Old NGO", "country": "TJ", "registration_number": "X-1"}],
    }
    r = await world.client.put(url, json=body, headers=evaluator.headers)
    assert r.status_code == 200, r.text
    saved = r.json()
    assert saved["user_id"] == str(evaluator.id)
    assert {k: saved[k] for k in body} == body
    r = await world.client.get(url, headers=evaluator.headers)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in body} == body
    # PUT replaces the whole profile.
    r = await world.client.put(url, json={"countries": ["IT"]}, headers=evaluator.headers)
    assert r.status_code == 200, r.text
    got = (await world.client.get(url, headers=evaluator.headers)).json()
    assert (got["expertise"], got["countries"], got["affiliations"]) == ([], ["IT"], [])


async def test_evaluator_profile_is_for_evaluators_only(world: World) -> None:
    fm = await world.fund_manager()
    applicant = await world.applicant()
    admin = await world.admin()
    body = {"expertise": [MIGRATION], "countries": ["FR"]}
    for who in (fm, applicant, admin):
        r = await world.client.get("/api/v1/me/evaluator-profile", headers=who.headers)
        assert r.status_code == 403, (who.role, r.text)
        r = await world.client.put("/api/v1/me/evaluator-profile", json=body, headers=who.headers)
        assert r.status_code == 403, (who.role, r.text)
    r = await world.client.get("/api/v1/me/evaluator-profile")
    assert r.status_code == 401, r.text


async def test_evaluator_profile_rejects_unknown_priorities_and_duplicates(world: World) -> None:
    evaluator = await world.evaluator()
    for body in (
        {"expertise": ["astrology"]},
        {"expertise": [MIGRATION, MIGRATION]},
        {"countries": ["FR", "FR"]},
        {"affiliations": [{"name": "NGO", "country": "KG"}]},
    ):
        r = await world.client.put(
            "/api/v1/me/evaluator-profile", json=body, headers=evaluator.headers
        )
        assert r.status_code == 422, (body, r.text)


async def test_evaluators_list_shows_profiles_and_open_assignment_counts(world: World) -> None:
    fm, call, _, proposals = await _scenario(world, 2)
    a = await evaluator_with_profile(world, expertise=[MIGRATION])
    b = await evaluator_with_profile(world)
    bare = await world.evaluator()
    r = await world.client.get("/api/v1/evaluators", headers=fm.headers)
    assert r.status_code == 200, r.text
    rows = {row["id"]: row for row in r.json()}
    assert set(rows) == {str(a.id), str(b.id), str(bare.id)}
    assert rows[str(a.id)]["profile"]["expertise"] == [MIGRATION]
    assert rows[str(a.id)]["email"] == a.email
    assert rows[str(bare.id)]["profile"] is None
    assert all(row["open_assignments"] == 0 and row["is_active"] for row in rows.values())

    made = await _auto(world, fm, call["id"])
    assert len(made["created"]) == 4
    rows = await _evaluator_rows(world, fm)
    assert rows[str(a.id)]["open_assignments"] == 2
    assert rows[str(b.id)]["open_assignments"] == 2
    assert rows[str(bare.id)]["open_assignments"] == 0

    # A withdrawn assignment is no longer open.
    mine = await assignment_of(world, a, proposals[0]["id"])
    r = await world.client.post(
        f"/api/v1/assignments/{mine['id']}/transitions",
        json={"trigger": "withdraw"},
        headers=fm.headers,
    )
    assert r.status_code == 200, r.text
    rows = await _evaluator_rows(world, fm)
    assert rows[str(a.id)]["open_assignments"] == 1

    for who in (a, await world.applicant()):
        r = await world.client.get("/api/v1/evaluators", headers=who.headers)
        assert r.status_code == 403, r.text


async def test_a_submitted_evaluation_is_not_an_open_assignment(world: World) -> None:
    fm, call, _, [proposal] = await _scenario(world)
    a = await evaluator_with_profile(world)
    await evaluator_with_profile(world)
    await _auto(world, fm, call["id"])
    mine = await assignment_of(world, a, proposal["id"])
    r = await declare_and_score(
        world, a, mine["id"], full_evaluation(prag_full_application_grid(), 4)
    )
    assert r.status_code == 200, r.text
    rows = await _evaluator_rows(world, fm)
    assert rows[str(a.id)]["open_assignments"] == 0


# --- automatic assignment -------------------------------------------------------------------


async def test_auto_assign_gives_each_proposal_its_evaluators_once(world: World) -> None:
    fm, call, applicant, proposals = await _scenario(
        world, 2, evaluators_per_proposal=3, evaluation_period_days=10
    )
    # A submitted proposal still waiting for screening is not assigned.
    waiting = await world.submitted(applicant, call["id"])
    profiled = [await evaluator_with_profile(world) for _ in range(4)]
    bare = await world.evaluator()  # no profile: never matched automatically
    now = world.clock.now()

    made = await _auto(world, fm, call["id"])
    assert made["unfilled"] == {}
    created = made["created"]
    assert len(created) == 6
    assert {a["proposal_id"] for a in created} == {p["id"] for p in proposals}
    for a in created:
        assert a["status"] == "assigned"
        assert a["assigned_by_id"] == str(fm.id)
        assert a["override_justification"] is None
        assert a["declared_at"] is None
        assert a["overdue"] is False
        assert a["stage"] == "full_application"
        assert _at(a["due_at"]) == now + timedelta(days=10)
    assert str(bare.id) not in _evaluator_ids(created)
    assert _evaluator_ids(created) <= {str(e.id) for e in profiled}
    for p in proposals:
        rows = await _assignments(world, fm, p["id"])
        assert len(rows) == 3
        assert len(_evaluator_ids(rows)) == 3
    assert await _assignments(world, fm, waiting["id"]) == []

    again = await _auto(world, fm, call["id"])
    assert again == {"created": [], "unfilled": {}}
    for p in proposals:
        assert len(await _assignments(world, fm, p["id"])) == 3


async def test_auto_assign_never_picks_an_affiliated_or_same_country_evaluator(
    world: World,
) -> None:
    fm, call, applicant, [proposal] = await _scenario(world, evaluators_per_proposal=3)
    country, registration = await _registration(world, applicant)
    assert country == "KG"
    assert registration.startswith("REG-")

    def affiliation(c: str, number: str) -> list[dict[str, str]]:
        return [{"name": "Applicant NGO", "country": c, "registration_number": number}]

    affiliated = await evaluator_with_profile(world, affiliations=affiliation("KG", registration))
    # Registration numbers match regardless of case and spacing.
    spelled = await evaluator_with_profile(
        world, affiliations=affiliation("KG", f" {registration.lower()} ")
    )
    national = await evaluator_with_profile(world, countries=["FR", "KG"])
    # Same number in another country is another organisation.
    elsewhere = await evaluator_with_profile(world, affiliations=affiliation("TJ", registration))
    plain = await evaluator_with_profile(world)

    made = await _auto(world, fm, call["id"])
    assert _evaluator_ids(made["created"]) == {str(elsewhere.id), str(plain.id)}
    assert made["unfilled"] == {proposal["id"]: 1}
    conflicted = {str(affiliated.id), str(spelled.id), str(national.id)}
    assert not conflicted & _evaluator_ids(await _assignments(world, fm, proposal["id"]))

    # Still nobody eligible: a second run reports the same gap and creates nothing.
    again = await _auto(world, fm, call["id"])
    assert again == {"created": [], "unfilled": {proposal["id"]: 1}}


async def test_auto_assign_skips_inactive_evaluators(world: World) -> None:
    fm, call, _, [proposal] = await _scenario(world)
    active = [await evaluator_with_profile(world) for _ in range(2)]
    gone = await evaluator_with_profile(world)
    await _deactivate(world, gone)
    made = await _auto(world, fm, call["id"])
    assert _evaluator_ids(made["created"]) == {str(e.id) for e in active}
    assert made["unfilled"] == {}
    assert str(gone.id) not in _evaluator_ids(await _assignments(world, fm, proposal["id"]))


async def test_auto_assign_balances_the_load(world: World) -> None:
    fm, call, _, proposals = await _scenario(world, 5)
    evaluators = [await evaluator_with_profile(world) for _ in range(3)]
    made = await _auto(world, fm, call["id"])
    assert made["unfilled"] == {}
    assert len(made["created"]) == 10
    loads = Counter(a["evaluator"]["id"] for a in made["created"])
    assert set(loads) == {str(e.id) for e in evaluators}
    assert sorted(loads.values()) == [3, 3, 4]
    per_proposal = Counter(a["proposal_id"] for a in made["created"])
    assert per_proposal == {p["id"]: 2 for p in proposals}
    for p in proposals:
        assert len(_evaluator_ids(await _assignments(world, fm, p["id"]))) == 2
    # The queues agree.
    for e in evaluators:
        assert len(await _queue(world, e)) == loads[str(e.id)]


async def test_auto_assign_prefers_experts_in_the_primary_priority(world: World) -> None:
    fm, call, _, [migration, trafficking] = await _scenario(
        world, 2, priorities=[MIGRATION, TRAFFICKING]
    )
    generalists = [await evaluator_with_profile(world, expertise=[PROTECTION])]
    m1 = await evaluator_with_profile(world, expertise=[MIGRATION])
    generalists.append(await evaluator_with_profile(world))
    t1 = await evaluator_with_profile(world, expertise=[TRAFFICKING, PROTECTION])
    m2 = await evaluator_with_profile(world, expertise=[MIGRATION])
    t2 = await evaluator_with_profile(world, expertise=[TRAFFICKING])
    made = await _auto(world, fm, call["id"])
    assert made["unfilled"] == {}
    by_proposal: dict[str, set[str]] = {}
    for a in made["created"]:
        by_proposal.setdefault(a["proposal_id"], set()).add(a["evaluator"]["id"])
    assert by_proposal == {
        migration["id"]: {str(m1.id), str(m2.id)},
        trafficking["id"]: {str(t1.id), str(t2.id)},
    }
    assert not {str(g.id) for g in generalists} & _evaluator_ids(made["created"])


async def test_auto_assign_prefers_the_expert_when_there_is_one_place(world: World) -> None:
    fm, call, _, [first] = await _scenario(world, priorities=[TRAFFICKING])
    generalist = await evaluator_with_profile(world, expertise=[MIGRATION])
    await evaluator_with_profile(world)
    made = await _auto(world, fm, call["id"])
    assert len(made["created"]) == 2
    # One place freed by a withdrawal; the newcomers have the same (zero) load in the
    # call and the trafficking expert takes it.
    mine = await assignment_of(world, generalist, first["id"])
    expert = await evaluator_with_profile(world, expertise=[TRAFFICKING])
    await evaluator_with_profile(world, expertise=[PROTECTION])
    r = await world.client.post(
        f"/api/v1/assignments/{mine['id']}/transitions",
        json={"trigger": "withdraw"},
        headers=fm.headers,
    )
    assert r.status_code == 200, r.text
    made = await _auto(world, fm, call["id"])
    assert _evaluator_ids(made["created"]) == {str(expert.id)}


async def test_expertise_preference_keeps_the_load_balanced(world: World) -> None:
    fm, call, _, _ = await _scenario(
        world, 5, priorities=[PROTECTION, PROTECTION, MIGRATION, MIGRATION, MIGRATION]
    )
    evaluators = [
        await evaluator_with_profile(world, expertise=[MIGRATION]),
        await evaluator_with_profile(world, expertise=[MIGRATION]),
        await evaluator_with_profile(world),
    ]
    made = await _auto(world, fm, call["id"])
    assert len(made["created"]) == 10
    assert made["unfilled"] == {}
    loads = Counter(a["evaluator"]["id"] for a in made["created"])
    assert len(loads) == len(evaluators)
    assert max(loads.values()) - min(loads.values()) <= 1, sorted(loads.values())


async def test_auto_assign_is_for_fund_managers_and_known_calls(world: World) -> None:
    fm, call, applicant, [proposal] = await _scenario(world)
    # Nobody to assign yet: both places are reported, nothing fails.
    assert await _auto(world, fm, call["id"]) == {"created": [], "unfilled": {proposal["id"]: 2}}
    evaluator = await evaluator_with_profile(world)
    r = await world.client.get(
        f"/api/v1/proposals/{proposal['id']}/assignments", headers=evaluator.headers
    )
    assert r.status_code == 403, r.text
    for who in (applicant, evaluator, await world.admin()):
        r = await world.client.post(
            f"/api/v1/calls/{call['id']}/assignments/auto", headers=who.headers
        )
        assert r.status_code == 403, (who.role, r.text)
    r = await world.client.post(
        f"/api/v1/calls/{uuid.uuid4()}/assignments/auto", headers=fm.headers
    )
    assert r.status_code == 404, r.text
    r = await world.client.post(f"/api/v1/calls/{call['id']}/assignments/auto")
    assert r.status_code == 401, r.text


# --- assignment by hand ---------------------------------------------------------------------


async def test_hand_assignment_refuses_conflicts_unless_justified(world: World) -> None:
    fm, _, applicant, [proposal] = await _scenario(world, evaluation_period_days=7)
    country, registration = await _registration(world, applicant)
    mine = {"name": "Applicant", "country": country, "registration_number": registration}
    affiliated = await evaluator_with_profile(world, affiliations=[mine])
    national = await evaluator_with_profile(world, countries=[country])
    bare = await world.evaluator()
    pid = proposal["id"]

    r = await _assign(world, fm, pid, affiliated.id)
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "/problems/conflict"
    assert any("affiliated" in c for c in r.json()["conflicts"]), r.json()
    r = await _assign(world, fm, pid, national.id)
    assert r.status_code == 409, r.text
    assert any(country in c for c in r.json()["conflicts"]), r.json()
    r = await _assign(world, fm, pid, bare.id)
    assert r.status_code == 409, r.text
    assert r.json()["conflicts"], r.json()
    # A blank justification is no justification.
    r = await _assign(world, fm, pid, national.id, justification="   ")
    assert r.status_code == 409, r.text
    assert await _assignments(world, fm, pid) == []

    why = "Only evaluator fluent in Kyrgyz; former employment ended in 2015."
    r = await _assign(world, fm, pid, affiliated.id, justification=why)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["override_justification"] == why
    assert made["evaluator"]["id"] == str(affiliated.id)
    assert made["assigned_by_id"] == str(fm.id)
    assert made["status"] == "assigned"
    assert _at(made["due_at"]) == world.clock.now() + timedelta(days=7)
    rows = await _assignments(world, fm, pid)
    assert [(a["id"], a["override_justification"]) for a in rows] == [(made["id"], why)]

    # The same evaluator twice, even with a justification: refused.
    r = await _assign(world, fm, pid, affiliated.id)
    assert r.status_code == 409, r.text
    r = await _assign(world, fm, pid, affiliated.id, justification=why)
    assert r.status_code == 409, r.text
    assert len(await _assignments(world, fm, pid)) == 1


async def test_hand_assignment_of_an_eligible_evaluator_with_a_due_date(world: World) -> None:
    fm, _, _, [proposal] = await _scenario(world)
    evaluator = await evaluator_with_profile(world)
    due = world.clock.now() + timedelta(days=3, hours=2)
    r = await _assign(world, fm, proposal["id"], evaluator.id, due_at="2020-01-01T00:00:00Z")
    assert r.status_code == 422, r.text
    r = await _assign(world, fm, proposal["id"], evaluator.id, due_at=due.isoformat())
    assert r.status_code == 201, r.text
    assert _at(r.json()["due_at"]) == due
    assert r.json()["override_justification"] is None
    [mine] = await _queue(world, evaluator)
    assert mine["proposal_id"] == proposal["id"]
    assert _at(mine["due_at"]) == due


async def test_hand_assignment_needs_an_active_evaluator(world: World) -> None:
    fm, _, applicant, [proposal] = await _scenario(world)
    inactive = await evaluator_with_profile(world)
    await _deactivate(world, inactive)
    other_fm = await world.fund_manager()
    for user_id in (applicant.id, other_fm.id, fm.id, inactive.id, uuid.uuid4()):
        r = await _assign(world, fm, proposal["id"], user_id, justification="Needed.")
        assert r.status_code == 422, (user_id, r.text)
        assert r.json()["errors"][0]["field"] == "evaluator_id", r.json()
    assert await _assignments(world, fm, proposal["id"]) == []


async def test_hand_assignment_needs_a_proposal_in_evaluation(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, screening_checklist=CHECKLIST)
    applicant = await world.applicant()
    draft = await world.draft(applicant, call["id"])
    submitted = await world.submitted(applicant, call["id"])
    evaluator = await evaluator_with_profile(world)
    for p in (draft, submitted):
        r = await _assign(world, fm, p["id"], evaluator.id)
        assert r.status_code == 409, r.text
    r = await _assign(world, fm, str(uuid.uuid4()), evaluator.id)
    assert r.status_code == 404, r.text
    await pass_screening(world, fm, submitted["id"])
    for who in (applicant, evaluator):
        r = await _assign(world, who, submitted["id"], evaluator.id)
        assert r.status_code == 403, r.text
    r = await _assign(world, fm, submitted["id"], evaluator.id)
    assert r.status_code == 201, r.text


# --- the evaluator's queue ------------------------------------------------------------------


async def test_queue_shows_due_dates_overdue_and_the_title_only_after_declaring(
    world: World,
) -> None:
    fm, call, _, [proposal] = await _scenario(world, evaluation_period_days=5)
    a = await evaluator_with_profile(world)
    b = await evaluator_with_profile(world)
    bystander = await evaluator_with_profile(world)
    r = await _assign(world, fm, proposal["id"], a.id)
    assert r.status_code == 201, r.text
    r = await _assign(world, fm, proposal["id"], b.id)
    assert r.status_code == 201, r.text
    assigned_at = world.clock.now()

    [mine] = await _queue(world, a)
    assert mine["proposal_id"] == proposal["id"]
    assert mine["call_id"] == call["id"]
    assert mine["call_reference"] == call["reference"]
    assert mine["status"] == "assigned"
    assert mine["proposal_title"] is None
    assert mine["declared_at"] is None
    assert _at(mine["due_at"]) == assigned_at + timedelta(days=5)
    assert mine["overdue"] is False
    assert set(mine["available_transitions"]) >= {"declare_impartiality", "recuse"}
    assert await _queue(world, bystander) == []

    world.clock.advance(days=5, seconds=1)
    [late] = await _queue(world, a)
    assert late["overdue"] is True
    assert late["proposal_title"] is None
    r = await world.client.get(f"/api/v1/assignments/{mine['id']}", headers=a.headers)
    assert r.status_code == 200, r.text
    assert r.json()["overdue"] is True
    assert r.json()["proposal_title"] is None

    r = await _declare(world, a, mine["id"], DECLARATION)
    assert r.status_code == 200, r.text
    assert r.json()["proposal_title"] == proposal["title"]
    [declared] = await _queue(world, a)
    assert declared["status"] == "active"
    assert declared["proposal_title"] == proposal["title"]
    assert _at(declared["declared_at"]) == world.clock.now()
    assert declared["overdue"] is True
    # The other evaluator's entry still hides the title.
    [theirs] = await _queue(world, b)
    assert theirs["proposal_title"] is None

    for who in (fm, await world.applicant()):
        r = await world.client.get("/api/v1/me/assignments", headers=who.headers)
        assert r.status_code == 403, r.text


# --- declaration before access --------------------------------------------------------------


async def test_nothing_of_the_proposal_is_readable_before_the_declaration(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, screening_checklist=CHECKLIST)
    applicant = await world.applicant()
    proposal = await world.draft(applicant, call["id"])
    r = await world.attach(applicant, proposal["id"])
    assert r.status_code == 201, r.text
    attachment_id = r.json()["id"]
    r = await world.fire(applicant, proposal["id"], "submit")
    assert r.status_code == 200, r.text
    await pass_screening(world, fm, proposal["id"])
    evaluator = await evaluator_with_profile(world)
    other = await evaluator_with_profile(world)
    stranger = await evaluator_with_profile(world)
    await _auto(world, fm, call["id"])
    mine = await assignment_of(world, evaluator, proposal["id"])
    theirs = await assignment_of(world, other, proposal["id"])
    pid = proposal["id"]
    h = evaluator.headers
    grid = prag_full_application_grid()

    reads = [
        f"/api/v1/proposals/{pid}",
        f"/api/v1/proposals/{pid}/attachments/{attachment_id}",
        f"/api/v1/proposals/{pid}/submissions",
        f"/api/v1/assignments/{mine['id']}/evaluation",
    ]
    for url in reads:
        r = await world.client.get(url, headers=h)
        assert r.status_code == 403, (url, r.text)
        assert r.json()["type"] == DECLARATION_REQUIRED, (url, r.json())
        assert proposal["title"] not in r.text
    r = await world.client.put(
        f"/api/v1/assignments/{mine['id']}/evaluation", json=full_evaluation(grid), headers=h
    )
    assert r.status_code == 403, r.text
    assert r.json()["type"] == DECLARATION_REQUIRED
    r = await world.client.post(f"/api/v1/assignments/{mine['id']}/evaluation/submit", headers=h)
    assert r.status_code == 403, r.text
    assert r.json()["type"] == DECLARATION_REQUIRED
    listed = await world.client.get("/api/v1/proposals", headers=h)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []

    # An evaluator without an assignment: the proposal does not exist for them.
    r = await world.client.get(f"/api/v1/proposals/{pid}", headers=stranger.headers)
    assert r.status_code == 404, r.text
    r = await world.client.get(
        f"/api/v1/proposals/{pid}/attachments/{attachment_id}", headers=stranger.headers
    )
    assert r.status_code == 404, r.text
    # Someone else's assignment does not exist for them either.
    for url in (
        f"/api/v1/assignments/{theirs['id']}",
        f"/api/v1/assignments/{theirs['id']}/evaluation",
    ):
        r = await world.client.get(url, headers=h)
        assert r.status_code == 404, (url, r.text)
    r = await _declare(world, evaluator, theirs["id"], DECLARATION)
    assert r.status_code == 404, r.text
    r = await world.client.put(
        f"/api/v1/assignments/{theirs['id']}/evaluation", json=full_evaluation(grid), headers=h
    )
    assert r.status_code == 404, r.text
    r = await world.client.get(f"/api/v1/assignments/{uuid.uuid4()}", headers=h)
    assert r.status_code == 404, r.text

    r = await _declare(world, evaluator, mine["id"], DECLARATION)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    r = await world.client.get(f"/api/v1/proposals/{pid}", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["title"] == proposal["title"]
    r = await world.client.get(f"/api/v1/proposals/{pid}/attachments/{attachment_id}", headers=h)
    assert r.status_code == 200, r.text
    assert r.content == PDF
    r = await world.client.get(f"/api/v1/proposals/{pid}/submissions", headers=h)
    assert r.status_code == 200, r.text
    assert len(r.json()) == 1
    r = await world.client.get(f"/api/v1/assignments/{mine['id']}/evaluation", headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    r = await world.client.put(
        f"/api/v1/assignments/{mine['id']}/evaluation", json=full_evaluation(grid), headers=h
    )
    assert r.status_code == 200, r.text
    assert r.json()["missing"] == []
    listed = await world.client.get("/api/v1/proposals", headers=h)
    assert [p["id"] for p in listed.json()["items"]] == [pid]
    # The other evaluator's gate is their own.
    r = await world.client.get(f"/api/v1/proposals/{pid}", headers=other.headers)
    assert r.status_code == 403, r.text
    assert r.json()["type"] == DECLARATION_REQUIRED

    # The fund manager sees what was declared.
    rows = {a["id"]: a for a in await _assignments(world, fm, pid)}
    assert rows[mine["id"]]["conflict_of_interest"] is False
    assert rows[mine["id"]]["declaration_statement"] == DECLARATION["statement"]
    assert rows[theirs["id"]]["declared_at"] is None
    # Declaring twice is refused.
    r = await _declare(world, evaluator, mine["id"], DECLARATION)
    assert r.status_code == 409, r.text


async def test_a_declaration_needs_a_statement(world: World) -> None:
    fm, call, _, [proposal] = await _scenario(world)
    a = await evaluator_with_profile(world)
    await evaluator_with_profile(world)
    await _auto(world, fm, call["id"])
    mine = await assignment_of(world, a, proposal["id"])
    for body in (
        {"conflict_of_interest": False},
        {"conflict_of_interest": False, "statement": "   "},
        {"conflict_of_interest": True, "statement": ""},
        {"statement": "No conflict."},
    ):
        r = await _declare(world, a, mine["id"], body)
        assert r.status_code == 422, (body, r.text)
    assert (await assignment_of(world, a, proposal["id"]))["status"] == "assigned"
    # Only evaluators declare.
    r = await _declare(world, fm, mine["id"], DECLARATION)
    assert r.status_code == 403, r.text


# --- conflict, recusal and replacement ------------------------------------------------------


async def test_a_declared_conflict_recuses_and_a_replacement_is_assigned(world: World) -> None:
    fm, call, _, [proposal] = await _scenario(world)
    pid = proposal["id"]
    a = await evaluator_with_profile(world)
    b = await evaluator_with_profile(world)
    made = await _auto(world, fm, call["id"])
    assert _evaluator_ids(made["created"]) == {str(a.id), str(b.id)}
    spare = await evaluator_with_profile(world)
    conflicted = await evaluator_with_profile(world, countries=["KG"])
    mine = await assignment_of(world, a, pid)

    r = await _declare(world, a, mine["id"], CONFLICT)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "recused"
    assert r.json()["proposal_title"] is None
    r = await world.client.get(f"/api/v1/proposals/{pid}", headers=a.headers)
    assert r.status_code == 404, r.text
    assert proposal["title"] not in r.text
    [entry] = await _queue(world, a)
    assert entry["status"] == "recused"
    assert entry["proposal_title"] is None
    assert entry["overdue"] is False

    rows = await _assignments(world, fm, pid)
    by_evaluator = {row["evaluator"]["id"]: row for row in rows}
    assert set(by_evaluator) == {str(a.id), str(b.id), str(spare.id)}
    recused = by_evaluator[str(a.id)]
    assert recused["status"] == "recused"
    assert recused["conflict_of_interest"] is True
    assert recused["declaration_statement"] == CONFLICT["statement"]
    replacement = by_evaluator[str(spare.id)]
    assert replacement["status"] == "assigned"
    assert replacement["assigned_by_id"] is None  # the system
    assert str(conflicted.id) not in by_evaluator
    assert len(_holding(rows)) == 2
    [queued] = await _queue(world, spare)
    assert queued["id"] == replacement["id"]

    # Recusal is final, and the place is already filled.
    r = await _declare(world, a, mine["id"], DECLARATION)
    assert r.status_code == 409, r.text
    assert await _auto(world, fm, call["id"]) == {"created": [], "unfilled": {}}


async def test_recusal_after_reading_also_revokes_access(world: World) -> None:
    fm, call, _, [proposal] = await _scenario(world)
    a = await evaluator_with_profile(world)
    await evaluator_with_profile(world)
    await _auto(world, fm, call["id"])
    spare = await evaluator_with_profile(world)
    mine = await assignment_of(world, a, proposal["id"])
    r = await _declare(world, a, mine["id"], DECLARATION)
    assert r.status_code == 200, r.text
    r = await world.client.get(f"/api/v1/proposals/{proposal['id']}", headers=a.headers)
    assert r.status_code == 200, r.text
    # Discovering a conflict while reading.
    r = await _declare(world, a, mine["id"], CONFLICT)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "recused"
    r = await world.client.get(f"/api/v1/proposals/{proposal['id']}", headers=a.headers)
    assert r.status_code == 404, r.text
    listed = await world.client.get("/api/v1/proposals", headers=a.headers)
    assert listed.json()["items"] == []
    assert str(spare.id) in _evaluator_ids(_holding(await _assignments(world, fm, proposal["id"])))


async def test_without_anyone_eligible_the_place_waits_for_a_new_evaluator(world: World) -> None:
    fm, call, _, [proposal] = await _scenario(world)
    pid = proposal["id"]
    a = await evaluator_with_profile(world)
    b = await evaluator_with_profile(world)
    await _auto(world, fm, call["id"])
    await evaluator_with_profile(world, countries=["KG"])  # conflicted: not a replacement
    mine = await assignment_of(world, a, pid)
    r = await _declare(world, a, mine["id"], CONFLICT)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "recused"
    rows = await _assignments(world, fm, pid)
    assert _evaluator_ids(_holding(rows)) == {str(b.id)}
    assert len(rows) == 2

    # The recused evaluator is never picked again for this proposal.
    assert await _auto(world, fm, call["id"]) == {"created": [], "unfilled": {pid: 1}}
    newcomer = await evaluator_with_profile(world)
    made = await _auto(world, fm, call["id"])
    assert _evaluator_ids(made["created"]) == {str(newcomer.id)}
    assert made["created"][0]["assigned_by_id"] == str(fm.id)
    assert made["unfilled"] == {}
    assert _evaluator_ids(_holding(await _assignments(world, fm, pid))) == {
        str(b.id),
        str(newcomer.id),
    }


# --- withdrawal -----------------------------------------------------------------------------


async def test_a_fund_manager_withdraws_an_assignment_and_an_evaluator_cannot(
    world: World,
) -> None:
    fm, call, applicant, [proposal] = await _scenario(world)
    pid = proposal["id"]
    a = await evaluator_with_profile(world)
    b = await evaluator_with_profile(world)
    await _auto(world, fm, call["id"])
    mine = await assignment_of(world, a, pid)
    r = await _declare(world, a, mine["id"], DECLARATION)
    assert r.status_code == 200, r.text
    url = f"/api/v1/assignments/{mine['id']}/transitions"
    for who in (a, b, applicant):
        r = await world.client.post(url, json={"trigger": "withdraw"}, headers=who.headers)
        assert r.status_code == 403, (who.role, r.text)
    r = await world.client.post(url, json={"trigger": "recuse"}, headers=fm.headers)
    assert r.status_code == 422, r.text

    r = await world.client.post(
        url, json={"trigger": "withdraw", "comment": "Rebalancing."}, headers=fm.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "withdrawn"
    r = await world.client.post(url, json={"trigger": "withdraw"}, headers=fm.headers)
    assert r.status_code == 409, r.text
    # The evaluator no longer reads the proposal.
    r = await world.client.get(f"/api/v1/proposals/{pid}", headers=a.headers)
    assert r.status_code == 404, r.text
    r = await world.client.put(
        f"/api/v1/assignments/{mine['id']}/evaluation",
        json=full_evaluation(prag_full_application_grid()),
        headers=a.headers,
    )
    assert r.status_code == 409, r.text
    [entry] = await _queue(world, a)
    assert entry["status"] == "withdrawn"
    # The freed place goes to someone else, never back to the withdrawn evaluator.
    c = await evaluator_with_profile(world)
    made = await _auto(world, fm, call["id"])
    assert _evaluator_ids(made["created"]) == {str(c.id)}


async def test_withdrawing_the_proposal_withdraws_its_open_assignments(world: World) -> None:
    fm, call, applicant, [proposal] = await _scenario(world, evaluators_per_proposal=3)
    pid = proposal["id"]
    done = await evaluator_with_profile(world)
    reading = await evaluator_with_profile(world)
    waiting = await evaluator_with_profile(world)
    await _auto(world, fm, call["id"])
    r = await declare_and_score(
        world,
        done,
        (await assignment_of(world, done, pid))["id"],
        full_evaluation(prag_full_application_grid(), 4),
    )
    assert r.status_code == 200, r.text
    reading_assignment = await assignment_of(world, reading, pid)
    r = await _declare(world, reading, reading_assignment["id"], DECLARATION)
    assert r.status_code == 200, r.text

    r = await world.fire(applicant, pid, "withdraw")
    assert r.status_code == 200, r.text
    statuses = {a["evaluator"]["id"]: a["status"] for a in await _assignments(world, fm, pid)}
    assert statuses == {
        str(done.id): "submitted",
        str(reading.id): "withdrawn",
        str(waiting.id): "withdrawn",
    }
    world.clock.advance(days=60)
    for who in (reading, waiting):
        [entry] = await _queue(world, who)
        assert entry["status"] == "withdrawn"
        assert entry["overdue"] is False
        r = await world.client.get(f"/api/v1/proposals/{pid}", headers=who.headers)
        assert r.status_code == 404, r.text
    # Nothing more to assign for a withdrawn proposal.
    await evaluator_with_profile(world)
    assert await _auto(world, fm, call["id"]) == {"created": [], "unfilled": {}}


# --- concurrency ----------------------------------------------------------------------------


@pytest.mark.parametrize("concurrent", [2, 5])
async def test_concurrent_auto_assign_never_overfills_a_proposal(
    world: World, concurrent: int
) -> None:
    fm, call, _, proposals = await _scenario(world, 3, evaluators_per_proposal=2)
    other_fm = await world.fund_manager()
    for _ in range(4):
        await evaluator_with_profile(world)
    managers = [fm, other_fm]
    responses = await asyncio.gather(
        *(
            world.client.post(
                f"/api/v1/calls/{call['id']}/assignments/auto",
                headers=managers[i % 2].headers,
            )
            for i in range(concurrent)
        )
    )
    assert [r.status_code for r in responses] == [200] * concurrent, [r.text for r in responses]
    created = [a for r in responses for a in r.json()["created"]]
    assert len(created) == 6
    assert all(r.json()["unfilled"] == {} for r in responses)
    for p in proposals:
        rows = await _assignments(world, fm, p["id"])
        assert len(rows) == 2
        assert len(_evaluator_ids(rows)) == 2
    loads = Counter(a["evaluator"]["id"] for a in created)
    assert max(loads.values()) - min(loads.values()) <= 1


async def test_concurrent_recusals_share_the_one_spare_evaluator(world: World) -> None:
    fm, call, _, [proposal] = await _scenario(world, evaluation_period_days=9)
    pid = proposal["id"]
    a = await evaluator_with_profile(world)
    b = await evaluator_with_profile(world)
    await _auto(world, fm, call["id"])
    spare = await evaluator_with_profile(world)
    ids = [(await assignment_of(world, who, pid))["id"] for who in (a, b)]
    world.clock.advance(days=2)
    responses = await asyncio.gather(
        *(_declare(world, who, aid, CONFLICT) for who, aid in zip((a, b), ids, strict=True))
    )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    holding = _holding(await _assignments(world, fm, pid))
    assert _evaluator_ids(holding) == {str(spare.id)}
    assert len(holding) == 1
    assert _at(holding[0]["due_at"]) == world.clock.now() + timedelta(days=9)
    assert await _auto(world, fm, call["id"]) == {"created": [], "unfilled": {pid: 1}}


async def test_concurrent_identical_hand_assignments_make_one(world: World) -> None:
    fm, _, _, [proposal] = await _scenario(world)
    other_fm = await world.fund_manager()
    evaluator = await evaluator_with_profile(world)
    responses = await asyncio.gather(
        *(_assign(world, who, proposal["id"], evaluator.id) for who in (fm, other_fm, fm))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409], [r.text for r in responses]
    assert len(await _assignments(world, fm, proposal["id"])) == 1
