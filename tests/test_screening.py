"""Screening through the API: starting it, the automatic checks, the call's checklist, the
rules for passing and failing, what the applicant sees, and who may screen."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from facility.db.engine import Database
from facility.identity.models import Organisation
from facility.screening.service import AUTOMATIC_CHECKS
from tests.factories import Account, World, pass_screening

CHECKLIST: list[dict[str, Any]] = [
    {"id": "declaration_of_honour", "label": "Declaration of honour signed", "mandatory": True},
    {"id": "statutes_attached", "label": "Statutes attached", "mandatory": True},
    {"id": "budget_consistent", "label": "Budget consistent", "mandatory": False},
    {"id": "cv_attached", "label": "CVs of key staff", "mandatory": False},
]
IDS: list[str] = [item["id"] for item in CHECKLIST]


def _url(proposal_id: str) -> str:
    return f"/api/v1/proposals/{proposal_id}/screening"


async def _put(
    world: World, who: Account, proposal_id: str, items: list[dict[str, Any]]
) -> httpx.Response:
    return await world.client.put(_url(proposal_id), json={"items": items}, headers=who.headers)


async def _get(world: World, who: Account, proposal_id: str) -> httpx.Response:
    return await world.client.get(_url(proposal_id), headers=who.headers)


async def _status(world: World, who: Account, proposal_id: str) -> str:
    r = await world.client.get(f"/api/v1/proposals/{proposal_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    status: str = r.json()["status"]
    return status


async def _submitted(
    world: World, checklist: list[dict[str, Any]] | None = None
) -> tuple[Account, Account, dict[str, Any]]:
    fm = await world.fund_manager()
    call = await world.call(fm, screening_checklist=CHECKLIST if checklist is None else checklist)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    return fm, applicant, proposal


async def _screening(world: World) -> tuple[Account, Account, dict[str, Any]]:
    fm, applicant, proposal = await _submitted(world)
    r = await _put(world, fm, proposal["id"], [])
    assert r.status_code == 200, r.text
    return fm, applicant, proposal


def _errors(r: httpx.Response) -> list[tuple[str, str]]:
    return sorted((e["field"], e["code"]) for e in r.json()["errors"])


# --- starting ---------------------------------------------------------------------------


async def test_first_put_starts_screening_with_checks_and_the_calls_checklist(
    world: World,
) -> None:
    fm, _, proposal = await _submitted(world)
    assert proposal["status"] == "submitted"
    world.clock.advance(hours=3)
    r = await _put(world, fm, proposal["id"], [])
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["status"] == "screening" and s["proposal_id"] == proposal["id"]
    assert s["stage"] == "full_application"
    assert [c["id"] for c in s["automatic_checks"]] == [g for g, _ in AUTOMATIC_CHECKS]
    assert all(c["passed"] is True and c["details"] == [] for c in s["automatic_checks"])
    assert all(c["label"] for c in s["automatic_checks"])
    assert s["checklist"] == [{**item, "passed": None, "note": None} for item in CHECKLIST]
    assert s["outcome"] is None and s["decided_at"] is None
    assert s["started_at"] == s["updated_at"]
    assert sorted(s["blocking"]) == sorted(f"{i}: no result yet" for i in IDS)
    assert await _status(world, fm, proposal["id"]) == "screening"
    # The same, read back.
    got = await _get(world, fm, proposal["id"])
    assert got.status_code == 200 and got.json() == s


async def test_mandatory_defaults_to_true_in_the_copied_checklist(world: World) -> None:
    fm, _, proposal = await _submitted(world, [{"id": "signed", "label": "Signed"}])
    r = await _put(world, fm, proposal["id"], [])
    assert r.status_code == 200, r.text
    assert r.json()["checklist"] == [
        {"id": "signed", "label": "Signed", "mandatory": True, "passed": None, "note": None}
    ]


async def test_start_screening_trigger_opens_the_same_screening(world: World) -> None:
    fm, _, proposal = await _submitted(world)
    r = await _get(world, fm, proposal["id"])
    assert r.status_code == 404  # not screened yet
    r = await world.fire(fm, proposal["id"], "start_screening")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "screening"
    s = (await _get(world, fm, proposal["id"])).json()
    assert len(s["automatic_checks"]) == len(AUTOMATIC_CHECKS)
    assert [i["passed"] for i in s["checklist"]] == [None] * len(CHECKLIST)


async def test_automatic_checks_judge_the_submission_time_not_the_screening_time(
    world: World,
) -> None:
    fm, _, proposal = await _submitted(world)
    world.clock.advance(days=45)  # long after the call's deadline
    r = await _put(world, fm, proposal["id"], [])
    assert r.status_code == 200, r.text
    checks = {c["id"]: c["passed"] for c in r.json()["automatic_checks"]}
    assert checks["within_submission_window"] is True
    assert all(checks.values())


async def test_a_failed_automatic_check_is_recorded_and_blocks(world: World, db: Database) -> None:
    fm, applicant, proposal = await _submitted(world)
    # The organisation's type was corrected after submission to one the call excludes.
    async with db.unit_of_work() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id == applicant.organisation_id)
            .values(iati_type=80)
        )
    r = await _put(world, fm, proposal["id"], [{"id": i, "passed": True} for i in IDS])
    assert r.status_code == 200, r.text
    checks = {c["id"]: c for c in r.json()["automatic_checks"]}
    assert checks["applicant_eligible"]["passed"] is False
    assert any("80" in d for d in checks["applicant_eligible"]["details"])
    assert [k for k, c in checks.items() if not c["passed"]] == ["applicant_eligible"]
    assert r.json()["blocking"] == ["automatic check applicant_eligible failed"]
    refused = await world.fire(fm, proposal["id"], "pass_screening")
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "/problems/transition-refused"
    index = [g for g, _ in AUTOMATIC_CHECKS].index("applicant_eligible")
    assert _errors(refused) == [(f"screening.automatic_checks.{index}", "automatic_check_failed")]
    r = await world.fire(fm, proposal["id"], "fail_screening", reasons=["Not eligible"])
    assert r.status_code == 200 and r.json()["status"] == "ineligible"


# --- recording results ------------------------------------------------------------------


async def test_results_are_recorded_and_a_put_replaces_them(world: World) -> None:
    fm, _, proposal = await _screening(world)
    world.clock.advance(minutes=5)
    items = [
        {"id": "declaration_of_honour", "passed": True},
        {"id": "budget_consistent", "passed": False, "note": "Staff costs double counted."},
        {"id": "cv_attached", "passed": True, "note": "All three CVs."},
    ]
    r = await _put(world, fm, proposal["id"], items)
    assert r.status_code == 200, r.text
    s = r.json()
    assert [(i["id"], i["passed"], i["note"]) for i in s["checklist"]] == [
        ("declaration_of_honour", True, None),
        ("statutes_attached", None, None),
        ("budget_consistent", False, "Staff costs double counted."),
        ("cv_attached", True, "All three CVs."),
    ]
    assert [i["mandatory"] for i in s["checklist"]] == [True, True, False, False]
    assert s["blocking"] == ["statutes_attached: no result yet"]
    assert s["updated_at"] != s["started_at"]
    assert (await _get(world, fm, proposal["id"])).json()["checklist"] == s["checklist"]
    # PUT is the whole answer: what is left out is open again.
    r = await _put(world, fm, proposal["id"], [{"id": "statutes_attached", "passed": True}])
    assert r.status_code == 200, r.text
    assert [i["passed"] for i in r.json()["checklist"]] == [None, True, None, None]


async def test_an_unknown_item_is_refused_with_its_path(world: World) -> None:
    fm, _, proposal = await _screening(world)
    items = [
        {"id": "declaration_of_honour", "passed": True},
        {"id": "bank_guarantee", "passed": True},
        {"id": "statutes_attached", "passed": True},
        {"id": "audit_report", "passed": False, "note": "Missing."},
    ]
    r = await _put(world, fm, proposal["id"], items)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "/problems/validation-error"
    fields = sorted(e["field"] for e in body["errors"])
    assert fields == ["items.1.id", "items.3.id"]
    assert {e["pointer"] for e in body["errors"]} == {"/items/1/id", "/items/3/id"}
    assert any("bank_guarantee" in e["detail"] for e in body["errors"])
    # Nothing was saved, not even the valid items.
    s = (await _get(world, fm, proposal["id"])).json()
    assert [i["passed"] for i in s["checklist"]] == [None] * len(CHECKLIST)


async def test_a_duplicate_item_is_refused(world: World) -> None:
    fm, _, proposal = await _screening(world)
    items = [
        {"id": "declaration_of_honour", "passed": True},
        {"id": "budget_consistent", "passed": True},
        {"id": "declaration_of_honour", "passed": False, "note": "Unsigned after all."},
    ]
    r = await _put(world, fm, proposal["id"], items)
    assert r.status_code == 422, r.text
    assert _errors(r) == [("items.2.id", "duplicate")]


async def test_a_failed_item_needs_a_note(world: World) -> None:
    fm, _, proposal = await _screening(world)
    for note in (None, "", "   \n\t "):
        failed: dict[str, Any] = {"id": "budget_consistent", "passed": False}
        if note is not None:
            failed["note"] = note
        items = [{"id": "declaration_of_honour", "passed": True}, failed]
        r = await _put(world, fm, proposal["id"], items)
        assert r.status_code == 422, (note, r.text)
        assert _errors(r) == [("items.1.note", "required")]


async def test_every_checklist_problem_is_reported_at_once(world: World) -> None:
    fm, _, proposal = await _screening(world)
    items = [
        {"id": "nope", "passed": True},
        {"id": "cv_attached", "passed": False},
        {"id": "cv_attached", "passed": True},
        {"id": "statutes_attached", "passed": False, "note": " "},
    ]
    r = await _put(world, fm, proposal["id"], items)
    assert r.status_code == 422, r.text
    assert _errors(r) == [
        ("items.0.id", "invalid"),
        ("items.1.note", "required"),
        ("items.2.id", "duplicate"),
        ("items.3.note", "required"),
    ]


async def test_malformed_items_are_refused_by_the_schema(world: World) -> None:
    fm, _, proposal = await _screening(world)
    cases: list[tuple[Any, str]] = [
        ([{"id": "Not A Slug", "passed": True}], "items.0.id"),
        ([{"passed": True}], "items.0.id"),
        ([{"id": "cv_attached"}], "items.0.passed"),
        ([{"id": "cv_attached", "passed": "maybe"}], "items.0.passed"),
        ([{"id": "cv_attached", "passed": True, "extra": 1}], "items.0.extra"),
        ([{"id": f"item_{n}", "passed": True} for n in range(31)], "items"),
    ]
    for items, field in cases:
        r = await _put(world, fm, proposal["id"], items)
        assert r.status_code == 422, (items, r.text)
        assert field in {e["field"] for e in r.json()["errors"]}, r.text
    r = await world.client.put(_url(proposal["id"]), json={}, headers=fm.headers)
    assert r.status_code == 422 and "items" in {e["field"] for e in r.json()["errors"]}


async def test_an_invalid_first_put_does_not_start_screening(world: World) -> None:
    fm, _, proposal = await _submitted(world)
    r = await _put(world, fm, proposal["id"], [{"id": "unknown_item", "passed": True}])
    assert r.status_code == 422, r.text
    assert await _status(world, fm, proposal["id"]) == "submitted"
    assert (await _get(world, fm, proposal["id"])).status_code == 404


# --- passing ----------------------------------------------------------------------------


async def test_pass_is_refused_listing_every_open_and_failed_mandatory_item(
    world: World,
) -> None:
    fm, _, proposal = await _screening(world)
    r = await world.fire(fm, proposal["id"], "pass_screening")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "/problems/transition-refused"
    assert _errors(r) == sorted(
        (f"screening.checklist.{i}", "checklist_item_open") for i in range(len(CHECKLIST))
    )
    assert all(e["location"] == "subject" for e in body["errors"])
    assert all(i in " ".join(e["detail"] for e in body["errors"]) for i in IDS)

    items = [
        {"id": "declaration_of_honour", "passed": False, "note": "Not signed."},
        {"id": "budget_consistent", "passed": False, "note": "Rounding only."},
    ]
    assert (await _put(world, fm, proposal["id"], items)).status_code == 200
    r = await world.fire(fm, proposal["id"], "pass_screening")
    assert r.status_code == 422, r.text
    assert _errors(r) == [
        ("screening.checklist.0", "mandatory_item_failed"),
        ("screening.checklist.1", "checklist_item_open"),
        ("screening.checklist.3", "checklist_item_open"),
    ]
    failed = next(e for e in r.json()["errors"] if e["code"] == "mandatory_item_failed")
    assert "declaration_of_honour" in failed["detail"] and "Not signed." in failed["detail"]
    s = (await _get(world, fm, proposal["id"])).json()
    assert sorted(s["blocking"]) == [
        "cv_attached: no result yet",
        "declaration_of_honour: mandatory item failed",
        "statutes_attached: no result yet",
    ]
    assert await _status(world, fm, proposal["id"]) == "screening"


async def test_a_failed_mandatory_item_alone_blocks(world: World) -> None:
    fm, _, proposal = await _screening(world)
    items = [{"id": i, "passed": True} for i in IDS]
    items[1] = {"id": "statutes_attached", "passed": False, "note": "Expired statutes."}
    assert (await _put(world, fm, proposal["id"], items)).status_code == 200
    r = await world.fire(fm, proposal["id"], "pass_screening")
    assert r.status_code == 422, r.text
    assert _errors(r) == [("screening.checklist.1", "mandatory_item_failed")]
    s = (await _get(world, fm, proposal["id"])).json()
    assert s["blocking"] == ["statutes_attached: mandatory item failed"]


async def test_a_failed_optional_item_with_a_note_does_not_block(world: World) -> None:
    fm, applicant, proposal = await _screening(world)
    items = [{"id": i, "passed": True} for i in IDS]
    items[2] = {"id": "budget_consistent", "passed": False, "note": "Minor rounding."}
    r = await _put(world, fm, proposal["id"], items)
    assert r.status_code == 200 and r.json()["blocking"] == []
    world.clock.advance(hours=1)
    r = await world.fire(fm, proposal["id"], "pass_screening", comment="All good.")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "evaluation"
    s = (await _get(world, fm, proposal["id"])).json()
    assert s["status"] == "evaluation" and s["outcome"] == "passed"
    assert s["decided_at"] is not None
    assert s["checklist"][2]["passed"] is False and s["checklist"][2]["note"] == "Minor rounding."
    assert await _status(world, applicant, proposal["id"]) == "evaluation"


async def test_a_call_without_a_checklist_passes_on_the_automatic_checks(world: World) -> None:
    fm, _, proposal = await _submitted(world, checklist=[])
    r = await _put(world, fm, proposal["id"], [])
    assert r.status_code == 200 and r.json()["checklist"] == [] and r.json()["blocking"] == []
    r = await world.fire(fm, proposal["id"], "pass_screening")
    assert r.status_code == 200 and r.json()["status"] == "evaluation"


async def test_pass_before_screening_started_is_a_conflict(world: World) -> None:
    fm, _, proposal = await _submitted(world)
    r = await world.fire(fm, proposal["id"], "pass_screening")
    assert r.status_code == 409, r.text
    assert await _status(world, fm, proposal["id"]) == "submitted"


# --- failing ----------------------------------------------------------------------------


async def test_fail_needs_reasons(world: World) -> None:
    fm, _, proposal = await _screening(world)
    for reasons in (None, [], [""], ["   "], ["Late."] * 21):
        payload = {} if reasons is None else {"reasons": reasons}
        r = await world.fire(fm, proposal["id"], "fail_screening", **payload)
        assert r.status_code == 422, (reasons, r.text)
        assert any(e["field"].startswith("reasons") for e in r.json()["errors"]), r.text
    assert await _status(world, fm, proposal["id"]) == "screening"


async def test_fail_makes_the_proposal_ineligible_and_shows_reasons_not_comments(
    world: World,
) -> None:
    fm, applicant, proposal = await _screening(world)
    items = [{"id": i, "passed": True} for i in IDS]
    items[0] = {"id": "declaration_of_honour", "passed": False, "note": "INTERNAL NOTE: forged?"}
    assert (await _put(world, fm, proposal["id"], items)).status_code == 200
    world.clock.advance(hours=2)
    reasons = ["The declaration of honour is not signed.", "Section 3 of the form is empty."]
    r = await world.fire(
        fm, proposal["id"], "fail_screening", reasons=reasons,
        comment="INTERNAL: looks like a duplicate of last year's bid.",
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ineligible"
    s = (await _get(world, fm, proposal["id"])).json()
    assert s["outcome"] == "failed" and s["decided_at"] is not None

    assert await _status(world, applicant, proposal["id"]) == "ineligible"
    h = await world.client.get(
        f"/api/v1/proposals/{proposal['id']}/history", headers=applicant.headers
    )
    assert h.status_code == 200, h.text
    [entry] = [e for e in h.json() if e["trigger"] == "fail_screening"]
    assert entry["to_state"] == "ineligible" and entry["from_state"] == "screening"
    assert entry["payload"] == {"reasons": reasons}
    assert entry["comment"] is None
    assert entry["actor"]["id"] is None
    assert "INTERNAL" not in h.text  # neither the comment nor any checklist note
    assert [e["to_state"] for e in h.json()][-3:] == ["submitted", "screening", "ineligible"]

    staff = await world.client.get(
        f"/api/v1/proposals/{proposal['id']}/history", headers=fm.headers
    )
    [entry] = [e for e in staff.json() if e["trigger"] == "fail_screening"]
    assert entry["comment"] == "INTERNAL: looks like a duplicate of last year's bid."
    assert entry["payload"]["reasons"] == reasons
    assert entry["actor"]["id"] == str(fm.id)


async def test_fail_is_possible_with_every_item_passed(world: World) -> None:
    """Reasons outside the checklist (e.g. a duplicate application) can make a proposal
    ineligible: failing does not depend on the checklist."""
    fm, _, proposal = await _screening(world)
    r = await world.fire(fm, proposal["id"], "fail_screening", reasons=["Duplicate application."])
    assert r.status_code == 200 and r.json()["status"] == "ineligible"


# --- states -----------------------------------------------------------------------------


async def test_screening_a_draft_is_a_conflict(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, screening_checklist=CHECKLIST)
    applicant = await world.applicant()
    draft = await world.ready_proposal(applicant, call["id"])
    r = await _put(world, fm, draft["id"], [])
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "/problems/conflict"
    assert await _status(world, applicant, draft["id"]) == "draft"


@pytest.mark.parametrize("outcome", ["passed", "failed"])
async def test_screening_a_decided_proposal_is_a_conflict(world: World, outcome: str) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, screening_checklist=CHECKLIST)
    applicant = await world.applicant()
    proposal = await world.submitted(applicant, call["id"])
    if outcome == "passed":
        await pass_screening(world, fm, proposal["id"])
    else:
        assert (await _put(world, fm, proposal["id"], [])).status_code == 200
        r = await world.fire(fm, proposal["id"], "fail_screening", reasons=["Late."])
        assert r.status_code == 200, r.text
    before = (await _get(world, fm, proposal["id"])).json()
    r = await _put(world, fm, proposal["id"], [{"id": i, "passed": True} for i in IDS])
    assert r.status_code == 409, r.text
    assert r.json()["type"] == "/problems/conflict"
    assert (await _get(world, fm, proposal["id"])).json() == before
    again = await world.fire(fm, proposal["id"], "pass_screening")
    assert again.status_code == 409, again.text


async def test_screening_a_withdrawn_proposal_is_a_conflict(world: World) -> None:
    fm, applicant, proposal = await _submitted(world)
    assert (await world.fire(applicant, proposal["id"], "withdraw")).status_code == 200
    r = await _put(world, fm, proposal["id"], [])
    assert r.status_code == 409, r.text


async def test_unknown_proposal_is_not_found(world: World) -> None:
    fm = await world.fund_manager()
    missing = "00000000-0000-4000-8000-000000000000"
    assert (await _put(world, fm, missing, [])).status_code == 404
    assert (await _get(world, fm, missing)).status_code == 404


# --- who may screen ---------------------------------------------------------------------


async def test_only_fund_managers_screen(world: World) -> None:
    fm, applicant, proposal = await _screening(world)
    others = {
        "applicant": applicant,
        "evaluator": await world.evaluator(),
        "admin": await world.admin(),
        "other_applicant": await world.applicant(),
    }
    items = [{"id": i, "passed": True} for i in IDS]
    for role, who in others.items():
        r = await _put(world, who, proposal["id"], items)
        assert r.status_code == 403, (role, r.text)
        assert r.json()["type"] == "/problems/forbidden"
        r = await _get(world, who, proposal["id"])
        assert r.status_code == 403, (role, r.text)
    # The owner is refused the trigger; another applicant may not even see the proposal.
    r = await world.fire(applicant, proposal["id"], "pass_screening")
    assert r.status_code == 403, r.text
    r = await world.fire(others["other_applicant"], proposal["id"], "pass_screening")
    assert r.status_code == 404, r.text
    s = (await _get(world, fm, proposal["id"])).json()
    assert [i["passed"] for i in s["checklist"]] == [None] * len(CHECKLIST)


async def test_applicant_cannot_fail_or_start_screening(world: World) -> None:
    fm, applicant, proposal = await _submitted(world)
    r = await world.fire(applicant, proposal["id"], "start_screening")
    assert r.status_code == 403, r.text
    assert (await _put(world, fm, proposal["id"], [])).status_code == 200
    r = await world.fire(applicant, proposal["id"], "fail_screening", reasons=["Mine."])
    assert r.status_code == 403, r.text
    assert await _status(world, fm, proposal["id"]) == "screening"


async def test_any_fund_manager_may_screen(world: World) -> None:
    """Fund managers are facility staff, not tied to organisations: another fund manager
    than the call's author screens as well (there is no 'other organisation' for them)."""
    _, _, proposal = await _submitted(world)
    other = await world.fund_manager()
    r = await _put(world, other, proposal["id"], [{"id": i, "passed": True} for i in IDS])
    assert r.status_code == 200, r.text
    r = await world.fire(other, proposal["id"], "pass_screening")
    assert r.status_code == 200 and r.json()["status"] == "evaluation"


