"""Rows whose life is governed by a workflow in ``workflows/``.

``status`` can only change through :mod:`facility.lifecycle`; a direct assignment anywhere
else raises. ``version`` is the optimistic-concurrency counter behind ETags: every UPDATE
through the ORM checks and bumps it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import String
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, validates
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from facility.db.base import IdMixin
from facility.db.types import UTCDateTime

_engine_writing: ContextVar[bool] = ContextVar("engine_writing", default=False)


@contextmanager
def status_writes_allowed() -> Iterator[None]:
    token = _engine_writing.set(True)
    try:
        yield
    finally:
        _engine_writing.reset(token)


class StatusWriteOutsideEngine(RuntimeError):
    pass


class Stateful(IdMixin):
    workflow_name: ClassVar[str]
    initial_status: ClassVar[str]

    @declared_attr
    def status(cls) -> Mapped[str]:
        return mapped_column(String(30), default=cls.initial_status, index=True)

    version: Mapped[int] = mapped_column(default=1)
    # When the subject entered its current state (timers count from here).
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}

    @validates("status")
    def _status_only_through_engine(self, _key: str, value: str) -> str:
        if not _engine_writing.get():
            raise StatusWriteOutsideEngine(
                f"{type(self).__name__}.status changes only through the workflow engine"
            )
        return value


def loaded_in_step(session: AsyncSession, model: type, ident: Any, **values: Any) -> None:
    """After a Core UPDATE of a row, give an already loaded instance the new values as its
    committed state (no extra SELECT, and its version check stays right)."""
    instance = session.sync_session.identity_map.get(identity_key(model, ident))
    if instance is not None:
        for name, value in values.items():
            set_committed_value(instance, name, value)
