"""Engines and units of work.

PostgreSQL: one pool sized to the expected concurrency, no overflow (overflow connections
churn and halve throughput, see docs/performance.md).

SQLite: WAL, foreign keys, a busy timeout, and two engines. Writes go through a single
connection that opens every transaction with ``BEGIN IMMEDIATE``: the write lock is taken up
front, so concurrent writers queue (in the pool, then in SQLite's busy handler for other
processes) instead of failing with "database is locked" when a read lock cannot be
upgraded. Reads use a separate small pool with deferred transactions; WAL lets them run
beside the writer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from facility.settings import Settings


def _sqlite_listeners(engine: AsyncEngine, *, busy_timeout_ms: int, immediate: bool) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) issue BEGIN, not the sqlite3 module.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode up to power loss
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """Owns the engines; hands out sessions for one unit of work each."""

    def __init__(self, settings: Settings, url: str | None = None) -> None:
        self.url = url or settings.database_url
        self.dialect = "sqlite" if self.url.startswith("sqlite") else "postgresql"
        if self.dialect == "sqlite":
            self.write_engine = create_async_engine(
                self.url, pool_size=1, max_overflow=0, pool_timeout=settings.db_pool_timeout_s
            )
            self.read_engine = create_async_engine(
                self.url, pool_size=4, max_overflow=0, pool_timeout=settings.db_pool_timeout_s
            )
            busy = settings.sqlite_busy_timeout_ms
            _sqlite_listeners(self.write_engine, busy_timeout_ms=busy, immediate=True)
            _sqlite_listeners(self.read_engine, busy_timeout_ms=busy, immediate=False)
        else:
            self.write_engine = create_async_engine(
                self.url,
                pool_size=settings.db_pool_size,
                max_overflow=0,
                pool_timeout=settings.db_pool_timeout_s,
                pool_pre_ping=True,
                connect_args={
                    "server_settings": {"timezone": "UTC", "application_name": "facility"}
                },
            )
            self.read_engine = self.write_engine
        self._write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    @asynccontextmanager
    async def unit_of_work(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends normally, rolled back otherwise.
        Read units of work always roll back, so nothing can be written through them."""
        factory = self._write_sessions if write else self._read_sessions
        async with factory() as session:
            try:
                yield session
                if write:
                    await session.commit()
                else:
                    session.expunge_all()  # keep what was read usable after the rollback
                    await session.rollback()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
