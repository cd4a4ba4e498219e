"""The application factory: wires settings, clock, database and routers together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api.body_limit import MULTIPART_OVERHEAD, BodyLimit
from api.deps import Services
from api.routers import (
    calls,
    evaluation,
    grants,
    identity,
    meta,
    notifications,
    proposals,
    screening,
)
from facility.attachments.storage import ContentStore
from facility.clock import Clock, SystemClock
from facility.db.engine import Database
from facility.domain import check_domain_wiring
from facility.identity.passwords import Passwords
from facility.identity.tokens import Tokens
from facility.notifications import scheduler
from facility.notifications.mail import transport_for
from facility.notifications.worker import Worker, run_forever
from facility.settings import Settings, get_settings

DESCRIPTION = """
API-first workflow engine for grant facilities: calls for proposals, submission, screening,
evaluation, awards and grants. Every error is an RFC 9457 problem (`application/problem+json`);
every time is UTC in ISO 8601; money is a decimal string with two places.
"""


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    check_domain_wiring()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or Database(settings)
        settings.attachment_dir.mkdir(parents=True, exist_ok=True)
        app.state.services = Services(
            settings=settings,
            clock=clock or SystemClock(),
            db=db,
            passwords=Passwords(settings),
            tokens=Tokens(settings),
            store=ContentStore(settings.attachment_dir),
        )
        stop = asyncio.Event()
        background = None
        if settings.worker_in_process:
            worker = Worker(db, settings, app.state.services.clock, transport_for(settings))

            async def tick() -> None:
                await scheduler.tick(db, app.state.services.clock)

            background = asyncio.create_task(run_forever(worker, tick, stop, settings))
        try:
            yield
        finally:
            stop.set()
            if background is not None:
                await background
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="Facility engine",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    problems.install(app)
    for module in (meta, identity, calls, proposals, screening, evaluation, grants, notifications):
        app.include_router(module.router)
    for uploads in (proposals.uploads, grants.uploads):
        app.include_router(uploads)
    app.add_middleware(
        BodyLimit,
        default=settings.request_max_bytes,
        uploads=settings.attachment_max_bytes + MULTIPART_OVERHEAD,
        upload_routes=[*proposals.uploads.routes, *grants.uploads.routes],
    )
    return app
