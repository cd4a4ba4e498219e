"""Builders for test scenarios: accounts, calls, proposals and files, made through the API
wherever the API can make them (accounts are created through the service layer, as an admin
or the CLI would, and tokens are issued by the same code the token endpoint uses)."""

from __future__ import annotations

import io
import itertools
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI

from facility.calls.grids import prag_concept_note_grid, prag_full_application_grid
from facility.clock import FrozenClock
from facility.identity import service as identity
from facility.identity.models import Role
from facility.reference_data import FACILITY_COUNTRIES

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)

# The smallest files each sniffer accepts.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def office_file(kind: str) -> bytes:
    """A minimal DOCX/XLSX/ODT/ODS, byte-for-byte the same every time (fixed timestamps)."""

    def entry(name: str) -> zipfile.ZipInfo:
        return zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        if kind in ("odt", "ods"):
            sub = "text" if kind == "odt" else "spreadsheet"
            z.writestr(entry("mimetype"), f"application/vnd.oasis.opendocument.{sub}")
            z.writestr(entry("content.xml"), "<office:document-content/>")
        else:
            z.writestr(entry("[Content_Types].xml"), "<Types/>")
            z.writestr(entry("word/document.xml" if kind == "docx" else "xl/workbook.xml"), "<x/>")
    return buf.getvalue()


@dataclass
class Account:
    id: uuid.UUID
    role: str
    email: str
    world: World
    organisation_id: uuid.UUID | None = None

    @property
    def headers(self) -> dict[str, str]:
        """A bearer token issued now (by the frozen clock), so moving the clock is harmless."""
        token = self.world.svc.tokens.issue(self.id, self.role, self.world.clock.now()).token
        return {"Authorization": f"Bearer {token}"}


def call_body(clock: FrozenClock, **overrides: Any) -> dict[str, Any]:
    now = clock.now()
    n = next(_seq)
    body: dict[str, Any] = {
        "reference": f"TST-{n:04d}",
        "title": f"Test call {n}",
        "description": "A call for tests.",
        "mode": "fixed_deadline",
        "stages": "single",
        "currency": "EUR",
        "budget_envelope": "1500000.00",
        "min_grant": "150000.00",
        "max_grant": "250000.00",
        "min_duration_months": 6,
        "max_duration_months": 18,
        "min_cofinancing_pct": "5",
        "opens_at": now.isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(),
        "eligible_countries": list(FACILITY_COUNTRIES),
        "eligible_org_types": [10, 21, 22, 23, 24],
        "priorities": ["migration_mobility", "trafficking", "international_protection"],
        "evaluation_grid": prag_full_application_grid(),
        "divergence_threshold_pct": "20",
        "required_attachment_kinds": ["budget"],
    }
    if overrides.get("stages") == "two_stage":
        body["concept_note_grid"] = prag_concept_note_grid()
    body.update(overrides)
    return body


def proposal_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Safe labour migration corridors",
        "summary": "Pre-departure orientation and safe recruitment for labour migrants.",
        "primary_priority": "migration_mobility",
        "secondary_priorities": ["trafficking"],
        "country_shares": [{"country": "KG", "share": "60"}, {"country": "TJ", "share": "40"}],
        "requested_amount": "200000.00",
        "total_budget": "230000.00",
        "duration_months": 12,
        "planned_start": "2026-07-01",
        "gender_marker": 1,
        "gender_justification": "Women migrants are a deliberate target group.",
        "climate_adaptation_marker": 0,
        "climate_adaptation_justification": "Not targeted.",
        "climate_mitigation_marker": 0,
        "climate_mitigation_justification": "Not targeted.",
        "logframe": {
            "objective": "Safer labour migration from Central Asia.",
            "outcomes": [
                {
                    "statement": "Migrants are informed before departure.",
                    "indicators": [
                        {
                            "code": "1.1",
                            "name": "Migrants trained",
                            "unit": "people",
                            "baseline": "0",
                            "target": "2000",
                            "sex_disaggregated": True,
                        }
                    ],
                }
            ],
        },
    }
    body.update(overrides)
    return body


