"""Awards within the envelope, through the API, on SQLite and PostgreSQL: the budget invariant
under concurrent requests (and the CHECK constraint behind it), award validation, the award
plan, decline and promotion from the reserve list, finalisation, rolling calls and roles."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from facility.awards.service import RESERVE_RELEASED
from facility.notifications.models import OutboxMessage
from facility.notifications.scheduler import fire_due_timers
from tests.factories import Account, World, force_evaluated

CENT = Decimal("0.01")
ENVELOPE_EXCEEDED = "/problems/envelope-exceeded"

# Outcome of the 50-award race per backend, compared once both have run.
_FIFTY_OUTCOMES: dict[str, tuple[tuple[int, int], ...]] = {}


# --- helpers ------------------------------------------------------------------------------


def amounts(requested: str) -> dict[str, str]:
    """A request with a total budget leaving 9 % co-financing (the call needs 5 %)."""
    total = (Decimal(requested) * Decimal("1.1")).quantize(CENT)
    return {"requested_amount": requested, "total_budget": str(total)}


async def evaluated(
    world: World,
    applicant: Account,
    call_id: str,
    total: str = "80.00",
    requested: str = "150000.00",
    **overrides: Any,
) -> dict[str, Any]:
    """A submitted proposal moved to ``evaluated`` with a consolidated ``total``."""
    proposal = await world.submitted(applicant, call_id, **amounts(requested), **overrides)
    await force_evaluated(world, proposal["id"], total)
    return proposal


async def get_call(world: World, fm: Account, call_id: str) -> dict[str, Any]:
    r = await world.client.get(f"/api/v1/calls/{call_id}", headers=fm.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def call_history(world: World, fm: Account, call_id: str) -> list[dict[str, Any]]:
    r = await world.client.get(f"/api/v1/calls/{call_id}/history", headers=fm.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def proposal(world: World, who: Account, proposal_id: str) -> dict[str, Any]:
    r = await world.client.get(f"/api/v1/proposals/{proposal_id}", headers=who.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def status_of(world: World, fm: Account, proposal_id: str) -> str:
    return str((await proposal(world, fm, proposal_id))["status"])


async def statuses_in_call(world: World, fm: Account, call_id: str) -> dict[str, str]:
    r = await world.client.get(
        "/api/v1/proposals", params={"call_id": call_id, "limit": 500}, headers=fm.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return {p["id"]: p["status"] for p in r.json()["items"]}


async def proposal_history(world: World, who: Account, proposal_id: str) -> list[dict[str, Any]]:
    r = await world.client.get(f"/api/v1/proposals/{proposal_id}/history", headers=who.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


async def grants_of_call(world: World, who: Account, call_id: str) -> list[dict[str, Any]]:
    r = await world.client.get(
        "/api/v1/grants", params={"call_id": call_id, "limit": 500}, headers=who.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["next_cursor"] is None
    return list(r.json()["items"])


async def grant_of(world: World, who: Account, call_id: str, proposal_id: str) -> dict[str, Any]:
    [grant] = [
        g for g in await grants_of_call(world, who, call_id) if g["proposal_id"] == proposal_id
    ]
    return grant


def offer(amount: str, grant_reference: str) -> dict[str, Any]:
    """What an applicant reads of an award or promotion: no envelope, no internal ids."""
    return {"amount": amount, "grant_reference": grant_reference, "acceptance_period_days": 30}


def ok(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    return dict(r.json())


def codes(r: httpx.Response) -> set[str]:
    return {e["code"] for e in r.json().get("errors") or []}


def fields(r: httpx.Response) -> set[str]:
    return {e["field"] for e in r.json().get("errors") or []}


async def assert_envelope_consistent(world: World, fm: Account, call_id: str) -> dict[str, Any]:
    """committed_amount is the sum of the active (unterminated) grants, within the envelope."""
    call = await get_call(world, fm, call_id)
    grants = await grants_of_call(world, fm, call_id)
    active = [g for g in grants if g["status"] != "terminated"]
    committed = Decimal(call["committed_amount"])
    assert committed == sum((Decimal(g["amount"]) for g in active), Decimal(0))
    assert Decimal(0) <= committed <= Decimal(call["budget_envelope"])
    assert Decimal(call["remaining_envelope"]) == Decimal(call["budget_envelope"]) - committed
    return call


# --- the budget invariant -----------------------------------------------------------------


async def test_fifty_concurrent_awards_never_overspend_the_envelope(
    world: World, backend: str
) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="1500000.00")
    applicants = [await world.applicant() for _ in range(5)]
    proposals = await asyncio.gather(
        *(
            evaluated(world, applicants[i % 5], call["id"], total=str(50 + i % 40))
            for i in range(50)
        )
    )

    responses = await asyncio.gather(*(world.fire(fm, p["id"], "award") for p in proposals))

    outcome = Counter(r.status_code for r in responses)
    assert outcome == {200: 10, 409: 40}, outcome
    for r in responses:
        if r.status_code == 409:
            body = r.json()
            assert body["type"] == ENVELOPE_EXCEEDED, body
            assert body["remaining_envelope"] == "0.00", body
            assert body["requested"] == "150000.00", body
        else:
            assert r.json()["status"] == "awarded"
    winners = {p["id"] for p, r in zip(proposals, responses, strict=True) if r.status_code == 200}
    losers = {p["id"] for p in proposals} - winners
    assert await statuses_in_call(world, fm, call["id"]) == {
        **{pid: "awarded" for pid in winners},
        **{pid: "evaluated" for pid in losers},
    }

    got = await assert_envelope_consistent(world, fm, call["id"])
    assert got["committed_amount"] == "1500000.00"
    assert got["remaining_envelope"] == "0.00"
    grants = await grants_of_call(world, fm, call["id"])
    assert {g["proposal_id"] for g in grants} == winners
    assert {(g["status"], g["amount"]) for g in grants} == {("contracting", "150000.00")}

    # Award letters went out with the winners' transactions only.
    async with world.svc.db.unit_of_work(write=False) as session:
        letters = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "awarded")
        )
    assert letters == 10

    # The same count of winners and losers on every backend.
    _FIFTY_OUTCOMES[backend] = tuple(sorted(outcome.items()))
    assert len(set(_FIFTY_OUTCOMES.values())) == 1, _FIFTY_OUTCOMES


async def test_concurrent_awards_of_one_proposal_commit_the_money_once(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    p = await evaluated(world, await world.applicant(), call["id"], requested="200000.00")
    responses = await asyncio.gather(*(world.fire(fm, p["id"], "award") for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert got["committed_amount"] == "200000.00"
    assert len(await grants_of_call(world, fm, call["id"])) == 1


async def test_concurrent_declines_return_the_money_once(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    a, b = await world.applicant(), await world.applicant()
    pa = await evaluated(world, a, call["id"], total="90.00", requested="200000.00")
    pb = await evaluated(world, b, call["id"], total="85.00", requested="250000.00")
    ok(await world.fire(fm, pa["id"], "award"))
    ok(await world.fire(fm, pb["id"], "award"))
    responses = await asyncio.gather(*(world.fire(a, pa["id"], "decline") for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert got["committed_amount"] == "250000.00"
    grant = await grant_of(world, fm, call["id"], pa["id"])
    assert (grant["status"], grant["released_amount"]) == ("terminated", "200000.00")


async def test_awards_racing_declines_keep_the_envelope_exact(world: World) -> None:
    """A full envelope; three awardees decline while three other proposals are awarded at the
    same moment. Each award succeeds only if a decline freed the money before it."""
    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="600000.00")
    holders = [await world.applicant() for _ in range(3)]
    held = [
        await evaluated(world, who, call["id"], total=str(90 - i), requested="200000.00")
        for i, who in enumerate(holders)
    ]
    contenders = [
        await evaluated(world, holders[0], call["id"], total=str(70 - i), requested="200000.00")
        for i in range(3)
    ]
    for p in held:
        ok(await world.fire(fm, p["id"], "award"))
    assert (await get_call(world, fm, call["id"]))["remaining_envelope"] == "0.00"

    jobs = []
    for who, p, c in zip(holders, held, contenders, strict=True):
        jobs += [world.fire(fm, c["id"], "award"), world.fire(who, p["id"], "decline")]
    responses = await asyncio.gather(*jobs)
    awards, declines = responses[0::2], responses[1::2]

    assert [r.status_code for r in declines] == [200] * 3
    for r in awards:
        assert r.status_code in (200, 409), r.text
        if r.status_code == 409:
            assert r.json()["type"] == ENVELOPE_EXCEEDED
    won = sum(r.status_code == 200 for r in awards)
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert Decimal(got["committed_amount"]) == won * Decimal("200000.00")
    statuses = [await status_of(world, fm, c["id"]) for c in contenders]
    assert statuses.count("awarded") == won
    assert [await status_of(world, fm, p["id"]) for p in held] == ["declined"] * 3


async def _later(delay: float, job: Any) -> httpx.Response:
    await asyncio.sleep(delay)
    response: httpx.Response = await job
    return response


async def test_decline_with_auto_promotion_racing_a_manual_promotion(world: World) -> None:
    """The reserve proposal is promoted once, by whichever comes first: the fund manager
    (refused while the envelope is full) or the decline's automatic promotion."""
    fm = await world.fund_manager()
    for delay in (0.0, 0.005, 0.01, 0.02, 0.03):
        call = await world.call(fm, budget_envelope="250000.00", auto_promote=True)
        holder, waiting = await world.applicant(), await world.applicant()
        p = await evaluated(world, holder, call["id"], "90.00", "250000.00")
        r = await evaluated(world, waiting, call["id"], "80.00", "200000.00")
        ok(await world.fire(fm, p["id"], "award"))
        ok(await world.fire(fm, r["id"], "place_on_reserve"))

        declined, promoted = await asyncio.gather(
            world.fire(holder, p["id"], "decline"),
            _later(delay, world.fire(fm, r["id"], "promote")),
        )
        assert declined.status_code == 200, declined.text
        # Before the decline: no money; after it: already promoted by the decline.
        assert promoted.status_code == 409, promoted.text
        assert promoted.json()["type"] in (ENVELOPE_EXCEEDED, "/problems/conflict")
        assert await status_of(world, fm, r["id"]) == "awarded"
        promotions = [h for h in await proposal_history(world, fm, r["id"])
                      if h["trigger"] == "promote"]  # fmt: skip
        assert [h["actor"]["role"] for h in promotions] == ["system"]
        got = await assert_envelope_consistent(world, fm, call["id"])
        assert got["committed_amount"] == "200000.00"


