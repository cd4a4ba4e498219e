"""A full single-stage run through the API, from call creation to a closed grant."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from facility.calls.grids import prag_full_application_grid
from tests.factories import (
    Account,
    World,
    declare_and_score,
    evaluator_with_profile,
    full_evaluation,
    pass_screening,
)

FA_GRID = prag_full_application_grid()


async def evaluated_proposal(
    world: World, fm: Account, call: dict[str, Any], applicant: Account, **proposal: Any
) -> dict[str, Any]:
    """Submitted, screened, scored 80/100 by two evaluators: status evaluated."""
    p = await world.submitted(applicant, call["id"], **proposal)
    await pass_screening(world, fm, p["id"])
    r = await world.client.post(f"/api/v1/calls/{call['id']}/assignments/auto", headers=fm.headers)
    assert r.status_code == 200, r.text
    for created in r.json()["created"]:
        evaluator = world.accounts[created["evaluator"]["id"]]
        done = await declare_and_score(world, evaluator, created["id"], full_evaluation(FA_GRID, 4))
        assert done.status_code == 200, done.text
    got = await world.client.get(f"/api/v1/proposals/{p['id']}", headers=fm.headers)
    assert got.json()["status"] == "evaluated", got.json()["status"]
    return dict(got.json())


async def test_from_call_to_closed_grant(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    for _ in range(2):
        await evaluator_with_profile(world)
    proposal = await evaluated_proposal(world, fm, call, applicant, duration_months=18)

    plan = await world.client.post(f"/api/v1/calls/{call['id']}/award-plan", headers=fm.headers)
    assert plan.status_code == 200, plan.text
    assert [(r["proposal_id"], r["action"]) for r in plan.json()["rows"]] == [
        (proposal["id"], "award")
    ]

    awarded = await world.fire(fm, proposal["id"], "award", amount="190000.00")
    assert awarded.status_code == 200, awarded.text
    assert awarded.json()["status"] == "awarded"
    got_call = (await world.client.get(f"/api/v1/calls/{call['id']}")).json()
    assert got_call["committed_amount"] == "190000.00"
    assert got_call["remaining_envelope"] == "1310000.00"

    grants = (await world.client.get("/api/v1/grants", headers=applicant.headers)).json()["items"]
    [grant] = grants
    assert grant["status"] == "contracting"
    assert grant["amount"] == "190000.00"
    assert grant["reference"] == f"GA-{proposal['reference']}"
    assert grant["priorities"] == ["migration_mobility", "trafficking"]
    assert grant["gender_marker"] == 1
    gurl = f"/api/v1/grants/{grant['id']}"

    signed = await world.client.post(
        f"{gurl}/transitions", json={"trigger": "sign_contract", "signed_on": "2026-03-02"},
        headers=fm.headers,
    )  # fmt: skip
    assert signed.status_code == 200, signed.text
    assert signed.json()["start_date"] == "2026-07-01"  # the planned start
    assert signed.json()["end_date"] == "2027-12-31"
    reports = (await world.client.get(f"{gurl}/reports", headers=applicant.headers)).json()
    assert [(r["kind"], r["due_on"]) for r in reports] == [
        ("interim", "2027-08-29"), ("final", "2028-03-30")
    ]  # fmt: skip
    payments = (await world.client.get(f"{gurl}/payments", headers=applicant.headers)).json()
    assert [(p["kind"], p["amount"], p["status"]) for p in payments] == [
        ("pre_financing", "101333.33", "due"),
        ("pre_financing", "50666.67", "scheduled"),
        ("balance", "38000.00", "scheduled"),
    ]
    first = await world.client.post(
        f"/api/v1/payments/{payments[0]['id']}/transitions",
        json={"trigger": "pay", "paid_on": "2026-03-02"}, headers=fm.headers,
    )  # fmt: skip
    assert first.status_code == 200, first.text

    # Interim report: progress on the one (sex-disaggregated) indicator, 75 % spent.
    interim = reports[0]
    rurl = f"/api/v1/reports/{interim['id']}"
    body = {
        "narrative": "Year one delivered.",
        "spent_to_date": "76000.00",
        "indicator_progress": [{"code": "1.1", "value": "900", "women": "500", "men": "400"}],
    }
    etag = (await world.client.get(rurl, headers=applicant.headers)).headers["etag"]
    assert (await world.client.put(rurl, json=body, headers=applicant.headers)).status_code == 428
    saved = await world.client.put(rurl, json=body, headers={**applicant.headers, "If-Match": etag})
    assert saved.status_code == 200, saved.text
    submitted = await world.client.post(
        f"{rurl}/transitions", json={"trigger": "submit"}, headers=applicant.headers
    )
    assert submitted.status_code == 200, submitted.text
    approved = await world.client.post(
        f"{rurl}/transitions", json={"trigger": "approve"}, headers=fm.headers
    )
    assert approved.status_code == 200, approved.text
    payments = (await world.client.get(f"{gurl}/payments", headers=fm.headers)).json()
    assert payments[1]["status"] == "due"
    await world.client.post(
        f"/api/v1/payments/{payments[1]['id']}/transitions",
        json={"trigger": "pay", "paid_on": "2026-03-02"}, headers=fm.headers,
    )  # fmt: skip

    # Final report, then the balance, then closure.
    final = reports[1]
    furl = f"/api/v1/reports/{final['id']}"
    body["narrative"] = "Action completed."
    body["spent_to_date"] = "190000.00"
    etag = (await world.client.get(furl, headers=applicant.headers)).headers["etag"]
    await world.client.put(furl, json=body, headers={**applicant.headers, "If-Match": etag})
    await world.client.post(
        f"{furl}/transitions", json={"trigger": "submit"}, headers=applicant.headers
    )
    refused = await world.client.post(
        f"{gurl}/transitions", json={"trigger": "start_closure"}, headers=fm.headers
    )
    assert refused.status_code == 200
    too_early = await world.client.post(
        f"{gurl}/transitions", json={"trigger": "close"}, headers=fm.headers
    )
    assert too_early.status_code == 422
    codes = {e["code"] for e in too_early.json()["errors"]}
    assert codes == {"final_report_not_approved", "payment_outstanding"}
    await world.client.post(f"{furl}/transitions", json={"trigger": "approve"}, headers=fm.headers)
    payments = (await world.client.get(f"{gurl}/payments", headers=fm.headers)).json()
    assert (payments[2]["status"], payments[2]["amount"]) == ("due", "38000.00")
    paid = await world.client.post(
        f"/api/v1/payments/{payments[2]['id']}/transitions",
        json={"trigger": "pay", "paid_on": date(2026, 3, 2).isoformat()}, headers=fm.headers,
    )  # fmt: skip
    assert paid.status_code == 200, paid.text
    closed = await world.client.post(
        f"{gurl}/transitions", json={"trigger": "close"}, headers=fm.headers
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    assert closed.json()["paid_total"] == "190000.00"
    history = (await world.client.get(f"{gurl}/history", headers=applicant.headers)).json()
    assert [h["event"] for h in history] == [
        "grant.contract_signed", "grant.closure_started", "grant.closed"
    ]  # fmt: skip
    _ = timedelta
