from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from facility.db.base import Base, IdMixin
from facility.db.types import Hundredths, JSONType
from facility.stateful import Stateful
from workflows.proposal import PROPOSAL


class Proposal(Stateful, Base):
    __tablename__ = "proposals"
    __table_args__ = (
        # Gap-free numbering per call: the pair is unique once a number is assigned.
        UniqueConstraint("call_id", "sequence"),
        Index("ix_proposals_call_id_status", "call_id", "status"),
        Index("ix_proposals_organisation_id", "organisation_id"),
        CheckConstraint("stage IN ('concept_note', 'full_application')", name="stage_known"),
        CheckConstraint("requested_amount IS NULL OR requested_amount > 0", name="amount_positive"),
        CheckConstraint(
            "total_budget IS NULL OR requested_amount IS NULL OR total_budget >= requested_amount",
            name="total_covers_request",
        ),
    )
    workflow_name = PROPOSAL.name
    initial_status = PROPOSAL.initial

    call_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("calls.id", ondelete="RESTRICT"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    stage: Mapped[str] = mapped_column(String(20))
    sequence: Mapped[int | None]
    reference: Mapped[str | None] = mapped_column(String(60), unique=True)

    title: Mapped[str | None] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)
    primary_priority: Mapped[str | None] = mapped_column(String(40))
    secondary_priorities: Mapped[list[str]] = mapped_column(JSONType, default=list)
    country_shares: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    requested_amount: Mapped[Decimal | None] = mapped_column(Hundredths())
    total_budget: Mapped[Decimal | None] = mapped_column(Hundredths())
    duration_months: Mapped[int | None]
    planned_start: Mapped[date | None]
    gender_marker: Mapped[int | None]
    gender_justification: Mapped[str | None] = mapped_column(Text)
    climate_adaptation_marker: Mapped[int | None]
    climate_adaptation_justification: Mapped[str | None] = mapped_column(Text)
    climate_mitigation_marker: Mapped[int | None]
    climate_mitigation_justification: Mapped[str | None] = mapped_column(Text)
    logframe: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    # Set when a concept note is invited to a full application (two-stage calls).
    full_application_due_at: Mapped[datetime | None]
    concept_note_amount: Mapped[Decimal | None] = mapped_column(Hundredths())

    submitted_at: Mapped[datetime | None]
    content_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    @property
    def cofinancing_pct(self) -> Decimal | None:
        if self.requested_amount is None or not self.total_budget:
            return None
        share = (self.total_budget - self.requested_amount) * 100 / self.total_budget
        return share.quantize(Decimal("0.01"), rounding=ROUND_DOWN)  # never shows more than it is


class ProposalSubmission(IdMixin, Base):
    """The frozen content of a proposal as submitted at one stage: the receipt's evidence."""

    __tablename__ = "proposal_submissions"
    __table_args__ = (UniqueConstraint("proposal_id", "stage"),)

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(60))
    submitted_at: Mapped[datetime]
    submitted_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict[str, Any]] = mapped_column(JSONType)


class IdempotencyKey(IdMixin, Base):
    """A client's ``Idempotency-Key`` for proposal creation, scoped to the user."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    proposal_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("proposals.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime]