async def test_two_concurrent_declines_promote_two_reserves(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="400000.00", auto_promote=True)
    a, b, c = await world.applicant(), await world.applicant(), await world.applicant()
    held = [
        await evaluated(world, who, call["id"], total, "200000.00")
        for who, total in ((a, "90.00"), (b, "85.00"))
    ]
    reserve = [
        await evaluated(world, c, call["id"], total, "200000.00") for total in ("80.00", "75.00")
    ]
    for p in held:
        ok(await world.fire(fm, p["id"], "award"))
    for p in reserve:
        ok(await world.fire(fm, p["id"], "place_on_reserve"))

    responses = await asyncio.gather(
        world.fire(a, held[0]["id"], "decline"), world.fire(b, held[1]["id"], "decline")
    )
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert [await status_of(world, fm, p["id"]) for p in reserve] == ["awarded", "awarded"]
    candidates = set()
    for p in held:
        [entry] = [h for h in await proposal_history(world, fm, p["id"])
                   if h["trigger"] == "decline"]  # fmt: skip
        candidates.add(entry["payload"]["promotion_candidate"])
    assert candidates == {p["id"] for p in reserve}
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert got["committed_amount"] == "400000.00"


async def test_the_database_refuses_an_overspent_envelope(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="1500000.00")
    for expr in ("budget_envelope + 1", "-1"):
        stmt = text(
            f"UPDATE calls SET committed_amount = {expr} WHERE reference = :ref"  # noqa: S608
        )
        with pytest.raises(IntegrityError):
            async with world.svc.db.unit_of_work() as session:
                await session.execute(stmt, {"ref": call["reference"]})
    got = await get_call(world, fm, call["id"])
    assert got["committed_amount"] == "0.00"

    # Exactly the envelope is allowed; then nothing more can be awarded.
    async with world.svc.db.unit_of_work() as session:
        await session.execute(
            text("UPDATE calls SET committed_amount = budget_envelope WHERE reference = :ref"),
            {"ref": call["reference"]},
        )
    got = await get_call(world, fm, call["id"])
    assert (got["committed_amount"], got["remaining_envelope"]) == ("1500000.00", "0.00")
    p = await evaluated(world, await world.applicant(), call["id"])
    r = await world.fire(fm, p["id"], "award")
    assert r.status_code == 409, r.text
    assert (r.json()["type"], r.json()["remaining_envelope"]) == (ENVELOPE_EXCEEDED, "0.00")


