from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from facility.calls.models import Call

# Applicants and the public see calls once published (a draft cancelled unpublished, never).
PUBLIC_STATUSES = ("published", "closed", "finalised", "cancelled")


def public(stmt: Select[Any]) -> Select[Any]:
    return stmt.where(Call.status.in_(PUBLIC_STATUSES), Call.published_at.is_not(None))


class CallRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, call_id: uuid.UUID, *, include_drafts: bool, lock: bool = False
    ) -> Call | None:
        stmt = select(Call).where(Call.id == call_id)
        if not include_drafts:
            stmt = public(stmt)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_reference(self, reference: str) -> Call | None:
        stmt = select(Call).where(Call.reference == reference)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self,
        *,
        include_drafts: bool,
        statuses: Sequence[str] | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[Call]:
        stmt = select(Call).order_by(Call.id.desc()).limit(limit)
        if not include_drafts:
            stmt = public(stmt)
        if statuses:
            stmt = stmt.where(Call.status.in_(statuses))
        if after is not None:
            stmt = stmt.where(Call.id < after)
        return list((await self.session.execute(stmt)).scalars())
