from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from facility.attachments.models import StoredFile
from facility.db.base import Base, IdMixin
from facility.db.types import Hundredths, JSONType
from facility.stateful import Stateful
from workflows.grant import GRANT, PAYMENT, REPORT


class Grant(Stateful, Base):
    __tablename__ = "grants"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        # The sum paid never exceeds the grant.
        CheckConstraint("paid_total >= 0 AND paid_total <= amount", name="paid_within_amount"),
        CheckConstraint(
            "released_amount >= 0 AND released_amount <= amount", name="released_within_amount"
        ),
        Index("ix_grants_organisation_id", "organisation_id"),
        Index("ix_grants_call_id", "call_id"),
    )
    workflow_name = GRANT.name
    initial_status = GRANT.initial

    reference: Mapped[str] = mapped_column(String(80), unique=True)
    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id"), unique=True)
    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"))
    title: Mapped[str] = mapped_column(String(300))
    amount: Mapped[Decimal] = mapped_column(Hundredths())
    currency: Mapped[str] = mapped_column(String(3))
    duration_months: Mapped[int]
    planned_start: Mapped[date]
    planned_end: Mapped[date]
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    # The primary priority first, then the secondary ones.
    priorities: Mapped[list[str]] = mapped_column(JSONType)
    countries: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    gender_marker: Mapped[int]
    climate_adaptation_marker: Mapped[int]
    climate_mitigation_marker: Mapped[int]
    signed_on: Mapped[date | None]
    paid_total: Mapped[Decimal] = mapped_column(Hundredths(), default=Decimal(0))
    # Money given back to the call's envelope (termination, waived balance).
    released_amount: Mapped[Decimal] = mapped_column(Hundredths(), default=Decimal(0))
    termination_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class Report(Stateful, Base):
    __tablename__ = "reports"
    __table_args__ = (
        UniqueConstraint("grant_id", "sequence"),
        CheckConstraint("kind IN ('interim', 'final')", name="kind_known"),
        Index("ix_reports_due_on", "due_on"),
    )
    workflow_name = REPORT.name
    initial_status = REPORT.initial

    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    sequence: Mapped[int]
    period_start: Mapped[date]
    period_end: Mapped[date]
    due_on: Mapped[date]
    narrative: Mapped[str | None] = mapped_column(Text)
    spent_to_date: Mapped[Decimal | None] = mapped_column(Hundredths())
    # [{"code", "value", "women", "men", "comment"}] per logframe indicator.
    indicator_progress: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    submitted_at: Mapped[datetime | None]
    approved_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ReportAttachment(StoredFile, IdMixin, Base):
    __tablename__ = "report_attachments"
    __table_args__ = (Index("ix_report_attachments_report_id", "report_id"),)

    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))


class Payment(Stateful, Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("grant_id", "sequence"),
        CheckConstraint("kind IN ('pre_financing', 'balance')", name="kind_known"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint(
            "paid_amount IS NULL OR paid_amount <= amount", name="paid_within_schedule"
        ),
    )
    workflow_name = PAYMENT.name
    initial_status = PAYMENT.initial

    grant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Hundredths())
    # Which report's approval makes it due (None: due at signature).
    unlocked_by_report: Mapped[int | None]
    due_on: Mapped[date | None]
    paid_on: Mapped[date | None]
    paid_amount: Mapped[Decimal | None] = mapped_column(Hundredths())
    waiver_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
