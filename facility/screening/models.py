from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from facility.db.base import Base, IdMixin
from facility.db.types import JSONType


class Screening(IdMixin, Base):
    """One screening of one proposal at one stage: the automatic checks as re-run when it
    started, and the call's manual checklist as the fund manager filled it in."""

    __tablename__ = "screenings"
    __table_args__ = (UniqueConstraint("proposal_id", "stage"),)

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    stage: Mapped[str] = mapped_column(String(20))
    # [{"id", "label", "passed", "details": [...]}]
    automatic_checks: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    # [{"id", "label", "mandatory", "passed": bool | None, "note"}]
    checklist: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(10))  # passed | failed
    decided_at: Mapped[datetime | None]
