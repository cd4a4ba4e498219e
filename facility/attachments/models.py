from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from facility.db.base import Base, IdMixin


class StoredFile:
    """What is kept of an uploaded file, wherever it is attached: the bytes live in the
    content store under their SHA-256."""

    kind: Mapped[str] = mapped_column(String(40))
    # Shown to people only; never used to build a path.
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime]


class Attachment(StoredFile, IdMixin, Base):
    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_proposal_id", "proposal_id"),)

    proposal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("proposals.id", ondelete="CASCADE"))
    # The stage it was filed at: earlier stages' files are locked with their submission.
    stage: Mapped[str] = mapped_column(String(20))
