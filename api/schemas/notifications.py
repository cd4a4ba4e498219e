from __future__ import annotations

import uuid
from datetime import datetime

from api.schemas.common import OutputModel


class CatalogueEntryOut(OutputModel):
    event: str | None
    message: str
    recipients: str
    description: str
    reminder: bool


class OutboxMessageOut(OutputModel):
    id: uuid.UUID
    kind: str
    recipient_email: str
    locale: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
