"""The delivery worker: claim due outbox rows, send them, record the outcome.

Claiming is a short transaction of its own (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several workers share the queue without sending a row twice; SQLite's write lock does the
same for its single worker). Sending happens outside any transaction. A worker that dies
after claiming leaves the row ``sending`` with a lease; once the lease expires the row is
claimed again, so no message is lost. Delivery is at least once: a worker killed after the
SMTP server accepted a message but before recording it would send it again, with the same
Message-ID, which mail systems use to recognise duplicates.

Failures: a 5xx answer is permanent (``dead`` at once); anything else is retried with
exponential backoff and jitter until ``outbox_max_attempts``, then ``dead``. Dead messages are
listed for admins, who can retry them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from facility.clock import Clock
from facility.db.engine import Database
from facility.notifications.mail import (
    PermanentFailure,
    TransientFailure,
    Transport,
    build,
    message_id_header,
)
from facility.notifications.models import DEAD, PENDING, SENDING, SENT, OutboxMessage
from facility.notifications.render import Renderer
from facility.settings import Settings

log = logging.getLogger("facility.worker")


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    message_id: str
    kind: str
    recipient_email: str
    locale: str
    context: dict[str, object]
    attempts: int
    created_at: datetime


def backoff(attempts: int, base_s: float, rng: random.Random) -> timedelta:
    """base × 2^(attempts−1), capped at six hours, with ±20 % jitter."""
    delay = min(base_s * 2 ** max(attempts - 1, 0), 6 * 3600)
    return timedelta(seconds=delay * rng.uniform(0.8, 1.2))


class Worker:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Clock,
        transport: Transport,
        renderer: Renderer | None = None,
        name: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.transport = transport
        self.renderer = renderer or Renderer(base_url=settings.public_base_url)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not secrecy)
        self._lease = timedelta(seconds=settings.outbox_lease_s)

    async def claim(self, limit: int = 20) -> list[Claimed]:
        now = self.clock.now()
        stale = now - self._lease
        claimable = or_(
            (OutboxMessage.status == PENDING) & (OutboxMessage.next_attempt_at <= now),
            (OutboxMessage.status == SENDING) & (OutboxMessage.claimed_at < stale),
        )
        async with self.db.unit_of_work() as session:
            due = (
                select(OutboxMessage.id)
                .where(claimable)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            ids = list((await session.execute(due)).scalars())
            if not ids:
                return []
            rows = await session.execute(
                update(OutboxMessage)
                # Checked again under the row lock: a row another worker took is not taken.
                .where(OutboxMessage.id.in_(ids), claimable)
                .values(
                    status=SENDING,
                    claimed_at=now,
                    claimed_by=self.name,
                    attempts=OutboxMessage.attempts + 1,
                )
                .returning(
                    OutboxMessage.id,
                    OutboxMessage.message_id,
                    OutboxMessage.kind,
                    OutboxMessage.recipient_email,
                    OutboxMessage.locale,
                    OutboxMessage.context,
                    OutboxMessage.attempts,
                    OutboxMessage.created_at,
                )
            )
            return [Claimed(*row) for row in rows.all()]

    async def _finish(self, claimed: Claimed, **values: object) -> None:
        async with self.db.unit_of_work() as session:
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == claimed.id,
                    OutboxMessage.status == SENDING,
                    OutboxMessage.claimed_by == self.name,
                )
                .values(**values)
            )

    async def _renew_lease(self, claimed: Claimed) -> bool:
        """Still ours? A batch can outlast the lease (a slow relay): re-claim before sending,
        so a row another worker took over after the lease ran out is not sent twice."""
        async with self.db.unit_of_work() as session:
            renewed = await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == claimed.id,
                    OutboxMessage.status == SENDING,
                    OutboxMessage.claimed_by == self.name,
                    OutboxMessage.claimed_at >= self.clock.now() - self._lease,
                )
                .values(claimed_at=self.clock.now())
                .returning(OutboxMessage.id)
            )
            return renewed.scalar_one_or_none() is not None

    async def deliver(self, claimed: Claimed) -> str:
        if not await self._renew_lease(claimed):
            return "lost"
        try:
            rendered = self.renderer.render(claimed.kind, claimed.locale, dict(claimed.context))
            message = build(
                rendered,
                to_email=claimed.recipient_email,
                to_name=str(claimed.context.get("recipient_name") or ""),
                message_id=message_id_header(claimed.message_id, self.settings),
                locale=claimed.locale,
                settings=self.settings,
                date=claimed.created_at,
                kind=claimed.kind,
            )
            await self.transport.send(message)
        except TransientFailure as exc:
            if claimed.attempts >= self.settings.outbox_max_attempts:
                await self._finish(claimed, status=DEAD, last_error=str(exc)[:2000])
                return DEAD
            retry_at = self.clock.now() + backoff(
                claimed.attempts, self.settings.outbox_backoff_s, self.rng
            )
            await self._finish(
                claimed, status=PENDING, next_attempt_at=retry_at, last_error=str(exc)[:2000]
            )
            return PENDING
        except Exception as exc:  # permanent refusal, or a message that cannot be rendered
            kind = "refused" if isinstance(exc, PermanentFailure) else type(exc).__name__
            log.warning("outbox message %s is dead: %s: %s", claimed.id, kind, exc)
            await self._finish(claimed, status=DEAD, last_error=f"{kind}: {exc}"[:2000])
            return DEAD
        await self._finish(claimed, status=SENT, sent_at=self.clock.now(), last_error=None)
        return SENT

    async def run_once(self, limit: int = 20) -> dict[str, int]:
        """Claim and deliver one batch; returns how many ended in each status."""
        outcome: dict[str, int] = {}
        for claimed in await self.claim(limit):
            status = await self.deliver(claimed)
            outcome[status] = outcome.get(status, 0) + 1
        return outcome

    async def drain(self) -> dict[str, int]:
        """Deliver until nothing is due now (tests and the CLI's one-shot mode)."""
        total: dict[str, int] = {}
        while batch := await self.run_once():
            for k, v in batch.items():
                total[k] = total.get(k, 0) + v
        return total


async def run_forever(
    worker: Worker,
    scheduler_tick: Callable[[], Awaitable[None]],
    stop: asyncio.Event,
    settings: Settings,
) -> None:
    """The loop `facility worker` (and `make run`, in-process) runs until stopped."""
    last_tick = 0.0
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        # Timers and delivery fail separately: a broken timer must not hold up the mail.
        if loop.time() - last_tick >= settings.scheduler_interval_s:
            last_tick = loop.time()
            try:
                await scheduler_tick()
            except Exception:
                log.exception("scheduler tick failed; trying again next interval")
        try:
            await worker.run_once()
        except Exception:
            log.exception("delivery round failed; continuing")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=settings.worker_poll_s)
