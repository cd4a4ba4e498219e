from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from facility.db.base import Base, IdMixin
from facility.db.types import JSONType

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"


class OutboxMessage(IdMixin, Base):
    """One e-mail to one recipient, written in the same transaction as the event that caused
    it. Delivery state (pending → sending → sent, or dead) belongs to the worker, not to a
    workflow: it is mechanics, not a decision."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(60))
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    recipient_email: Mapped[str] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(5))
    context: Mapped[dict[str, Any]] = mapped_column(JSONType)
    event_id: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), ForeignKey("audit_events.id")
    )
    # Reminders: one message per (subject, kind, due date, recipient), whoever schedules it.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
