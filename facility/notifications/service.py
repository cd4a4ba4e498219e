"""What admins do with the outbox: read it, and send a dead message again."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from facility.errors import Conflict, NotFound
from facility.notifications.models import DEAD, PENDING, OutboxMessage


async def list_messages(
    session: AsyncSession, *, status: str | None, after: uuid.UUID | None, limit: int
) -> list[OutboxMessage]:
    """Newest first; one more than ``limit`` so the caller knows whether a page follows."""
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit + 1)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    if after is not None:
        stmt = stmt.where(OutboxMessage.id < after)
    return list((await session.execute(stmt)).scalars())


async def retry(session: AsyncSession, message_id: uuid.UUID, now: datetime) -> OutboxMessage:
    """A dead message goes back to the queue with a fresh set of attempts."""
    message = await session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None:
        raise NotFound("No such message")
    if message.status != DEAD:
        raise Conflict(f"The message is {message.status}; only dead messages are retried")
    message.status = PENDING
    message.attempts = 0
    message.next_attempt_at = now
    message.last_error = None
    await session.flush()
    return message
