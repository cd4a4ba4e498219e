"""Test harness: every test runs on SQLite and, when FACILITY_TEST_POSTGRES_URL is set, on
PostgreSQL too, against databases built by the Alembic migrations (never ``create_all``),
through real HTTP (httpx on the ASGI app). Only the clock is fake.

Each pytest-xdist worker owns its databases, and one app per backend for the session.
Between tests, SQLite gets a fresh copy of a migrated template file; PostgreSQL tables are
emptied (triggers off for the append-only audit table, which refuses deletes otherwise).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest
from alembic import command
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from api.app import create_app
from facility.cli import alembic_config
from facility.clock import FrozenClock
from facility.db.engine import Database
from facility.models import Base
from facility.notifications.mail import SmtpTransport
from facility.notifications.worker import Worker
from facility.settings import Settings
from tests.factories import World
from tests.smtp import SmtpServer

PG_URL = os.environ.get("FACILITY_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
START = datetime(2026, 3, 2, 9, 0, 0, tzinfo=UTC)


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _pg_admin_dsn() -> str:
    assert PG_URL is not None
    url = make_url(PG_URL)
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    try:
        conn = await asyncpg.connect(_pg_admin_dsn(), timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:  # fail, never skip
        raise RuntimeError(
            f"PostgreSQL at FACILITY_TEST_POSTGRES_URL is unreachable: {exc}"
        ) from exc
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def base_settings(url: str, tmp: Path) -> Settings:
    return Settings(
        env="test",
        database_url=url,
        secret_key=secrets.token_urlsafe(48),
        argon2_time_cost=1,
        argon2_memory_kib=8 * 1024,
        attachment_dir=tmp / "attachments",
        mail_dir=tmp / "mail",
        attachment_max_bytes=256 * 1024,
        request_max_bytes=224 * 1024,  # below the file limit: uploads must get their own
        db_pool_size=12,
        worker_in_process=False,  # tests drive the worker themselves
        outbox_backoff_s=60.0,
    )


@dataclass
class MigratedDatabase:
    backend: str
    url: str
    template: Path | None = None  # SQLite: a migrated file copied for each test


@pytest.fixture(scope="session", params=BACKENDS)
def migrated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MigratedDatabase]:
    backend: str = request.param
    tmp = tmp_path_factory.mktemp(f"db-{backend}")
    if backend == "sqlite":
        template = tmp / "template.db"
        url = f"sqlite+aiosqlite:///{template}"
        command.upgrade(alembic_config(base_settings(url, tmp)), "head")
        yield MigratedDatabase(backend, url, template)
        return
    assert PG_URL is not None
    name = f"facility_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(base_settings(url, tmp)), "head")
        yield MigratedDatabase(backend, url)
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


TABLES_CHILD_FIRST = [t.name for t in reversed(Base.metadata.sorted_tables)]


async def _empty_postgres(url: str) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            await conn.execute("SET LOCAL session_replication_role = replica")
            for table in TABLES_CHILD_FIRST:
                await conn.execute(f'DELETE FROM "{table}"')  # noqa: S608 (names from metadata)
    finally:
        await conn.close()


@dataclass
class Shared:
    """One app per backend for the whole session (building a FastAPI app and its routes'
    dependency graphs costs more than most tests); each test gets it back in a clean state:
    an empty database, empty file stores, the clock at START."""

    backend: str
    settings: Settings
    clock: FrozenClock
    app: FastAPI
    template: Path | None

    async def reset(self) -> None:
        db: Database = self.app.state.services.db
        if self.template is not None:
            await db.dispose()  # no open connection while the file is replaced
            self._restore_sqlite(self.template)
        else:
            await _empty_postgres(self.settings.database_url)
        for folder in (self.settings.attachment_dir, self.settings.mail_dir):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        self.clock.set(START)

    def _restore_sqlite(self, template: Path) -> None:
        target = Path(self.settings.database_url.split(":///", 1)[1])
        for suffix in ("-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(template, target)


@pytest.fixture(scope="session")
async def shared(
    migrated: MigratedDatabase, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Shared]:
    root = tmp_path_factory.mktemp(f"app-{migrated.backend}")
    url = migrated.url
    if migrated.template is not None:
        url = f"sqlite+aiosqlite:///{root / 'facility.db'}"
        shutil.copyfile(migrated.template, root / "facility.db")
    settings = base_settings(url, root)
    clock = FrozenClock(START)
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield Shared(migrated.backend, settings, clock, application, migrated.template)


@pytest.fixture
async def fresh(shared: Shared) -> Shared:
    await shared.reset()
    return shared


@pytest.fixture
def backend(migrated: MigratedDatabase) -> str:
    return migrated.backend


@pytest.fixture
def database_url(fresh: Shared) -> str:
    return fresh.settings.database_url


@pytest.fixture
def clock(fresh: Shared) -> FrozenClock:
    return fresh.clock


@pytest.fixture
def settings(fresh: Shared) -> Settings:
    return fresh.settings


@pytest.fixture
def app(fresh: Shared) -> FastAPI:
    return fresh.app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://facility.test") as c:
        yield c


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.services.db
    return database


@pytest.fixture
def world(app: FastAPI, client: httpx.AsyncClient, clock: FrozenClock) -> World:
    return World(app, client, clock)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings: Settings, smtp_server: SmtpServer) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp_server.port, "smtp_tls": "none",
                "smtp_timeout_s": 5.0}
    )  # fmt: skip


@pytest.fixture
def worker(db: Database, mail_settings: Settings, clock: FrozenClock) -> Worker:
    import random

    return Worker(db, mail_settings, clock, SmtpTransport(mail_settings), name="worker-a",
                  rng=random.Random(7))  # fmt: skip