# --- award validation and the grant -------------------------------------------------------


async def test_award_amount_must_stay_within_the_request_and_the_call_limits(
    world: World,
) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)  # grants of 150,000 to 250,000
    p = await evaluated(world, await world.applicant(), call["id"], requested="200000.00")

    above_request = await world.fire(fm, p["id"], "award", amount="200000.01")
    assert above_request.status_code == 422, above_request.text
    assert codes(above_request) == {"amount_above_request"}
    assert fields(above_request) == {"amount"}

    below_min = await world.fire(fm, p["id"], "award", amount="149999.99")
    assert below_min.status_code == 422, below_min.text
    assert codes(below_min) == {"amount_out_of_range"}
    assert fields(below_min) == {"amount"}

    above_max = await world.fire(fm, p["id"], "award", amount="250000.01")
    assert above_max.status_code == 422, above_max.text
    assert "amount_out_of_range" in codes(above_max)
    assert fields(above_max) == {"amount"}

    for bad in ("-5", "0", "150000.001", "lots"):
        r = await world.fire(fm, p["id"], "award", amount=bad)
        assert r.status_code == 422, (bad, r.text)

    got = await get_call(world, fm, call["id"])
    assert got["committed_amount"] == "0.00"
    assert await status_of(world, fm, p["id"]) == "evaluated"
    assert await grants_of_call(world, fm, call["id"]) == []

    # Less than requested, within the call's range: accepted.
    awarded = ok(await world.fire(fm, p["id"], "award", amount="150000.00"))
    assert awarded["status"] == "awarded"
    assert (await get_call(world, fm, call["id"]))["committed_amount"] == "150000.00"
    assert (await grant_of(world, fm, call["id"], p["id"]))["amount"] == "150000.00"


