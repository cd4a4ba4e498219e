"""Grants, reports and payments through the API (SQLite and PostgreSQL): signature, the
schedules it creates, reports (drafting, submission, overdue, revision), payments (unlocking,
paying, waiving), closure, termination, suspension, visibility and report attachments."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.factories import PDF, Account, World, force_evaluated

D = Decimal
CENT = D("0.01")
TODAY = "2026-03-02"  # the frozen clock's date, also the award date


@dataclass
class G:
    """A grant in ``contracting`` and who it belongs to."""

    grant: dict[str, Any]
    grantee: Account
    call: dict[str, Any]
    proposal: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.grant["id"])

    @property
    def url(self) -> str:
        return f"/api/v1/grants/{self.id}"


async def new_grant(
    world: World,
    fm: Account,
    *,
    duration: int = 12,
    amount: str = "200000.00",
    grantee: Account | None = None,
    call: dict[str, Any] | None = None,
    call_overrides: dict[str, Any] | None = None,
    **proposal: Any,
) -> G:
    """An awarded proposal and its grant (status contracting)."""
    if call is None:
        call = await world.call(fm, **(call_overrides or {}))
    grantee = grantee or await world.applicant()
    total = (D(amount) / D("0.9")).quantize(CENT)
    p = await world.submitted(
        grantee, call["id"], duration_months=duration, requested_amount=amount,
        total_budget=str(total), **proposal,
    )  # fmt: skip
    await force_evaluated(world, p["id"])
    r = await world.fire(fm, p["id"], "award", amount=amount)
    assert r.status_code == 200, r.text
    r = await world.client.get("/api/v1/grants", params={"call_id": call["id"]}, headers=fm.headers)
    assert r.status_code == 200, r.text
    [grant] = [g for g in r.json()["items"] if g["proposal_id"] == p["id"]]
    assert grant["status"] == "contracting"
    return G(grant, grantee, call, p)


async def grant_do(
    world: World, who: Account, g: G, trigger: str, **payload: Any
) -> httpx.Response:
    return await world.client.post(
        f"{g.url}/transitions", json={"trigger": trigger, **payload}, headers=who.headers
    )


async def signed_grant(world: World, fm: Account, **kwargs: Any) -> G:
    g = await new_grant(world, fm, **kwargs)
    r = await grant_do(world, fm, g, "sign_contract", signed_on=TODAY)
    assert r.status_code == 200, r.text
    g.grant = r.json()
    return g


async def reports(world: World, who: Account, g: G) -> list[dict[str, Any]]:
    r = await world.client.get(f"{g.url}/reports", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def payments(world: World, who: Account, g: G) -> list[dict[str, Any]]:
    r = await world.client.get(f"{g.url}/payments", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def grant_of(world: World, who: Account, g: G) -> dict[str, Any]:
    r = await world.client.get(g.url, headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def call_of(world: World, fm: Account, g: G) -> dict[str, Any]:
    r = await world.client.get(f"/api/v1/calls/{g.call['id']}", headers=fm.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def put_report(
    world: World, who: Account, report_id: str, body: dict[str, Any]
) -> httpx.Response:
    """PUT with the ETag just read (If-Match is required)."""
    url = f"/api/v1/reports/{report_id}"
    got = await world.client.get(url, headers=who.headers)
    # Someone who cannot read the report has no ETag: any If-Match, the answer is 404.
    headers = {**who.headers, "If-Match": got.headers.get("etag", '"v1"')}
    return await world.client.put(url, json=body, headers=headers)


async def report_do(
    world: World, who: Account, report_id: str, trigger: str, **payload: Any
) -> httpx.Response:
    return await world.client.post(
        f"/api/v1/reports/{report_id}/transitions",
        json={"trigger": trigger, **payload},
        headers=who.headers,
    )


async def pay_do(
    world: World, who: Account, payment_id: str, trigger: str, **payload: Any
) -> httpx.Response:
    return await world.client.post(
        f"/api/v1/payments/{payment_id}/transitions",
        json={"trigger": trigger, **payload},
        headers=who.headers,
    )


def report_body(spent: str = "76000.00", narrative: str = "Year one delivered.") -> dict[str, Any]:
    return {
        "narrative": narrative,
        "spent_to_date": spent,
        "indicator_progress": [{"code": "1.1", "value": "900", "women": "500", "men": "400"}],
    }


async def file_report(
    world: World, fm: Account, g: G, report_id: str, spent: str, *, approve: bool = True
) -> dict[str, Any]:
    """The grantee writes and submits a complete report; the fund manager approves it."""
    r = await put_report(world, g.grantee, report_id, report_body(spent))
    assert r.status_code == 200, r.text
    r = await report_do(world, g.grantee, report_id, "submit")
    assert r.status_code == 200, r.text
    if approve:
        r = await report_do(world, fm, report_id, "approve")
        assert r.status_code == 200, r.text
    return dict(r.json())


def codes(r: httpx.Response) -> list[str]:
    return sorted(e["code"] for e in r.json().get("errors") or [])


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def plus(day: str, n: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=n)).isoformat()


# --- signature --------------------------------------------------------------------------------


async def test_sign_contract_validation_and_roles(world: World) -> None:
    fm = await world.fund_manager()
    g = await new_grant(world, fm)
    assert g.grant["available_transitions"] == ["sign_contract", "terminate"]
    for other in (g.grantee, await world.evaluator(), await world.admin()):
        r = await grant_do(world, other, g, "sign_contract", signed_on=TODAY)
        assert r.status_code == 403, r.text

    future = await grant_do(world, fm, g, "sign_contract", signed_on="2026-03-03")
    assert future.status_code == 422, future.text
    assert codes(future) == ["signature_in_future"]
    assert future.json()["errors"][0]["field"] == "signed_on"
    before = await grant_do(world, fm, g, "sign_contract", signed_on="2026-03-01")
    assert before.status_code == 422, before.text
    assert codes(before) == ["signature_before_award"]
    missing = await grant_do(world, fm, g, "sign_contract")
    assert missing.status_code == 422, missing.text
    assert [e["field"] for e in missing.json()["errors"]] == ["signed_on"]

    # Refusals changed nothing.
    got = await grant_of(world, fm, g)
    assert (got["status"], got["signed_on"], got["start_date"]) == ("contracting", None, None)
    assert await reports(world, fm, g) == [] and await payments(world, fm, g) == []

    # Ten days later, signed on a date between the award and today.
    world.clock.advance(days=10)
    signed = await grant_do(world, fm, g, "sign_contract", signed_on="2026-03-05")
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "active"
    assert signed.json()["signed_on"] == "2026-03-05"
    again = await grant_do(world, fm, g, "sign_contract", signed_on="2026-03-05")
    assert again.status_code == 409, again.text
    history = (await world.client.get(f"{g.url}/history", headers=g.grantee.headers)).json()
    assert [(h["event"], h["payload"]) for h in history] == [
        ("grant.contract_signed", {"signed_on": "2026-03-05"})
    ]
    [first, _] = await payments(world, fm, g)
    assert first["due_on"] == "2026-04-19"  # 45 days after the signature, not the request


@pytest.mark.parametrize(
    ("duration", "amount", "overrides", "expected_reports", "expected_payments"),
    [
        pytest.param(
            6, "150000.01", {},
            [("final", 1, "2026-07-01", "2026-12-31", "2027-03-31")],
            [("pre_financing", "120000.01", "due", "2026-04-16", None),
             ("balance", "30000.00", "scheduled", None, 1)],
            id="6-months",
        ),
        pytest.param(
            12, "233333.33", {},
            [("final", 1, "2026-07-01", "2027-06-30", "2027-09-28")],
            [("pre_financing", "186666.66", "due", "2026-04-16", None),
             ("balance", "46666.67", "scheduled", None, 1)],
            id="12-months",
        ),
        pytest.param(
            18, "233333.33", {},
            [("interim", 1, "2026-07-01", "2027-06-30", "2027-08-29"),
             ("final", 2, "2027-07-01", "2027-12-31", "2028-03-30")],
            [("pre_financing", "124444.44", "due", "2026-04-16", None),
             ("pre_financing", "62222.22", "scheduled", None, 1),
             ("balance", "46666.67", "scheduled", None, 2)],
            id="18-months",
        ),
        pytest.param(
            18, "90000.00", {"min_grant": "50000.00"},
            [("interim", 1, "2026-07-01", "2027-06-30", "2027-08-29"),
             ("final", 2, "2027-07-01", "2027-12-31", "2028-03-30")],
            [("pre_financing", "72000.00", "due", "2026-04-16", None),
             ("balance", "18000.00", "scheduled", None, 2)],
            id="18-months-small-grant",
        ),
    ],
)  # fmt: skip
async def test_schedules_created_at_signature(
    world: World,
    duration: int,
    amount: str,
    overrides: dict[str, Any],
    expected_reports: list[tuple[Any, ...]],
    expected_payments: list[tuple[Any, ...]],
) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=duration, amount=amount, call_overrides=overrides)
    assert g.grant["amount"] == amount
    assert g.grant["start_date"] == "2026-07-01"  # the planned start, after the signature
    assert g.grant["end_date"] == expected_reports[-1][3]
    got_reports = await reports(world, g.grantee, g)
    assert [
        (r["kind"], r["sequence"], r["period_start"], r["period_end"], r["due_on"])
        for r in got_reports
    ] == expected_reports
    assert all(r["status"] == "due" and r["overdue"] is False for r in got_reports)
    got = await payments(world, g.grantee, g)
    assert [
        (p["kind"], p["amount"], p["status"], p["due_on"], p["unlocked_by_report"]) for p in got
    ] == expected_payments
    assert sum(D(p["amount"]) for p in got) == D(amount)  # exact, in cents
    assert all(D(p["amount"]) == D(p["amount"]).quantize(CENT) for p in got)
    assert [p["sequence"] for p in got] == list(range(1, len(got) + 1))


async def test_signature_after_the_planned_start_moves_the_schedules(world: World) -> None:
    fm = await world.fund_manager()
    g = await new_grant(world, fm, duration=12)
    world.clock.set(at("2026-08-15"))
    r = await grant_do(world, fm, g, "sign_contract", signed_on="2026-08-10")
    assert r.status_code == 200, r.text
    assert (r.json()["start_date"], r.json()["end_date"]) == ("2026-08-10", "2027-08-09")
    [final] = await reports(world, fm, g)
    assert (final["period_start"], final["due_on"]) == ("2026-08-10", "2027-11-07")
    first, _ = await payments(world, fm, g)
    assert first["due_on"] == "2026-09-24"


# --- reports ----------------------------------------------------------------------------------


async def test_overdue_reports_follow_the_frozen_clock(world: World) -> None:
    # A one-month action starting at the signature (final report due 90 days after its end).
    fm = await world.fund_manager()
    g = await signed_grant(
        world, fm, duration=1, planned_start="2026-03-02", call_overrides={"min_duration_months": 1}
    )
    other = await world.applicant()
    [final] = await reports(world, fm, g)
    assert (final["period_start"], final["period_end"], final["due_on"]) == (
        "2026-03-02", "2026-04-01", "2026-06-30"
    )  # fmt: skip
    rid = final["id"]

    async def overdue_ids(who: Account) -> list[str]:
        r = await world.client.get(
            "/api/v1/reports", params={"overdue": "true"}, headers=who.headers
        )
        assert r.status_code == 200, r.text
        return [x["id"] for x in r.json()["items"]]

    async def flag(who: Account) -> bool:
        r = await world.client.get(f"/api/v1/reports/{rid}", headers=who.headers)
        assert r.status_code == 200, r.text
        return bool(r.json()["overdue"])

    assert await overdue_ids(fm) == [] and await flag(g.grantee) is False
    world.clock.set(at("2026-06-30", 23))  # the due date itself: not yet overdue
    assert await overdue_ids(fm) == [] and await overdue_ids(g.grantee) == []
    assert await flag(fm) is False
    world.clock.set(at("2026-07-01", 0))
    assert await overdue_ids(fm) == [rid]
    assert await overdue_ids(g.grantee) == [rid]
    assert await overdue_ids(other) == []
    assert await flag(fm) is True and await flag(g.grantee) is True
    everything = await world.client.get("/api/v1/reports", headers=fm.headers)
    assert [x["id"] for x in everything.json()["items"]] == [rid]

    # Submitted: no longer overdue.
    await file_report(world, fm, g, rid, "150000.00", approve=False)
    assert await overdue_ids(fm) == [] and await flag(g.grantee) is False
    # Sent back after its due date: it was handed in, so it is not overdue again (the grantee
    # is not chased as if it had never reported).
    r = await report_do(world, fm, rid, "request_revision", reason="Add the women/men split.")
    assert r.status_code == 200, r.text
    assert r.json()["overdue"] is False
    assert await overdue_ids(g.grantee) == []
    r = await report_do(world, g.grantee, rid, "submit")
    assert r.status_code == 200, r.text
    assert r.json()["overdue"] is False
    assert await overdue_ids(fm) == []
    r = await report_do(world, fm, rid, "approve")
    assert r.status_code == 200, r.text
    world.clock.set(at("2026-10-01"))
    assert await overdue_ids(fm) == [] and await flag(fm) is False


async def test_overdue_after_the_real_date(world: World) -> None:
    """The frozen clock may run ahead of the system's: tokens are judged by the facility clock
    (this answered 401 while PyJWT checked the tokens' iat against the system time)."""
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=18)
    interim, _ = await reports(world, fm, g)
    assert interim["due_on"] == "2027-08-29"
    far = max(at("2027-08-30"), datetime.now(UTC) + timedelta(days=30))
    world.clock.set(far)
    r = await world.client.get("/api/v1/reports", params={"overdue": "true"}, headers=fm.headers)
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["items"]] == [interim["id"]]


