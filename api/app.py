"""The application factory: wires settings, clock, database and routers together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api.deps import Services
from api.routers import calls, evaluation, grants, identity, meta, proposals, screening
from facility.attachments.storage import ContentStore
from facility.clock import Clock, SystemClock
from facility.db.engine import Database
from facility.domain import check_domain_wiring
from facility.identity.passwords import Passwords
from facility.identity.tokens import Tokens
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
        try:
            yield
        finally:
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="Facility engine",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    problems.install(app)
    for module in (meta, identity, calls, proposals, screening, evaluation, grants):
        app.include_router(module.router)
    return app