async def test_unauthenticated_is_refused(world: World) -> None:
    _, _, proposal = await _submitted(world)
    r = await world.client.put(_url(proposal["id"]), json={"items": []})
    assert r.status_code == 401
    r = await world.client.get(_url(proposal["id"]))
    assert r.status_code == 401


async def test_history_records_the_screening_events(world: World) -> None:
    fm, applicant, proposal = await _submitted(world)
    world.clock.advance(hours=1)
    await pass_screening(world, fm, proposal["id"])
    staff = (
        await world.client.get(f"/api/v1/proposals/{proposal['id']}/history", headers=fm.headers)
    ).json()
    events = [(e["trigger"], e["to_state"]) for e in staff if e["trigger"]]
    assert events[-2:] == [("start_screening", "screening"), ("pass_screening", "evaluation")]
    recorded = [e for e in staff if e["event"] == "proposal.screening_recorded"]
    assert recorded and recorded[-1]["actor"]["id"] == str(fm.id)
    started = next(e for e in staff if e["trigger"] == "start_screening")
    assert started["payload"]["automatic_checks_failed"] == []
    assert started["occurred_at"].startswith(world.clock.now().date().isoformat())
    mine = (
        await world.client.get(
            f"/api/v1/proposals/{proposal['id']}/history", headers=applicant.headers
        )
    ).json()
    started = next(e for e in mine if e["trigger"] == "start_screening")
    assert started["payload"] == {} and started["actor"]["id"] is None


async def test_two_first_puts_at_once_open_one_screening(world: World) -> None:
    fm, _, proposal = await _submitted(world)
    items = [{"id": i, "passed": True} for i in IDS]
    first, second = await asyncio.gather(
        _put(world, fm, proposal["id"], items), _put(world, fm, proposal["id"], items[:1])
    )
    codes = sorted([first.status_code, second.status_code])
    assert codes in ([200, 200], [200, 409]), (first.text, second.text)
    s = await _get(world, fm, proposal["id"])
    assert s.status_code == 200 and s.json()["status"] == "screening"
    staff = (
        await world.client.get(f"/api/v1/proposals/{proposal['id']}/history", headers=fm.headers)
    ).json()
    assert [e["trigger"] for e in staff].count("start_screening") == 1