async def test_report_drafting_only_by_the_grantee_while_editable(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=18)
    interim, final = await reports(world, fm, g)
    rid = interim["id"]
    assert interim["available_transitions"] == []  # nothing a fund manager can do yet
    assert (await world.client.get(f"/api/v1/reports/{rid}", headers=g.grantee.headers)).json()[
        "available_transitions"
    ] == ["submit"]

    body = report_body("76000.00")
    r = await put_report(world, g.grantee, rid, body)
    assert r.status_code == 200, r.text
    assert r.json()["narrative"] == "Year one delivered."
    assert r.json()["spent_to_date"] == "76000.00"
    assert r.json()["indicator_progress"] == [
        {"code": "1.1", "value": "900", "women": "500", "men": "400", "comment": None}
    ]
    assert (await put_report(world, fm, rid, body)).status_code == 403
    assert (await put_report(world, await world.evaluator(), rid, body)).status_code == 403
    assert (await put_report(world, await world.admin(), rid, body)).status_code == 403
    assert (await put_report(world, await world.applicant(), rid, body)).status_code == 404

    # What the logframe does not allow is refused at once, with its location.
    unknown = await put_report(
        world, g.grantee, rid, {**body, "indicator_progress": [{"code": "9.9", "value": "1"}]}
    )
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["errors"][0]["field"] == "indicator_progress.0.code"
    split = await put_report(
        world, g.grantee, rid,
        {**body, "indicator_progress": [{"code": "1.1", "value": "10", "women": "8", "men": "3"}]},
    )  # fmt: skip
    assert split.status_code == 422, split.text
    twice = await put_report(
        world, g.grantee, rid,
        {**body, "indicator_progress": [{"code": "1.1", "value": "1"}] * 2},
    )  # fmt: skip
    assert twice.status_code == 422, twice.text
    kept = await world.client.get(f"/api/v1/reports/{rid}", headers=g.grantee.headers)
    assert kept.json()["indicator_progress"][0]["value"] == "900"  # the refused PUTs left it

    # PUT replaces the draft: an omitted field is emptied.
    r = await put_report(world, g.grantee, rid, {"narrative": "Only a narrative."})
    assert r.status_code == 200, r.text
    assert (r.json()["spent_to_date"], r.json()["indicator_progress"]) == (None, [])

    await file_report(world, fm, g, rid, "76000.00", approve=False)
    frozen = await put_report(world, g.grantee, rid, body)
    assert frozen.status_code == 409, frozen.text
    r = await report_do(world, fm, rid, "request_revision", reason="Explain the delay.")
    assert r.status_code == 200, r.text
    assert (await put_report(world, g.grantee, rid, body)).status_code == 200
    assert (await report_do(world, g.grantee, rid, "submit")).status_code == 200
    assert (await report_do(world, fm, rid, "approve")).status_code == 200
    assert (await put_report(world, g.grantee, rid, body)).status_code == 409
    # The final report is still open for drafting.
    assert (await put_report(world, g.grantee, final["id"], body)).status_code == 200


