from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from facility.db.base import Base, IdMixin
from facility.db.types import Hundredths, JSONType
from facility.stateful import Stateful
from workflows.assignment import ASSIGNMENT


class EvaluatorProfile(Base):
    __tablename__ = "evaluator_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    expertise: Mapped[list[str]] = mapped_column(JSONType, default=list)  # priorities
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)  # ISO 639-1
    # Nationality and residence: never assigned to an applicant from these countries.
    countries: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Organisations worked for: [{"name", "country", "registration_number"}].
    affiliations: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime]


class Assignment(Stateful, Base):
    __tablename__ = "assignments"
    __table_args__ = (
        # An evaluator scores a proposal once per stage, and once recused stays recused.
        UniqueConstraint("proposal_id", "evaluator_id", "stage"),
        Index("ix_assignments_evaluator_id_status", "evaluator_id", "status"),
        Index("ix_assignments_call_id", "call_id"),
    )
    workflow_name = ASSIGNMENT.name
    initial_status = ASSIGNMENT.initial

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"))
    evaluator_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    stage: Mapped[str] = mapped_column(String(20))
    is_arbitration: Mapped[bool] = mapped_column(default=False)
    due_at: Mapped[datetime]
    assigned_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Why a fund manager assigned despite a conflict the matching rules would have avoided.
    override_justification: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    declared_at: Mapped[datetime | None]
    conflict_of_interest: Mapped[bool | None]
    declaration_statement: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None]


class Evaluation(IdMixin, Base):
    """An evaluator's scores for one assignment. Totals are computed by the facility, never
    taken from the client. Once submitted, database triggers refuse any change."""

    __tablename__ = "evaluations"

    assignment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), unique=True
    )
    scores: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)
    section_comments: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    gender_marker: Mapped[int | None]
    gender_justification: Mapped[str | None] = mapped_column(Text)
    climate_adaptation_marker: Mapped[int | None]
    climate_adaptation_justification: Mapped[str | None] = mapped_column(Text)
    climate_mitigation_marker: Mapped[int | None]
    climate_mitigation_justification: Mapped[str | None] = mapped_column(Text)
    primary_priority_confirmed: Mapped[bool | None]
    strengths: Mapped[str | None] = mapped_column(Text)
    weaknesses: Mapped[str | None] = mapped_column(Text)
    recommendation: Mapped[str | None] = mapped_column(String(30))
    # Computed: {"section_id": "12.00"} and the weighted total.
    section_scores: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    total: Mapped[Decimal | None] = mapped_column(Hundredths())
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]


class EvaluationResult(IdMixin, Base):
    """The consolidated outcome of a proposal's evaluation at one stage."""

    __tablename__ = "evaluation_results"
    __table_args__ = (UniqueConstraint("proposal_id", "stage"),)

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"))
    stage: Mapped[str] = mapped_column(String(20))
    section_scores: Mapped[dict[str, str]] = mapped_column(JSONType)
    total: Mapped[Decimal] = mapped_column(Hundredths())
    spread: Mapped[Decimal] = mapped_column(Hundredths())
    evaluations_count: Mapped[int]
    gender_marker: Mapped[int]
    climate_adaptation_marker: Mapped[int]
    climate_mitigation_marker: Mapped[int]
    passed: Mapped[bool]
    reasons: Mapped[list[str]] = mapped_column(JSONType, default=list)
    computed_at: Mapped[datetime]