async def test_a_cancelled_call_awards_nothing(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    p = await evaluated(world, await world.applicant(), call["id"], requested="200000.00")
    cancelled = await world.client.post(
        f"/api/v1/calls/{call['id']}/transitions",
        json={"trigger": "cancel", "reason": "The facility withdraws the call."},
        headers=fm.headers,
    )
    assert ok(cancelled)["status"] == "cancelled"
    r = await world.fire(fm, p["id"], "award")
    assert r.status_code in (409, 422), r.text
    assert (await get_call(world, fm, call["id"]))["committed_amount"] == "0.00"
    assert await grants_of_call(world, fm, call["id"]) == []


async def test_award_by_default_grants_the_request_and_opens_a_grant(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant, other = await world.applicant(), await world.applicant()
    p = await evaluated(
        world, applicant, call["id"], requested="230000.00",
        primary_priority="trafficking", secondary_priorities=["international_protection"],
        country_shares=[{"country": "UZ", "share": "70"}, {"country": "KZ", "share": "30"}],
        gender_marker=2, gender_justification="Gender equality is the principal objective.",
        climate_adaptation_marker=1, climate_adaptation_justification="Some adaptation.",
        duration_months=18,
    )  # fmt: skip

    awarded = ok(await world.fire(fm, p["id"], "award"))
    assert awarded["status"] == "awarded"
    got = await get_call(world, fm, call["id"])
    assert (got["committed_amount"], got["remaining_envelope"]) == ("230000.00", "1270000.00")

    [grant] = await grants_of_call(world, applicant, call["id"])
    assert grant["status"] == "contracting"
    assert grant["proposal_id"] == p["id"]
    assert grant["organisation_id"] == str(applicant.organisation_id)
    assert (grant["amount"], grant["currency"]) == ("230000.00", "EUR")
    assert grant["reference"] == f"GA-{awarded['reference']}"
    assert grant["priorities"] == ["trafficking", "international_protection"]
    assert [(c["country"], Decimal(c["share"])) for c in grant["countries"]] == [
        ("UZ", Decimal(70)), ("KZ", Decimal(30))
    ]  # fmt: skip
    # The consolidated markers (the evaluators' 1/0/0), not the applicant's own 2/1/0.
    markers = ("gender_marker", "climate_adaptation_marker", "climate_mitigation_marker")
    assert [grant[m] for m in markers] == [1, 0, 0]
    assert (grant["planned_start"], grant["planned_end"]) == ("2026-07-01", "2027-12-31")
    assert (grant["duration_months"], grant["signed_on"]) == (18, None)
    detail = await world.client.get(f"/api/v1/grants/{grant['id']}", headers=applicant.headers)
    assert detail.status_code == 200 and detail.json()["amount"] == "230000.00"

    # Another organisation sees nothing of it.
    assert await grants_of_call(world, other, call["id"]) == []
    hidden = await world.client.get(f"/api/v1/grants/{grant['id']}", headers=other.headers)
    assert hidden.status_code == 404

    # The award is an audit event; the applicant sees the amount, not the envelope.
    staff = [h for h in await proposal_history(world, fm, p["id"]) if h["trigger"] == "award"]
    assert [h["event"] for h in staff] == ["proposal.awarded"]
    assert staff[0]["payload"]["amount"] == "230000.00"
    assert staff[0]["payload"]["remaining_envelope"] == "1270000.00"
    assert staff[0]["payload"]["grant_id"] == grant["id"]
    mine = [h for h in await proposal_history(world, applicant, p["id"]) if h["trigger"] == "award"]
    assert mine[0]["payload"] == offer("230000.00", grant["reference"])


async def test_a_concept_note_cannot_be_awarded(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, stages="two_stage")
    p = await evaluated(world, await world.applicant(), call["id"])
    assert (await proposal(world, fm, p["id"]))["stage"] == "concept_note"
    for trigger in ("award", "place_on_reserve"):
        r = await world.fire(fm, p["id"], trigger)
        assert r.status_code == 422, r.text
        assert codes(r) == {"not_a_full_application"}
    assert await status_of(world, fm, p["id"]) == "evaluated"
    assert (await get_call(world, fm, call["id"]))["committed_amount"] == "0.00"
    assert await grants_of_call(world, fm, call["id"]) == []


async def test_reject_needs_reasons_which_the_applicant_reads(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    p = await evaluated(world, applicant, call["id"])
    for body in ({}, {"reasons": []}, {"reasons": [""]}, {"reasons": ["   "]}):
        r = await world.fire(fm, p["id"], "reject", **body)
        assert r.status_code == 422, (body, r.text)
        assert "reasons" in {f.split(".")[0] for f in fields(r)}, r.text
    assert await status_of(world, fm, p["id"]) == "evaluated"

    reason = "The budget is not cost-effective for the results proposed."
    rejected = ok(await world.fire(fm, p["id"], "reject", reasons=[reason]))
    assert rejected["status"] == "rejected"
    [entry] = [
        h for h in await proposal_history(world, applicant, p["id"]) if h["trigger"] == "reject"
    ]
    assert entry["event"] == "proposal.rejected"
    assert entry["payload"]["reasons"] == [reason]
    assert entry["payload"]["scores"]["total"] == "80.00"  # with the score breakdown
    assert (await get_call(world, fm, call["id"]))["committed_amount"] == "0.00"


async def test_award_decisions_belong_to_the_fund_manager(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    p = await evaluated(world, applicant, call["id"], total="90.00")
    on_reserve = await evaluated(world, applicant, call["id"], total="85.00")
    ok(await world.fire(fm, on_reserve["id"], "place_on_reserve"))

    attempts = [
        (p, "award", {}),
        (p, "award", {"amount": "150000.00"}),
        (p, "place_on_reserve", {}),
        (p, "reject", {"reasons": ["I reject myself."]}),
        (on_reserve, "promote", {}),
        (on_reserve, "reject", {"reasons": ["I reject myself."]}),
    ]
    for target, trigger, payload in attempts:
        r = await world.fire(applicant, target["id"], trigger, **payload)
        assert r.status_code == 403, (trigger, r.text)
    evaluator = await world.evaluator()
    r = await world.fire(evaluator, p["id"], "award")
    assert r.status_code in (403, 404), r.text

    assert await status_of(world, fm, p["id"]) == "evaluated"
    assert await status_of(world, fm, on_reserve["id"]) == "reserve"
    assert (await get_call(world, fm, call["id"]))["committed_amount"] == "0.00"

    # A reserve proposal, too, is rejected only with reasons.
    r = await world.fire(fm, on_reserve["id"], "reject", reasons=[])
    assert r.status_code == 422, r.text
    promoted = ok(await world.fire(fm, on_reserve["id"], "promote"))
    assert promoted["status"] == "awarded"


# --- the award plan -----------------------------------------------------------------------


async def test_award_plan_walks_the_ranking_without_side_effects(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="900000.00")
    applicant = await world.applicant()
    spec = [  # name, total, request, decision taken before the plan
        ("A", "95.00", "250000.00", "award"),
        ("B", "90.00", "250000.00", None),
        ("C", "85.00", "200000.00", "reject"),
        ("D", "80.00", "250000.00", None),
        ("E", "75.00", "250000.00", None),
        ("F", "70.00", "150000.00", "place_on_reserve"),
        ("G", "65.00", "150000.00", None),
        ("H", "60.00", "200000.00", "place_on_reserve"),
    ]
    ids: dict[str, str] = {}
    for name, total, request, _ in spec:
        ids[name] = (await evaluated(world, applicant, call["id"], total, request))["id"]
    for name, _, _, decision in spec:
        if decision is not None:
            extra = {"reasons": ["Weak."]} if decision == "reject" else {}
            ok(await world.fire(fm, ids[name], decision, **extra))
    names = {v: k for k, v in ids.items()}
    statuses = {n: await status_of(world, fm, ids[n]) for n in ids}
    before_call = await get_call(world, fm, call["id"])
    before_history = len(await call_history(world, fm, call["id"]))
    assert before_call["committed_amount"] == "250000.00"

    url = f"/api/v1/calls/{call['id']}/award-plan"
    plan = ok(await world.client.post(url, headers=fm.headers))
    assert plan["call_id"] == call["id"]
    assert (plan["currency"], plan["budget_envelope"]) == ("EUR", "900000.00")
    assert plan["remaining_envelope"] == "650000.00"
    rows = [
        (r["rank"], names[r["proposal_id"]], r["status"], r["requested_amount"], r["action"],
         r["remaining_after"])
        for r in plan["rows"]
    ]  # fmt: skip
    # C was rejected: out of the running, it is not in the ranking the plan walks.
    assert rows == [
        (1, "A", "awarded", "250000.00", "none", "650000.00"),
        (2, "B", "evaluated", "250000.00", "award", "400000.00"),
        (3, "D", "evaluated", "250000.00", "award", "150000.00"),
        (4, "E", "evaluated", "250000.00", "reserve", "150000.00"),
        (5, "F", "reserve", "150000.00", "promote", "0.00"),
        (6, "G", "evaluated", "150000.00", "reserve", "0.00"),
        (7, "H", "reserve", "200000.00", "keep_on_reserve", "0.00"),
    ]
    expected_totals = [Decimal(s[1]) for s in spec if s[0] != "C"]
    assert [Decimal(r["total"]) for r in plan["rows"]] == expected_totals

    # Twice, and nothing moved.
    assert ok(await world.client.post(url, headers=fm.headers)) == plan
    after_call = await get_call(world, fm, call["id"])
    assert after_call["committed_amount"] == "250000.00"
    assert after_call["version"] == before_call["version"]
    assert len(await call_history(world, fm, call["id"])) == before_history
    assert {n: await status_of(world, fm, ids[n]) for n in ids} == statuses
    assert len(await grants_of_call(world, fm, call["id"])) == 1

    # Fund managers only.
    assert (await world.client.post(url, headers=applicant.headers)).status_code == 403
    assert (
        await world.client.post(url, headers=(await world.evaluator()).headers)
    ).status_code == 403
    assert (await world.client.post(url)).status_code == 401
    missing = f"/api/v1/calls/{uuid.uuid4()}/award-plan"
    assert (await world.client.post(missing, headers=fm.headers)).status_code == 404

    # The plan can be carried out as proposed; the next award no longer fits.
    for r in plan["rows"]:
        if r["action"] in ("award", "promote"):
            ok(await world.fire(fm, r["proposal_id"], r["action"]))
    refused = await world.fire(fm, ids["E"], "award")
    assert refused.status_code == 409
    assert refused.json()["remaining_envelope"] == "0.00"
    final = ok(await world.client.post(url, headers=fm.headers))
    assert [(names[r["proposal_id"]], r["action"]) for r in final["rows"]] == [
        ("A", "none"), ("B", "none"), ("D", "none"), ("E", "reserve"),
        ("F", "none"), ("G", "reserve"), ("H", "keep_on_reserve"),
    ]  # fmt: skip
    assert final["remaining_envelope"] == "0.00"
    await assert_envelope_consistent(world, fm, call["id"])


# --- decline, promotion and finalisation --------------------------------------------------


async def reserve_scenario(world: World, **call_overrides: Any) -> dict[str, Any]:
    """Envelope 600,000: P1 250,000, P2 150,000 and P3 180,000 awarded (20,000 left); on the
    reserve list R1 (250,000), R2 (160,000) and R3 (150,000), in that order of rank.

    When P2 declines, 170,000 is free: R1, the best-ranked reserve, does not fit; R2 does,
    and so does R3, ranked lower. R2 is the right one."""
    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="600000.00", **call_overrides)
    spec = [
        ("P1", "95.00", "250000.00", "award"),
        ("P2", "90.00", "150000.00", "award"),
        ("P3", "85.00", "180000.00", "award"),
        ("R1", "80.00", "250000.00", "place_on_reserve"),
        ("R2", "75.00", "160000.00", "place_on_reserve"),
        ("R3", "70.00", "150000.00", "place_on_reserve"),
    ]
    who: dict[str, Account] = {}
    ids: dict[str, str] = {}
    for name, total, request, _ in spec:
        who[name] = await world.applicant()
        ids[name] = (await evaluated(world, who[name], call["id"], total, request))["id"]
    for name, _, _, decision in spec:
        ok(await world.fire(fm, ids[name], decision))
    got = await get_call(world, fm, call["id"])
    assert (got["committed_amount"], got["remaining_envelope"]) == ("580000.00", "20000.00")
    return {"fm": fm, "call": call, "who": who, "ids": ids}


async def test_decline_returns_the_money_and_proposes_the_right_reserve(world: World) -> None:
    s = await reserve_scenario(world)
    fm, call, who, ids = s["fm"], s["call"], s["who"], s["ids"]
    grant = await grant_of(world, who["P2"], call["id"], ids["P2"])

    declined = ok(await world.fire(who["P2"], ids["P2"], "decline"))
    assert declined["status"] == "declined"
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert (got["committed_amount"], got["remaining_envelope"]) == ("430000.00", "170000.00")
    ended = ok(await world.client.get(f"/api/v1/grants/{grant['id']}", headers=who["P2"].headers))
    assert ended["status"] == "terminated"
    assert ended["released_amount"] == "150000.00"
    assert ended["termination_reason"] == "The award was declined"

    proposed = [h for h in await call_history(world, fm, call["id"])
                if h["event"] == "call.promotion_proposed"]  # fmt: skip
    assert len(proposed) == 1, proposed
    assert proposed[0]["payload"]["proposal_id"] == ids["R2"]
    assert proposed[0]["payload"]["amount"] == "160000.00"
    [decline] = [
        h for h in await proposal_history(world, fm, ids["P2"]) if h["trigger"] == "decline"
    ]
    assert decline["event"] == "proposal.award_declined"
    assert decline["payload"]["promotion_candidate"] == ids["R2"]
    # Nothing is promoted without the fund manager.
    for name in ("R1", "R2", "R3"):
        assert await status_of(world, fm, ids[name]) == "reserve"

    plan = ok(await world.client.post(f"/api/v1/calls/{call['id']}/award-plan", headers=fm.headers))
    actions = {r["proposal_id"]: r["action"] for r in plan["rows"]}
    assert [actions[ids[n]] for n in ("R1", "R2", "R3")] == [
        "keep_on_reserve",
        "promote",
        "keep_on_reserve",
    ]

    too_much = await world.fire(fm, ids["R2"], "promote", amount="160000.01")
    assert too_much.status_code == 422, too_much.text
    assert codes(too_much) == {"amount_above_request"}
    promoted = ok(await world.fire(fm, ids["R2"], "promote"))
    assert promoted["status"] == "awarded"
    new_grant = await grant_of(world, who["R2"], call["id"], ids["R2"])
    assert (new_grant["status"], new_grant["amount"]) == ("contracting", "160000.00")
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert got["remaining_envelope"] == "10000.00"
    mine = [
        h for h in await proposal_history(world, who["R2"], ids["R2"]) if h["trigger"] == "promote"
    ]
    assert [(h["event"], h["payload"]) for h in mine] == [
        ("proposal.promoted", offer("160000.00", new_grant["reference"]))
    ]

    # R1 does not fit what is left.
    r = await world.fire(fm, ids["R1"], "promote")
    assert r.status_code == 409, r.text
    assert (r.json()["type"], r.json()["remaining_envelope"]) == (ENVELOPE_EXCEEDED, "10000.00")
    assert await status_of(world, fm, ids["R1"]) == "reserve"


async def test_decline_promotes_automatically_when_the_call_says_so(world: World) -> None:
    s = await reserve_scenario(world, auto_promote=True)
    fm, call, who, ids = s["fm"], s["call"], s["who"], s["ids"]
    assert call["auto_promote"] is True

    ok(await world.fire(who["P2"], ids["P2"], "decline"))

    assert await status_of(world, fm, ids["R2"]) == "awarded"
    assert [await status_of(world, fm, ids[n]) for n in ("R1", "R3")] == ["reserve", "reserve"]
    grant = await grant_of(world, who["R2"], call["id"], ids["R2"])
    assert (grant["status"], grant["amount"]) == ("contracting", "160000.00")
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert (got["committed_amount"], got["remaining_envelope"]) == ("590000.00", "10000.00")
    [entry] = [h for h in await proposal_history(world, fm, ids["R2"]) if h["trigger"] == "promote"]
    assert entry["actor"]["role"] == "system"
    mine = [
        h for h in await proposal_history(world, who["R2"], ids["R2"]) if h["trigger"] == "promote"
    ]
    assert mine[0]["payload"] == offer("160000.00", grant["reference"])


async def test_an_unsigned_award_lapses_and_proposes_the_right_reserve(world: World) -> None:
    s = await reserve_scenario(world)
    fm, call, ids = s["fm"], s["call"], s["ids"]
    assert call["acceptance_period_days"] == 30
    for name in ("P1", "P3"):  # signed in time: these never lapse
        grant = await grant_of(world, fm, call["id"], ids[name])
        signed = await world.client.post(
            f"/api/v1/grants/{grant['id']}/transitions",
            json={"trigger": "sign_contract", "signed_on": world.clock.now().date().isoformat()},
            headers=fm.headers,
        )
        assert signed.status_code == 200, signed.text

    world.clock.advance(days=30, seconds=-1)
    assert await fire_due_timers(world.svc.db, world.clock) == []
    assert await status_of(world, fm, ids["P2"]) == "awarded"
    world.clock.advance(seconds=1)
    assert await fire_due_timers(world.svc.db, world.clock) == [(ids["P2"], "lapse")]

    assert [await status_of(world, fm, ids[n]) for n in ("P1", "P2", "P3")] == [
        "contracted", "declined", "contracted"
    ]  # fmt: skip
    [lapsed] = [h for h in await proposal_history(world, fm, ids["P2"]) if h["trigger"] == "lapse"]
    assert (lapsed["event"], lapsed["actor"]["role"]) == ("proposal.award_lapsed", "system")
    assert lapsed["payload"]["promotion_candidate"] == ids["R2"]
    grant = await grant_of(world, fm, call["id"], ids["P2"])
    assert (grant["status"], grant["termination_reason"]) == ("terminated", "The award lapsed")
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert got["remaining_envelope"] == "170000.00"
    proposed = [h for h in await call_history(world, fm, call["id"])
                if h["event"] == "call.promotion_proposed"]  # fmt: skip
    assert [h["payload"]["proposal_id"] for h in proposed] == [ids["R2"]]
    # Running the scheduler again changes nothing.
    assert await fire_due_timers(world.svc.db, world.clock) == []


async def test_no_decline_once_the_contract_is_signed(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant = await world.applicant()
    p = await evaluated(world, applicant, call["id"], requested="200000.00")
    ok(await world.fire(fm, p["id"], "award"))
    grant = await grant_of(world, fm, call["id"], p["id"])
    signed = await world.client.post(
        f"/api/v1/grants/{grant['id']}/transitions",
        json={"trigger": "sign_contract", "signed_on": world.clock.now().date().isoformat()},
        headers=fm.headers,
    )
    assert signed.status_code == 200, signed.text

    # Signed, the award is contracted: there is nothing left to decline.
    assert await status_of(world, fm, p["id"]) == "contracted"
    r = await world.fire(applicant, p["id"], "decline")
    assert r.status_code == 409, r.text
    assert await status_of(world, fm, p["id"]) == "contracted"
    assert (await grant_of(world, fm, call["id"], p["id"]))["status"] == "active"
    assert (await get_call(world, fm, call["id"]))["committed_amount"] == "200000.00"


async def test_only_the_applicant_declines(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm)
    applicant, stranger = await world.applicant(), await world.applicant()
    p = await evaluated(world, applicant, call["id"])
    ok(await world.fire(fm, p["id"], "award"))

    assert (await world.fire(fm, p["id"], "decline")).status_code == 403
    assert (await world.fire(stranger, p["id"], "decline")).status_code == 404
    assert await status_of(world, fm, p["id"]) == "awarded"
    assert (await get_call(world, fm, call["id"]))["committed_amount"] == "150000.00"
    assert ok(await world.fire(applicant, p["id"], "decline"))["status"] == "declined"
    assert (await get_call(world, fm, call["id"]))["committed_amount"] == "0.00"
    # Declined is final: it cannot be declined, awarded or promoted again.
    assert (await world.fire(applicant, p["id"], "decline")).status_code == 409
    assert (await world.fire(fm, p["id"], "award")).status_code == 409


async def test_finalising_the_call_rejects_the_remaining_reserve(world: World) -> None:
    s = await reserve_scenario(world)
    fm, call, who, ids = s["fm"], s["call"], s["who"], s["ids"]
    url = f"/api/v1/calls/{call['id']}/transitions"
    early = await world.client.post(url, json={"trigger": "finalise"}, headers=fm.headers)
    assert early.status_code == 409, early.text  # a published call is closed first
    assert (
        ok(await world.client.post(url, json={"trigger": "close"}, headers=fm.headers))["status"]
        == "closed"
    )
    finalised = ok(await world.client.post(url, json={"trigger": "finalise"}, headers=fm.headers))
    assert finalised["status"] == "finalised"

    for name in ("R1", "R2", "R3"):
        assert await status_of(world, fm, ids[name]) == "rejected"
        last = (await proposal_history(world, who[name], ids[name]))[-1]
        assert (last["event"], last["trigger"]) == ("proposal.rejected", "release_reserve")
        assert last["payload"]["reasons"] == [RESERVE_RELEASED]
        assert last["payload"]["reason_code"] == "reserve_released"
        assert last["actor"] == {"role": "system", "id": None}
    for name in ("P1", "P2", "P3"):
        assert await status_of(world, fm, ids[name]) == "awarded"
    [event] = [
        h for h in await call_history(world, fm, call["id"]) if h["event"] == "call.finalised"
    ]
    assert sorted(event["payload"]["reserve_released"]) == sorted(
        ids[n] for n in ("R1", "R2", "R3")
    )

    # A decline after finalisation frees money but has no reserve left to propose.
    ok(await world.fire(who["P2"], ids["P2"], "decline"))
    [decline] = [
        h for h in await proposal_history(world, fm, ids["P2"]) if h["trigger"] == "decline"
    ]
    assert decline["payload"]["promotion_candidate"] is None
    assert not [h for h in await call_history(world, fm, call["id"])
                if h["event"] == "call.promotion_proposed"]  # fmt: skip
    await assert_envelope_consistent(world, fm, call["id"])


# --- rolling calls ------------------------------------------------------------------------


async def test_a_rolling_call_closes_itself_when_the_envelope_runs_low(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, mode="rolling", closes_at=None, budget_envelope="520000.00")
    assert (call["mode"], call["closes_at"], call["accepting_submissions"]) == (
        "rolling", None, True
    )  # fmt: skip
    applicant = await world.applicant()
    first = await evaluated(world, applicant, call["id"], "90.00", "200000.00")
    second = await evaluated(world, applicant, call["id"], "85.00", "200000.00")
    waiting = await world.ready_proposal(applicant, call["id"], **amounts("150000.00"))

    ok(await world.fire(fm, first["id"], "award"))
    got = await get_call(world, fm, call["id"])
    assert (got["status"], got["accepting_submissions"], got["closed_reason"]) == (
        "published", True, None
    )  # fmt: skip
    assert got["remaining_envelope"] == "320000.00"

    ok(await world.fire(fm, second["id"], "award"))
    for who in (fm, applicant):
        got = (await world.client.get(f"/api/v1/calls/{call['id']}", headers=who.headers)).json()
        assert got["status"] == "closed"
        assert got["accepting_submissions"] is False
        assert got["closed_reason"] == "envelope_exhausted"
        assert got["remaining_envelope"] == "120000.00"
    [closed] = [h for h in await call_history(world, fm, call["id"]) if h["event"] == "call.closed"]
    assert closed["actor"]["role"] == "system"
    assert closed["payload"]["reason"] == "envelope_exhausted"
    assert closed["payload"]["remaining_envelope"] == "120000.00"

    refused_draft = await world.client.post(
        f"/api/v1/calls/{call['id']}/proposals",
        json={"title": "Too late"},
        headers=applicant.headers,
    )
    assert refused_draft.status_code == 409, refused_draft.text
    refused_submit = await world.fire(applicant, waiting["id"], "submit")
    assert refused_submit.status_code == 422, refused_submit.text
    assert "call_not_open" in codes(refused_submit)
    assert await status_of(world, fm, waiting["id"]) == "draft"


async def test_concurrent_awards_close_a_rolling_call_once(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, mode="rolling", closes_at=None, budget_envelope="1000000.00")
    applicant = await world.applicant()
    proposals = [
        await evaluated(world, applicant, call["id"], str(60 + i), "150000.00") for i in range(10)
    ]
    responses = await asyncio.gather(*(world.fire(fm, p["id"], "award") for p in proposals))
    assert Counter(r.status_code for r in responses) == {200: 6, 409: 4}
    assert {r.json()["type"] for r in responses if r.status_code == 409} == {ENVELOPE_EXCEEDED}
    got = await assert_envelope_consistent(world, fm, call["id"])
    assert (got["status"], got["closed_reason"], got["remaining_envelope"]) == (
        "closed", "envelope_exhausted", "100000.00"
    )  # fmt: skip
    events = [h["event"] for h in await call_history(world, fm, call["id"])]
    assert events.count("call.closed") == 1


async def test_a_rolling_call_with_exactly_a_minimum_grant_left_stays_open(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, mode="rolling", closes_at=None, budget_envelope="500000.00")
    applicant = await world.applicant()
    for total, request in (("90.00", "200000.00"), ("85.00", "150000.00")):
        p = await evaluated(world, applicant, call["id"], total, request)
        ok(await world.fire(fm, p["id"], "award"))
    got = await get_call(world, fm, call["id"])
    assert (got["status"], got["remaining_envelope"], got["accepting_submissions"]) == (
        "published", "150000.00", True
    )  # fmt: skip
    await world.submitted(applicant, call["id"], **amounts("150000.00"))


async def test_a_fixed_deadline_call_does_not_close_itself(world: World) -> None:
    fm = await world.fund_manager()
    call = await world.call(fm, budget_envelope="520000.00")
    applicant = await world.applicant()
    for total in ("90.00", "85.00"):
        p = await evaluated(world, applicant, call["id"], total, "200000.00")
        ok(await world.fire(fm, p["id"], "award"))
    got = await get_call(world, fm, call["id"])
    assert (got["status"], got["closed_reason"], got["accepting_submissions"]) == (
        "published", None, True
    )  # fmt: skip
    assert got["remaining_envelope"] == "120000.00"
    assert not [h for h in await call_history(world, fm, call["id"]) if h["event"] == "call.closed"]
