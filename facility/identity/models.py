from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from facility.db.base import Base, IdMixin


class Role(StrEnum):
    applicant = "applicant"
    evaluator = "evaluator"
    fund_manager = "fund_manager"
    admin = "admin"


class Organisation(IdMixin, Base):
    __tablename__ = "organisations"
    __table_args__ = (
        # A registration number identifies an organisation within its country.
        UniqueConstraint("country", "registration_number"),
    )

    name: Mapped[str] = mapped_column(String(300))
    iati_type: Mapped[int]
    country: Mapped[str] = mapped_column(String(2))
    registration_number: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class User(IdMixin, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role <> 'applicant' OR organisation_id IS NOT NULL", name="applicant_has_organisation"
        ),
        CheckConstraint(
            "role IN ('applicant', 'evaluator', 'fund_manager', 'admin')", name="role_known"
        ),
        Index("ix_users_organisation_id", "organisation_id"),
    )

    # Stored lower-cased, so the unique constraint is case-insensitive on both databases.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool] = mapped_column(default=True)
    preferred_language: Mapped[str] = mapped_column(String(5), default="en")
    # Reminders can be turned off; decisions are always sent.
    reminders_opt_out: Mapped[bool] = mapped_column(default=False)
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    created_at: Mapped[datetime]

    organisation: Mapped[Organisation | None] = relationship(lazy="raise")