class World:
    """A scenario builder bound to one app, client and clock."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> None:
        self.app = app
        self.client = client
        self.clock = clock
        self.svc = app.state.services
        self.accounts: dict[str, Account] = {}  # by user id, for accounts made here

    async def staff(self, role: Role, *, language: str = "en") -> Account:
        email = f"{role.value}{next(_seq)}@example.org"
        async with self.svc.db.unit_of_work() as session:
            user = await identity.create_staff_user(
                session, self.svc.passwords, email=email, password=PASSWORD,
                full_name=f"Test {role.value}", role=role, preferred_language=language,
                now=self.clock.now(),
            )  # fmt: skip
        account = Account(user.id, role.value, email, self)
        self.accounts[str(user.id)] = account
        return account

    async def fund_manager(self) -> Account:
        return await self.staff(Role.fund_manager)

    async def admin(self) -> Account:
        return await self.staff(Role.admin)

    async def evaluator(self) -> Account:
        return await self.staff(Role.evaluator)

    async def applicant(
        self, *, country: str = "KG", iati_type: int = 22, language: str = "en"
    ) -> Account:
        n = next(_seq)
        email = f"applicant{n}@example.org"
        async with self.svc.db.unit_of_work() as session:
            user = await identity.register_applicant(
                session, self.svc.passwords, email=email, password=PASSWORD,
                full_name=f"Applicant {n}", preferred_language=language,
                organisation={"name": f"Organisation {n}", "iati_type": iati_type,
                              "country": country, "registration_number": f"REG-{n}"},
                now=self.clock.now(),
            )  # fmt: skip
        account = Account(user.id, "applicant", email, self, user.organisation_id)
        self.accounts[str(user.id)] = account
        return account

    async def draft_call(self, manager: Account, **overrides: Any) -> dict[str, Any]:
        r = await self.client.post(
            "/api/v1/calls", json=call_body(self.clock, **overrides), headers=manager.headers
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def call(self, manager: Account, **overrides: Any) -> dict[str, Any]:
        """A published call."""
        call = await self.draft_call(manager, **overrides)
        r = await self.client.post(
            f"/api/v1/calls/{call['id']}/transitions",
            json={"trigger": "publish"},
            headers=manager.headers,
        )
        assert r.status_code == 200, r.text
        return r.json()

    async def draft(self, applicant: Account, call_id: str, **overrides: Any) -> dict[str, Any]:
        r = await self.client.post(
            f"/api/v1/calls/{call_id}/proposals",
            json=proposal_body(**overrides),
            headers=applicant.headers,
        )
        assert r.status_code == 201, r.text
        return r.json()

    async def attach(
        self,
        applicant: Account,
        proposal_id: str,
        kind: str = "budget",
        *,
        content: bytes = PDF,
        filename: str = "budget.pdf",
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/proposals/{proposal_id}/attachments",
            data={"kind": kind},
            files={"file": (filename, content, "application/octet-stream")},
            headers=applicant.headers,
        )

    async def fire(
        self, account: Account, proposal_id: str, trigger: str, **payload: Any
    ) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/proposals/{proposal_id}/transitions",
            json={"trigger": trigger, **payload},
            headers=account.headers,
        )

    async def ready_proposal(
        self, applicant: Account, call_id: str, **overrides: Any
    ) -> dict[str, Any]:
        """A complete draft with its required attachment, ready to submit."""
        proposal = await self.draft(applicant, call_id, **overrides)
        r = await self.attach(applicant, proposal["id"])
        assert r.status_code == 201, r.text
        return proposal

    async def submitted(self, applicant: Account, call_id: str, **overrides: Any) -> dict[str, Any]:
        proposal = await self.ready_proposal(applicant, call_id, **overrides)
        r = await self.fire(applicant, proposal["id"], "submit")
        assert r.status_code == 200, r.text
        return r.json()


def money(value: str) -> Decimal:
    return Decimal(value)


def full_evaluation(
    grid: dict[str, Any], level: int | dict[str, int] = 4, **overrides: Any
) -> dict[str, Any]:
    """A complete evaluation scoring every criterion ``level`` (or per-criterion levels)."""
    scores = level if isinstance(level, dict) else {c["id"]: level for c in grid["criteria"]}
    body: dict[str, Any] = {
        "scores": scores,
        "section_comments": {s["id"]: f"Comment on {s['id']}." for s in grid["sections"]},
        "gender_marker": 1,
        "gender_justification": "Women migrants are a deliberate target group.",
        "climate_adaptation_marker": 0,
        "climate_adaptation_justification": "No adaptation objective.",
        "climate_mitigation_marker": 0,
        "climate_mitigation_justification": "No mitigation objective.",
        "primary_priority_confirmed": True,
        "strengths": "Clear targeting.",
        "weaknesses": "Thin sustainability plan.",
        "recommendation": "recommended",
    }
    body.update(overrides)
    return body


async def evaluator_with_profile(
    world: World,
    *,
    expertise: list[str] | None = None,
    countries: list[str] | None = None,
    affiliations: list[dict[str, str]] | None = None,
) -> Account:
    evaluator = await world.evaluator()
    r = await world.client.put(
        "/api/v1/me/evaluator-profile",
        json={"expertise": expertise or [], "languages": ["en", "ru"],
              "countries": countries or ["FR"], "affiliations": affiliations or []},
        headers=evaluator.headers,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    return evaluator


async def pass_screening(world: World, manager: Account, proposal_id: str) -> dict[str, Any]:
    """Screen a submitted proposal with every checklist item passed, into evaluation."""
    r = await world.client.put(
        f"/api/v1/proposals/{proposal_id}/screening", json={"items": []}, headers=manager.headers
    )
    assert r.status_code == 200, r.text
    items = [{"id": i["id"], "passed": True} for i in r.json()["checklist"]]
    r = await world.client.put(
        f"/api/v1/proposals/{proposal_id}/screening", json={"items": items}, headers=manager.headers
    )
    assert r.status_code == 200, r.text
    r = await world.fire(manager, proposal_id, "pass_screening")
    assert r.status_code == 200, r.text
    return r.json()


async def assignment_of(world: World, evaluator: Account, proposal_id: str) -> dict[str, Any]:
    queue = (await world.client.get("/api/v1/me/assignments", headers=evaluator.headers)).json()
    [mine] = [a for a in queue if a["proposal_id"] == proposal_id and a["status"] != "recused"]
    return mine


async def declare_and_score(
    world: World, evaluator: Account, assignment_id: str, evaluation: dict[str, Any]
) -> httpx.Response:
    r = await world.client.post(
        f"/api/v1/assignments/{assignment_id}/declaration",
        json={"conflict_of_interest": False, "statement": "No conflict; I keep it confidential."},
        headers=evaluator.headers,
    )
    assert r.status_code == 200, r.text
    r = await world.client.put(
        f"/api/v1/assignments/{assignment_id}/evaluation",
        json=evaluation,
        headers=evaluator.headers,
    )
    assert r.status_code == 200, r.text
    return await world.client.post(
        f"/api/v1/assignments/{assignment_id}/evaluation/submit", headers=evaluator.headers
    )


async def force_evaluated(world: World, proposal_id: str, total: str = "80.00") -> None:
    """Move a submitted proposal to ``evaluated`` with a consolidated ``total`` out of 100,
    through the workflow engine but without the evaluators (for tests about what comes
    after evaluation: awards, reserve lists, grants). Sections are filled proportionally."""
    from decimal import Decimal

    from facility import lifecycle
    from facility.evaluation.scoring import Consolidated
    from facility.lifecycle import SYSTEM_ACTOR, Actor
    from facility.proposals.models import Proposal
    from facility.proposals.service import guard_facts

    share = Decimal(total) / 100
    maxima = {
        "capacity": 20,
        "relevance": 30,
        "effectiveness": 20,
        "sustainability": 15,
        "budget": 15,
    }
    sections = {k: (share * v).quantize(Decimal("0.01")) for k, v in maxima.items()}
    result = Consolidated(
        sections=sections, total=Decimal(total), markers={"gender_marker": 1,
        "climate_adaptation_marker": 0, "climate_mitigation_marker": 0},
        spread=Decimal(0), count=2,
    )  # fmt: skip
    async with world.svc.db.unit_of_work() as session:
        proposal = await session.get(Proposal, uuid.UUID(proposal_id), with_for_update=True)
        assert proposal is not None
        manager = Actor(id=None, role="fund_manager")
        now = world.clock.now()
        for trigger, actor in (("start_screening", manager), ("pass_screening", manager)):
            facts = await guard_facts(session, proposal, trigger)
            await lifecycle.fire(session, proposal, trigger, actor, now=now, facts=facts)
        facts = await guard_facts(session, proposal, "complete_evaluation")
        await lifecycle.fire(
            session, proposal, "complete_evaluation", SYSTEM_ACTOR, now=now,
            payload={"reasons": [], "scores": result.breakdown()},
            facts={**facts, "result": result},
        )  # fmt: skip