TWO_INDICATORS = {
    "objective": "Safer labour migration from Central Asia.",
    "outcomes": [
        {
            "statement": "Migrants are informed before departure.",
            "indicators": [
                {"code": "1.1", "name": "Migrants trained", "unit": "people",
                 "baseline": "0", "target": "2000", "sex_disaggregated": True},
                {"code": "1.2", "name": "Recruiters vetted", "unit": "agencies",
                 "baseline": "0", "target": "40", "sex_disaggregated": False},
            ],
        }
    ],
}  # fmt: skip


async def test_submit_lists_every_gap_at_once(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12, logframe=TWO_INDICATORS)
    [final] = await reports(world, fm, g)
    rid = final["id"]

    empty = await report_do(world, g.grantee, rid, "submit")
    assert empty.status_code == 422, empty.text
    assert sorted(e["field"] for e in empty.json()["errors"]) == [
        "indicator_progress", "indicator_progress", "narrative", "spent_to_date"
    ]  # fmt: skip

    # Progress on 1.1 without the women/men split, nothing on 1.2, no narrative, no spending.
    r = await put_report(
        world, g.grantee, rid, {"indicator_progress": [{"code": "1.1", "value": "900"}]}
    )
    assert r.status_code == 200, r.text
    gaps = await report_do(world, g.grantee, rid, "submit")
    assert gaps.status_code == 422, gaps.text
    assert gaps.json()["type"] == "/problems/transition-refused"
    errors = {(e["field"], e["code"]): e["detail"] for e in gaps.json()["errors"]}
    assert set(errors) == {
        ("indicator_progress.0", "required"),  # sex-disaggregated: women and men
        ("indicator_progress", "required"),  # 1.2 has no progress
        ("narrative", "required"),
        ("spent_to_date", "required"),
    }
    assert "1.2" in errors[("indicator_progress", "required")]
    assert "women" in errors[("indicator_progress.0", "required")]
    assert (await report_do(world, fm, rid, "submit")).status_code == 403
    assert (await report_do(world, await world.applicant(), rid, "submit")).status_code == 404
    got = await world.client.get(f"/api/v1/reports/{rid}", headers=g.grantee.headers)
    assert (got.json()["status"], got.json()["submitted_at"]) == ("due", None)

    # A blank narrative is no narrative.
    r = await put_report(
        world, g.grantee, rid,
        {"narrative": "   ", "spent_to_date": "0.00", "indicator_progress": [
            {"code": "1.1", "value": "900", "women": "500", "men": "400"},
            {"code": "1.2", "value": "12"}]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    blank = await report_do(world, g.grantee, rid, "submit")
    assert blank.status_code == 422, blank.text
    assert [e["field"] for e in blank.json()["errors"]] == ["narrative"]

    body = r.json()
    r = await put_report(
        world, g.grantee, rid,
        {"narrative": "Done.", "spent_to_date": "0.00",
         "indicator_progress": [
             {k: v for k, v in p.items() if v is not None} for p in body["indicator_progress"]]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    done = await report_do(world, g.grantee, rid, "submit")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "submitted"
    assert done.json()["submitted_at"] is not None


async def test_revision_loop(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12)
    [final] = await reports(world, fm, g)
    rid = final["id"]
    submitted = await file_report(world, fm, g, rid, "150000.00", approve=False)
    assert submitted["available_transitions"] == []  # the grantee waits
    fm_view = (await world.client.get(f"/api/v1/reports/{rid}", headers=fm.headers)).json()
    assert fm_view["available_transitions"] == ["approve", "request_revision"]

    no_reason = await report_do(world, fm, rid, "request_revision")
    assert no_reason.status_code == 422, no_reason.text
    assert [e["field"] for e in no_reason.json()["errors"]] == ["reason"]
    blank = await report_do(world, fm, rid, "request_revision", reason="   ")
    assert blank.status_code == 422, blank.text
    by_grantee = await report_do(world, g.grantee, rid, "request_revision", reason="Self.")
    assert by_grantee.status_code == 403, by_grantee.text
    assert (await report_do(world, g.grantee, rid, "approve")).status_code == 403

    reason = "Indicator 1.1: report the women and men separately for each district."
    sent_back = await report_do(world, fm, rid, "request_revision", reason=reason)
    assert sent_back.status_code == 200, sent_back.text
    assert sent_back.json()["status"] == "revision_requested"
    again = await report_do(world, fm, rid, "request_revision", reason=reason)
    assert again.status_code == 409, again.text
    assert (await report_do(world, fm, rid, "approve")).status_code == 409

    r = await put_report(world, g.grantee, rid, report_body("160000.00", "Revised narrative."))
    assert r.status_code == 200, r.text
    resubmitted = await report_do(world, g.grantee, rid, "submit")
    assert resubmitted.status_code == 200, resubmitted.text
    assert resubmitted.json()["status"] == "submitted"
    approved = await report_do(world, fm, rid, "approve")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["narrative"], body["spent_to_date"]) == (
        "approved", "Revised narrative.", "160000.00"
    )  # fmt: skip
    assert body["approved_at"] is not None and body["available_transitions"] == []
    assert (await report_do(world, g.grantee, rid, "submit")).status_code == 409
    # The grantee was told by e-mail (the outbox row commits with the transition).
    admin = await world.admin()
    outbox = await world.client.get("/api/v1/outbox", headers=admin.headers)
    assert outbox.status_code == 200, outbox.text
    sent = [(m["kind"], m["recipient_email"]) for m in outbox.json()["items"]]
    assert ("revision_requested", g.grantee.email) in sent


async def test_revision_reason_is_visible_to_the_grantee(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12)
    [final] = await reports(world, fm, g)
    rid = final["id"]
    await file_report(world, fm, g, rid, "150000.00", approve=False)
    reason = "Indicator 1.1: report the women and men separately for each district."
    r = await report_do(world, fm, rid, "request_revision", reason=reason)
    assert r.status_code == 200, r.text
    seen = ""
    for url in (f"/api/v1/reports/{rid}", f"/api/v1/reports/{rid}/history", f"{g.url}/history"):
        got = await world.client.get(url, headers=g.grantee.headers)
        if got.status_code == 200:
            seen += json.dumps(got.json())
    assert reason in seen


# --- unlocking the next instalment ---------------------------------------------------------


async def test_below_70_percent_the_next_instalment_stays_scheduled(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=18, amount="190000.00")
    interim, final = await reports(world, fm, g)
    first, second, balance = await payments(world, fm, g)
    assert (first["amount"], second["amount"], balance["amount"]) == (
        "101333.33", "50666.67", "38000.00"
    )  # fmt: skip
    r = await pay_do(world, fm, first["id"], "pay", paid_on=TODAY)
    assert r.status_code == 200, r.text

    # 69.99 % of 101333.33 is 70923.20.
    await file_report(world, fm, g, interim["id"], "70923.20")
    _, second, _ = await payments(world, fm, g)
    assert (second["status"], second["due_on"]) == ("scheduled", None)
    assert (await pay_do(world, fm, second["id"], "pay", paid_on=TODAY)).status_code == 409

    # The final report: the instalment never unlocked is no longer owed, the balance is the
    # rest, and the sum paid reaches the grant exactly, never more.
    world.clock.set(at("2026-04-10"))
    await file_report(world, fm, g, final["id"], "190000.00")
    first, second, balance = await payments(world, fm, g)
    assert second["status"] == "cancelled"
    assert (balance["status"], balance["amount"], balance["due_on"]) == (
        "due", "88666.67", "2026-05-25"
    )  # fmt: skip
    r = await pay_do(world, fm, balance["id"], "pay", paid_on="2026-04-10")
    assert r.status_code == 200, r.text
    assert (await grant_of(world, fm, g))["paid_total"] == "190000.00"


@pytest.mark.parametrize("spent", ["70933.34", "190000.00"])
async def test_at_70_percent_the_next_instalment_falls_due(world: World, spent: str) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=18, amount="190000.00")
    interim, _ = await reports(world, fm, g)
    approved = await file_report(world, fm, g, interim["id"], spent)
    assert approved["status"] == "approved"
    first, second, balance = await payments(world, fm, g)
    # Unlocked whether or not the first instalment has been paid yet.
    assert (first["status"], second["status"], balance["status"]) == ("due", "due", "scheduled")
    assert second["due_on"] == "2026-04-16"  # 45 days after the approval
    paid = await pay_do(world, fm, second["id"], "pay", paid_on=TODAY)
    assert paid.status_code == 200, paid.text


async def test_a_fraction_of_a_cent_below_70_percent_does_not_unlock(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=18, amount="190000.00")
    interim, _ = await reports(world, fm, g)
    await file_report(world, fm, g, interim["id"], "70933.33")
    _, second, _ = await payments(world, fm, g)
    assert second["status"] == "scheduled"


async def test_revision_then_approval_at_70_percent_unlocks(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=18, amount="190000.00")
    interim, _ = await reports(world, fm, g)
    rid = interim["id"]
    await file_report(world, fm, g, rid, "70923.20", approve=False)
    r = await report_do(world, fm, rid, "request_revision", reason="Spending looks incomplete.")
    assert r.status_code == 200, r.text
    _, second, _ = await payments(world, fm, g)
    assert second["status"] == "scheduled"
    await file_report(world, fm, g, rid, "76000.00")
    _, second, _ = await payments(world, fm, g)
    assert second["status"] == "due"


async def test_a_later_interim_report_unlocks_what_an_earlier_one_did_not(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(
        world, fm, duration=36, amount="200000.00", call_overrides={"max_duration_months": 36}
    )
    first_report, second_report, final = await reports(world, fm, g)
    assert [r["kind"] for r in (first_report, second_report, final)] == [
        "interim", "interim", "final"
    ]  # fmt: skip
    got = await payments(world, fm, g)
    assert [(p["amount"], p["status"], p["unlocked_by_report"]) for p in got] == [
        ("53333.33", "due", None),
        ("53333.33", "scheduled", 1),
        ("53333.34", "scheduled", 2),
        ("40000.00", "scheduled", 3),
    ]
    # 70 % of 53333.33 is 37333.331: one cent less stays locked.
    await file_report(world, fm, g, first_report["id"], "37333.32")
    assert [p["status"] for p in await payments(world, fm, g)] == [
        "due", "scheduled", "scheduled", "scheduled"
    ]  # fmt: skip
    # The second interim report shows enough for the second instalment (70 % of the first)
    # but not for the third (100 % of the first + 70 % of the second = 90666.66).
    await file_report(world, fm, g, second_report["id"], "90666.65")
    assert [p["status"] for p in await payments(world, fm, g)] == [
        "due", "due", "scheduled", "scheduled"
    ]  # fmt: skip


async def test_one_report_can_unlock_two_instalments(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(
        world, fm, duration=36, amount="200000.00", call_overrides={"max_duration_months": 36}
    )
    first_report, second_report, _ = await reports(world, fm, g)
    await file_report(world, fm, g, first_report["id"], "10000.00")
    await file_report(world, fm, g, second_report["id"], "90666.67")
    assert [p["status"] for p in await payments(world, fm, g)] == [
        "due", "due", "due", "scheduled"
    ]  # fmt: skip


# --- payments -------------------------------------------------------------------------------


async def test_pay_records_date_and_amount_never_above_the_grant(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12, amount="200000.00")
    pre, balance = await payments(world, fm, g)
    assert (pre["amount"], pre["status"]) == ("160000.00", "due")
    assert "pay" in pre["available_transitions"]

    assert (await pay_do(world, g.grantee, pre["id"], "pay", paid_on=TODAY)).status_code == 403
    assert (
        await pay_do(world, await world.admin(), pre["id"], "pay", paid_on=TODAY)
    ).status_code == 403
    missing = await pay_do(world, fm, pre["id"], "pay")
    assert missing.status_code == 422, missing.text
    above = await pay_do(world, fm, pre["id"], "pay", paid_on=TODAY, amount="160000.01")
    assert above.status_code == 422, above.text
    assert codes(above) == ["amount_above_schedule"]
    not_due = await pay_do(world, fm, balance["id"], "pay", paid_on=TODAY)
    assert not_due.status_code == 409, not_due.text

    world.clock.set(at("2026-04-20"))
    unexplained = await pay_do(
        world, fm, pre["id"], "pay", paid_on="2026-04-17", amount="150000.00"
    )
    assert codes(unexplained) == ["reason_required"]  # less than scheduled: say why
    paid = await pay_do(
        world, fm, pre["id"], "pay", paid_on="2026-04-17", amount="150000.00",
        reason="10,000 of the budget line for equipment was ineligible.",
    )  # fmt: skip
    assert paid.status_code == 200, paid.text
    assert (paid.json()["status"], paid.json()["paid_on"], paid.json()["paid_amount"]) == (
        "paid", "2026-04-17", "150000.00"
    )  # fmt: skip
    assert (await grant_of(world, g.grantee, g))["paid_total"] == "150000.00"
    twice = await pay_do(world, fm, pre["id"], "pay", paid_on=TODAY)
    assert twice.status_code == 409, twice.text
    seen = await world.client.get(f"/api/v1/payments/{pre['id']}", headers=g.grantee.headers)
    assert (seen.json()["paid_on"], seen.json()["paid_amount"]) == ("2026-04-17", "150000.00")

    # The balance absorbs what the pre-financing left unpaid: the grant is paid exactly.
    [final] = await reports(world, fm, g)
    await file_report(world, fm, g, final["id"], "200000.00")
    _, balance = await payments(world, fm, g)
    assert (balance["status"], balance["amount"]) == ("due", "50000.00")
    over = await pay_do(world, fm, balance["id"], "pay", paid_on=TODAY, amount="50000.01")
    assert over.status_code == 422, over.text
    r = await pay_do(world, fm, balance["id"], "pay", paid_on=TODAY)
    assert r.status_code == 200, r.text
    assert r.json()["paid_amount"] == "50000.00"
    got = await grant_of(world, fm, g)
    assert (got["paid_total"], got["amount"]) == ("200000.00", "200000.00")
    paid_sum = sum(D(p["paid_amount"] or 0) for p in await payments(world, fm, g))
    assert paid_sum == D("200000.00")
    history = (await world.client.get(f"{g.url}/history", headers=fm.headers)).json()
    assert [h["event"] for h in history] == ["grant.contract_signed"]


async def test_only_the_balance_is_waived_with_a_reason(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12, amount="200000.00")
    pre, balance = await payments(world, fm, g)
    r = await pay_do(world, fm, pre["id"], "waive", reason="Not needed.")
    assert r.status_code == 422, r.text
    assert codes(r) == ["not_a_balance"]
    assert (await pay_do(world, fm, balance["id"], "waive")).status_code == 422
    assert (await pay_do(world, fm, balance["id"], "waive", reason="  ")).status_code == 422
    r = await pay_do(world, g.grantee, balance["id"], "waive", reason="Keep it.")
    assert r.status_code == 403, r.text
    assert (await pay_do(world, fm, pre["id"], "pay", paid_on=TODAY)).status_code == 200

    [final] = await reports(world, fm, g)
    await file_report(world, fm, g, final["id"], "160000.00")
    reason = "Ineligible costs: the unspent balance is not paid."
    waived = await pay_do(world, fm, balance["id"], "waive", reason=reason)
    assert waived.status_code == 200, waived.text
    assert (waived.json()["status"], waived.json()["waiver_reason"]) == ("waived", reason)
    assert (await pay_do(world, fm, balance["id"], "pay", paid_on=TODAY)).status_code == 409

    assert (await grant_do(world, fm, g, "start_closure")).status_code == 200
    closed = await grant_do(world, fm, g, "close")
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert (closed.json()["paid_total"], closed.json()["released_amount"]) == (
        "160000.00", "40000.00"
    )  # fmt: skip
    call = await call_of(world, fm, g)
    assert (call["committed_amount"], call["remaining_envelope"]) == ("160000.00", "1340000.00")


async def test_a_balance_waived_early_does_not_block_the_final_report(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12, amount="200000.00")
    pre, balance = await payments(world, fm, g)
    assert (await pay_do(world, fm, pre["id"], "pay", paid_on=TODAY)).status_code == 200
    r = await pay_do(world, fm, balance["id"], "waive", reason="The action was scaled down.")
    assert r.status_code == 200, r.text
    [final] = await reports(world, fm, g)
    await file_report(world, fm, g, final["id"], "160000.00", approve=False)
    approved = await report_do(world, fm, final["id"], "approve")
    assert approved.status_code == 200, approved.text


async def test_a_payment_cannot_be_dated_in_the_future(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12)
    pre, _ = await payments(world, fm, g)
    r = await pay_do(world, fm, pre["id"], "pay", paid_on="2030-01-01")
    assert r.status_code == 422, r.text


async def test_the_grant_etag_changes_when_a_payment_is_recorded(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12)
    before = await world.client.get(g.url, headers=fm.headers)
    pre, _ = await payments(world, fm, g)
    assert (await pay_do(world, fm, pre["id"], "pay", paid_on=TODAY)).status_code == 200
    after = await world.client.get(g.url, headers=fm.headers)
    assert (before.json()["paid_total"], after.json()["paid_total"]) == ("0.00", "160000.00")
    assert after.headers["ETag"] != before.headers["ETag"]


# --- closure --------------------------------------------------------------------------------


async def test_closing_waits_for_the_final_report_and_the_balance(world: World) -> None:
    fm = await world.fund_manager()
    g = await new_grant(world, fm, duration=12, amount="200000.00")
    assert (await grant_do(world, fm, g, "start_closure")).status_code == 409
    assert (await grant_do(world, fm, g, "close")).status_code == 409
    assert (await grant_do(world, fm, g, "sign_contract", signed_on=TODAY)).status_code == 200
    assert (await grant_do(world, g.grantee, g, "start_closure")).status_code == 403
    closing = await grant_do(world, fm, g, "start_closure")
    assert closing.status_code == 200, closing.text
    assert closing.json()["available_transitions"] == ["close"]

    refused = await grant_do(world, fm, g, "close")
    assert refused.status_code == 422, refused.text
    assert codes(refused) == [
        "final_report_not_approved", "payment_outstanding", "payment_outstanding"
    ]  # fmt: skip
    assert (await grant_do(world, g.grantee, g, "close")).status_code == 403

    [final] = await reports(world, fm, g)
    pre, balance = await payments(world, fm, g)
    await file_report(world, fm, g, final["id"], "200000.00", approve=False)  # while closing
    assert codes(await grant_do(world, fm, g, "close")) == [
        "final_report_not_approved", "payment_outstanding", "payment_outstanding"
    ]  # fmt: skip
    await report_do(world, fm, final["id"], "approve")
    assert codes(await grant_do(world, fm, g, "close")) == [
        "payment_outstanding", "payment_outstanding"
    ]  # fmt: skip
    assert (await pay_do(world, fm, pre["id"], "pay", paid_on=TODAY)).status_code == 200
    still = await grant_do(world, fm, g, "close")
    assert codes(still) == ["payment_outstanding"]
    assert "balance" in still.json()["errors"][0]["detail"]
    assert (await grant_of(world, fm, g))["status"] == "closing"
    assert (await pay_do(world, fm, balance["id"], "pay", paid_on=TODAY)).status_code == 200

    closed = await grant_do(world, fm, g, "close")
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["paid_total"], body["released_amount"]) == (
        "closed", "200000.00", "0.00"
    )  # fmt: skip
    assert body["closed_at"] is not None and body["available_transitions"] == []
    call = await call_of(world, fm, g)
    assert call["committed_amount"] == "200000.00"  # nothing to give back
    assert (await grant_do(world, fm, g, "terminate", reason="Too late.")).status_code == 409


# --- termination and suspension -------------------------------------------------------------


@pytest.mark.parametrize("state", ["contracting", "active", "suspended"])
async def test_terminate_returns_the_unpaid_money_and_cancels_the_rest(
    world: World, state: str
) -> None:
    fm = await world.fund_manager()
    g = await new_grant(world, fm, duration=18, amount="190000.00")
    paid = D(0)
    if state != "contracting":
        assert (await grant_do(world, fm, g, "sign_contract", signed_on=TODAY)).status_code == 200
        pre = (await payments(world, fm, g))[0]
        assert (await pay_do(world, fm, pre["id"], "pay", paid_on=TODAY)).status_code == 200
        paid = D(pre["amount"])
        interim = (await reports(world, fm, g))[0]
        await file_report(world, fm, g, interim["id"], "76000.00", approve=False)
    if state == "suspended":
        r = await grant_do(world, fm, g, "suspend", reason="Audit findings.")
        assert r.status_code == 200, r.text
    before = await call_of(world, fm, g)
    assert before["committed_amount"] == "190000.00"

    assert (await grant_do(world, fm, g, "terminate")).status_code == 422
    assert (await grant_do(world, fm, g, "terminate", reason=" ")).status_code == 422
    assert (await grant_do(world, g.grantee, g, "terminate", reason="No.")).status_code == 403
    reason = "The grantee lost its registration."
    r = await grant_do(world, fm, g, "terminate", reason=reason)
    assert r.status_code == 200, r.text
    body = r.json()
    unpaid = D("190000.00") - paid
    assert (body["status"], body["termination_reason"]) == ("terminated", reason)
    assert (D(body["released_amount"]), D(body["paid_total"])) == (unpaid, paid)
    assert body["available_transitions"] == []

    call = await call_of(world, fm, g)
    assert D(call["committed_amount"]) == paid
    assert D(call["remaining_envelope"]) == D(call["budget_envelope"]) - paid
    got_payments = await payments(world, g.grantee, g)
    got_reports = await reports(world, g.grantee, g)
    if state == "contracting":
        assert got_payments == [] and got_reports == []
    else:
        assert [p["status"] for p in got_payments] == ["paid", "cancelled", "cancelled"]
        assert [r["status"] for r in got_reports] == ["cancelled", "cancelled"]
        rid = got_reports[1]["id"]
        assert (await put_report(world, g.grantee, rid, report_body())).status_code == 409
        assert (await report_do(world, g.grantee, rid, "submit")).status_code == 409
        assert (await report_do(world, fm, got_reports[0]["id"], "approve")).status_code == 409
        assert (
            await pay_do(world, fm, got_payments[1]["id"], "pay", paid_on=TODAY)
        ).status_code == 409
        assert (await world.client.get("/api/v1/reports", params={"overdue": "true"},
                                       headers=fm.headers)).json()["items"] == []  # fmt: skip
    history = (await world.client.get(f"{g.url}/history", headers=g.grantee.headers)).json()
    assert history[-1]["event"] == "grant.terminated"
    # Before signature the award goes too; the grantee is told once, as the revoked award.
    code = {"reason_code": "award_revoked"} if state == "contracting" else {}
    assert history[-1]["payload"] == {"reason": reason, **code}
    again = await grant_do(world, fm, g, "terminate", reason=reason)
    assert again.status_code == 409, again.text
    assert D((await call_of(world, fm, g))["committed_amount"]) == paid  # released once


async def test_terminate_is_refused_once_closing(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm)
    assert (await grant_do(world, fm, g, "start_closure")).status_code == 200
    r = await grant_do(world, fm, g, "terminate", reason="Too late.")
    assert r.status_code == 409, r.text
    assert (await call_of(world, fm, g))["committed_amount"] == "200000.00"


async def test_suspend_and_resume(world: World) -> None:
    fm = await world.fund_manager()
    g = await new_grant(world, fm)
    assert (await grant_do(world, fm, g, "suspend", reason="Early.")).status_code == 409
    assert (await grant_do(world, fm, g, "sign_contract", signed_on=TODAY)).status_code == 200
    assert (await grant_do(world, fm, g, "resume")).status_code == 409
    assert (await grant_do(world, fm, g, "suspend")).status_code == 422
    assert (await grant_do(world, g.grantee, g, "suspend", reason="Me.")).status_code == 403
    reason = "Security situation in the target districts."
    r = await grant_do(world, fm, g, "suspend", reason=reason, comment="Internal: see memo 12.")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "suspended"
    assert r.json()["available_transitions"] == ["resume", "terminate"]
    assert (await grant_do(world, fm, g, "suspend", reason=reason)).status_code == 409
    assert (await grant_do(world, fm, g, "start_closure")).status_code == 409
    # The grantee still reports while suspended.
    [final] = await reports(world, fm, g)
    await file_report(world, fm, g, final["id"], "1000.00", approve=False)

    assert (await grant_do(world, g.grantee, g, "resume")).status_code == 403
    resumed = await grant_do(world, fm, g, "resume")
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["status"] == "active"
    history = (await world.client.get(f"{g.url}/history", headers=g.grantee.headers)).json()
    assert [(h["event"], h["payload"], h["comment"]) for h in history] == [
        ("grant.contract_signed", {"signed_on": TODAY}, None),
        ("grant.suspended", {"reason": reason}, None),  # the internal comment is not shown
        ("grant.resumed", {}, None),
    ]
    staff = (await world.client.get(f"{g.url}/history", headers=fm.headers)).json()
    assert staff[1]["comment"] == "Internal: see memo 12."


# --- who sees what --------------------------------------------------------------------------


async def test_grantees_see_only_their_own(world: World) -> None:
    fm = await world.fund_manager()
    a = await signed_grant(world, fm, duration=18)
    b = await signed_grant(world, fm, duration=12, call=a.call)
    a_report = (await reports(world, fm, a))[0]["id"]
    a_payment = (await payments(world, fm, a))[0]["id"]
    b_report = (await reports(world, fm, b))[0]["id"]

    async def ids(who: Account, url: str, **params: Any) -> set[str]:
        r = await world.client.get(url, params=params, headers=who.headers)
        assert r.status_code == 200, r.text
        return {x["id"] for x in r.json()["items"]}

    assert await ids(a.grantee, "/api/v1/grants") == {a.id}
    assert await ids(b.grantee, "/api/v1/grants") == {b.id}
    assert await ids(fm, "/api/v1/grants") == {a.id, b.id}
    assert await ids(fm, "/api/v1/grants", status="active") == {a.id, b.id}
    assert await ids(b.grantee, "/api/v1/reports") == {b_report}
    assert len(await ids(a.grantee, "/api/v1/reports")) == 2
    assert len(await ids(fm, "/api/v1/reports")) == 3
    assert await ids(b.grantee, "/api/v1/reports", grant_id=a.id) == set()
    assert await ids(fm, "/api/v1/reports", grant_id=b.id) == {b_report}

    for url in (
        a.url, f"{a.url}/reports", f"{a.url}/payments", f"{a.url}/history",
        f"/api/v1/reports/{a_report}", f"/api/v1/payments/{a_payment}",
        f"/api/v1/grants/{uuid.uuid4()}",
    ):  # fmt: skip
        r = await world.client.get(url, headers=b.grantee.headers)
        assert r.status_code == 404, (url, r.status_code, r.text)
    for url in (a.url, f"{a.url}/reports", f"{a.url}/payments", f"{a.url}/history",
                f"/api/v1/reports/{a_report}", f"/api/v1/payments/{a_payment}"):  # fmt: skip
        assert (await world.client.get(url, headers=fm.headers)).status_code == 200, url
        assert (await world.client.get(url, headers=a.grantee.headers)).status_code == 200, url

    assert (await put_report(world, b.grantee, a_report, report_body())).status_code == 404
    assert (await report_do(world, b.grantee, a_report, "submit")).status_code == 404
    upload = await world.client.post(
        f"/api/v1/reports/{a_report}/attachments", data={"kind": "financial"},
        files={"file": ("f.pdf", PDF, "application/pdf")}, headers=b.grantee.headers,
    )  # fmt: skip
    assert upload.status_code == 404, upload.text

    for who in (await world.evaluator(), await world.admin()):
        for url in (
            "/api/v1/grants", "/api/v1/reports", a.url, f"{a.url}/reports",
            f"{a.url}/payments", f"{a.url}/history", f"/api/v1/reports/{a_report}",
            f"/api/v1/payments/{a_payment}",
        ):  # fmt: skip
            r = await world.client.get(url, headers=who.headers)
            assert r.status_code == 403, (who.role, url, r.status_code)
        assert (await put_report(world, who, a_report, report_body())).status_code == 403
        assert (await report_do(world, who, a_report, "submit")).status_code == 403
        r = await pay_do(world, who, a_payment, "pay", paid_on=TODAY)
        assert r.status_code == 403, r.text
        assert (await grant_do(world, who, a, "suspend", reason="x")).status_code == 403
    for url in ("/api/v1/grants", a.url, f"/api/v1/reports/{a_report}"):
        assert (await world.client.get(url)).status_code == 401, url


# --- report attachments ---------------------------------------------------------------------


async def test_report_attachments(world: World) -> None:
    fm = await world.fund_manager()
    g = await signed_grant(world, fm, duration=12)
    [final] = await reports(world, fm, g)
    rid = final["id"]
    url = f"/api/v1/reports/{rid}/attachments"
    content = PDF + b"% financial statement\n"

    async def upload(who: Account, data: bytes = content) -> httpx.Response:
        return await world.client.post(
            url, data={"kind": "financial_statement"},
            files={"file": ("statement.pdf", data, "application/pdf")}, headers=who.headers,
        )  # fmt: skip

    assert (await upload(fm)).status_code == 403
    assert (await upload(await world.evaluator())).status_code == 403
    assert (await upload(await world.applicant())).status_code == 404
    r = await upload(g.grantee)
    assert r.status_code == 201, r.text
    att = r.json()
    assert (att["kind"], att["filename"], att["size"]) == (
        "financial_statement", "statement.pdf", len(content)
    )  # fmt: skip
    assert r.headers["Location"] == f"{url}/{att['id']}"
    listed = (await world.client.get(f"/api/v1/reports/{rid}", headers=fm.headers)).json()
    assert [a["id"] for a in listed["attachments"]] == [att["id"]]

    for who in (g.grantee, fm):
        got = await world.client.get(f"{url}/{att['id']}", headers=who.headers)
        assert got.status_code == 200, got.text
        assert got.content == content
    assert (
        await world.client.get(f"{url}/{att['id']}", headers=(await world.applicant()).headers)
    ).status_code == 404
    assert (
        await world.client.get(f"{url}/{att['id']}", headers=(await world.evaluator()).headers)
    ).status_code == 403
    assert (await world.client.get(f"{url}/{uuid.uuid4()}", headers=fm.headers)).status_code == 404

    await file_report(world, fm, g, rid, "150000.00", approve=False)
    frozen = await upload(g.grantee)
    assert frozen.status_code == 409, frozen.text
    assert (
        await report_do(world, fm, rid, "request_revision", reason="Add the audit.")
    ).status_code == 200
    assert (await upload(g.grantee, PDF + b"% audit\n")).status_code == 201
    await report_do(world, g.grantee, rid, "submit")
    await report_do(world, fm, rid, "approve")
    assert (await upload(g.grantee)).status_code == 409
    final_view = (
        await world.client.get(f"/api/v1/reports/{rid}", headers=g.grantee.headers)
    ).json()
    assert len(final_view["attachments"]) == 2
    # Files already there stay downloadable after approval.
    got = await world.client.get(f"{url}/{att['id']}", headers=g.grantee.headers)
    assert got.status_code == 200 and got.content == content
