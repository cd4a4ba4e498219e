from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from facility.db.base import Base
from facility.db.types import Hundredths, JSONType
from facility.stateful import Stateful
from workflows.call import CALL


class Call(Stateful, Base):
    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint("min_grant > 0 AND max_grant >= min_grant", name="grant_range"),
        CheckConstraint("budget_envelope >= max_grant", name="envelope_covers_max_grant"),
        CheckConstraint(
            "min_duration_months >= 1 AND max_duration_months >= min_duration_months",
            name="duration_range",
        ),
        CheckConstraint("closes_at IS NULL OR closes_at > opens_at", name="window_order"),
        CheckConstraint("submission_seq >= 0", name="submission_seq_non_negative"),
        CheckConstraint("evaluation_period_days >= 1", name="evaluation_period_positive"),
        CheckConstraint(
            "committed_amount >= 0 AND committed_amount <= budget_envelope",
            name="envelope_never_overspent",
        ),
        CheckConstraint("acceptance_period_days >= 1", name="acceptance_period_positive"),
    )
    workflow_name = CALL.name
    initial_status = CALL.initial

    reference: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(20))
    stages: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    budget_envelope: Mapped[Decimal] = mapped_column(Hundredths())
    min_grant: Mapped[Decimal] = mapped_column(Hundredths())
    max_grant: Mapped[Decimal] = mapped_column(Hundredths())
    min_duration_months: Mapped[int]
    max_duration_months: Mapped[int]
    min_cofinancing_pct: Mapped[Decimal] = mapped_column(Hundredths())
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime | None]
    eligible_countries: Mapped[list[str]] = mapped_column(JSONType)
    eligible_org_types: Mapped[list[int]] = mapped_column(JSONType)
    priorities: Mapped[list[str]] = mapped_column(JSONType)
    concept_note_grid: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    evaluation_grid: Mapped[dict[str, Any]] = mapped_column(JSONType)
    evaluators_per_proposal: Mapped[int]
    divergence_threshold_pct: Mapped[Decimal] = mapped_column(Hundredths())
    required_attachment_kinds: Mapped[list[str]] = mapped_column(JSONType)
    concept_note_attachment_kinds: Mapped[list[str]] = mapped_column(JSONType)
    # Manual screening items: [{"id", "label", "mandatory"}].
    screening_checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # Days an evaluator has from assignment to submitted evaluation.
    evaluation_period_days: Mapped[int] = mapped_column(default=14)
    # Awards: the sum of active awards, kept beside the envelope so one conditional UPDATE
    # can refuse an overspend; the database also checks it never exceeds the envelope.
    committed_amount: Mapped[Decimal] = mapped_column(Hundredths(), default=Decimal(0))
    # Promote the best-ranked reserve proposal automatically when money is freed.
    auto_promote: Mapped[bool] = mapped_column(default=False)
    # Days an awarded applicant has to sign the contract before the offer lapses.
    acceptance_period_days: Mapped[int] = mapped_column(default=30)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    # Last proposal reference number handed out; bumped under the row lock at submission.
    submission_seq: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_at: Mapped[datetime | None]
