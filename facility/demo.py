"""The demo: the Silk Routes Facility call for proposals and one user per role.

Idempotent: what exists is left alone. Passwords are generated and printed once, when an
account is created; they are never stored in clear or written into the code.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from facility import lifecycle
from facility.calls import service as calls
from facility.calls.grids import prag_concept_note_grid, prag_full_application_grid
from facility.calls.repository import CallRepository
from facility.clock import Clock
from facility.evaluation.models import EvaluatorProfile
from facility.identity import service as identity
from facility.identity.models import Role, User
from facility.identity.passwords import Passwords
from facility.identity.repository import UserRepository
from facility.lifecycle import Actor
from facility.reference_data import FACILITY_COUNTRIES, Priority

DEMO_CALL_REFERENCE = "SRF-2026"
DEMO_DOMAIN = "facility.localhost"


@dataclass(frozen=True)
class DemoAccount:
    email: str
    role: Role
    full_name: str


DEMO_ACCOUNTS = (
    DemoAccount(f"admin@{DEMO_DOMAIN}", Role.admin, "Demo Administrator"),
    DemoAccount(f"fund.manager@{DEMO_DOMAIN}", Role.fund_manager, "Demo Fund Manager"),
    DemoAccount(f"evaluator@{DEMO_DOMAIN}", Role.evaluator, "Demo Evaluator"),
    DemoAccount(f"applicant@{DEMO_DOMAIN}", Role.applicant, "Demo Applicant"),
)

DEMO_ORGANISATION = {
    "name": "Demo Migrant Support Network",
    "iati_type": 22,
    "country": "KG",
    "registration_number": "KG-DEMO-0001",
}


def demo_call_fields(clock: Clock) -> dict[str, object]:
    now = clock.now().replace(microsecond=0)
    return {
        "reference": DEMO_CALL_REFERENCE,
        "title": "Silk Routes Facility – Call for Proposals",
        "description": (
            "Large-scale initiatives implementing the priorities of the Istanbul Ministerial "
            "Declaration in the Silk Routes and Central Asia, including small-scale "
            "infrastructure. Each action belongs to one Istanbul priority and may also address "
            "climate-induced migration and female migration. Concept notes first; "
            "pre-selected applicants are invited to submit a full application."
        ),
        "mode": "rolling",
        "stages": "two_stage",
        "currency": "EUR",
        "budget_envelope": Decimal("1500000.00"),
        "min_grant": Decimal("150000.00"),
        "max_grant": Decimal("250000.00"),
        "min_duration_months": 6,
        "max_duration_months": 18,
        "min_cofinancing_pct": Decimal("5.00"),
        "opens_at": now,
        "closes_at": now + timedelta(days=180),
        "eligible_countries": list(FACILITY_COUNTRIES),
        "eligible_org_types": [10, 11, 15, 21, 22, 23, 24, 40, 80],
        "priorities": [p.value for p in Priority],
        "concept_note_grid": prag_concept_note_grid(),
        "evaluation_grid": prag_full_application_grid(),
        "evaluators_per_proposal": 2,
        "divergence_threshold_pct": Decimal("20.00"),
        "required_attachment_kinds": ["budget", "legal_entity_sheet", "declaration_of_honour"],
        "concept_note_attachment_kinds": [],
        "screening_checklist": [
            {
                "id": "declaration_of_honour",
                "label": "Declaration of honour signed",
                "mandatory": True,
            },
            {"id": "registration_valid", "label": "Registration document valid", "mandatory": True},
            {
                "id": "budget_consistent",
                "label": "Budget consistent with the narrative",
                "mandatory": False,
            },
        ],
        "evaluation_period_days": 14,
    }


async def seed(session: AsyncSession, passwords: Passwords, clock: Clock) -> dict[str, str]:
    """Create what is missing; returns {email: password} for accounts created now."""
    created: dict[str, str] = {}
    users: dict[Role, User] = {}
    repo = UserRepository(session)
    now = clock.now()
    for account in DEMO_ACCOUNTS:
        user = await repo.by_email(account.email)
        if user is None:
            password = secrets.token_urlsafe(12)
            if account.role is Role.applicant:
                user = await identity.register_applicant(
                    session, passwords, email=account.email, password=password,
                    full_name=account.full_name, preferred_language="en",
                    organisation=DEMO_ORGANISATION, now=now,
                )  # fmt: skip
            else:
                user = await identity.create_staff_user(
                    session, passwords, email=account.email, password=password,
                    full_name=account.full_name, role=account.role, preferred_language="en",
                    now=now,
                )  # fmt: skip
            created[account.email] = password
        users[account.role] = user

    evaluator = users[Role.evaluator]
    if await session.get(EvaluatorProfile, evaluator.id) is None:
        # A profile makes the demo evaluator eligible for automatic assignment.
        session.add(
            EvaluatorProfile(
                user_id=evaluator.id, expertise=[p.value for p in Priority],
                languages=["en", "ru"], countries=["DE"], affiliations=[], updated_at=now,
            )
        )  # fmt: skip
        await session.flush()

    if await CallRepository(session).by_reference(DEMO_CALL_REFERENCE) is None:
        manager = users[Role.fund_manager]
        actor = Actor(id=manager.id, role=manager.role)
        call = await calls.create_call(session, actor, demo_call_fields(clock), now)
        await lifecycle.fire(session, call, "publish", actor, now=now, comment="Demo seed")
    return created
