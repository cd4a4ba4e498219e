from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from facility.identity.models import Organisation, User


def normalise_email(email: str) -> str:
    return email.strip().lower()


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: uuid.UUID) -> User | None:
        stmt = select(User).options(joinedload(User.organisation)).where(User.id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_email(self, email: str) -> User | None:
        stmt = (
            select(User)
            .options(joinedload(User.organisation))
            .where(User.email == normalise_email(email))
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(self, *, role: str | None, after: uuid.UUID | None, limit: int) -> list[User]:
        stmt = select(User).options(joinedload(User.organisation)).order_by(User.id).limit(limit)
        if role is not None:
            stmt = stmt.where(User.role == role)
        if after is not None:
            stmt = stmt.where(User.id > after)
        return list((await self.session.execute(stmt)).scalars())

    async def organisation_by_registration(
        self, country: str, registration_number: str
    ) -> Organisation | None:
        stmt = select(Organisation).where(
            Organisation.country == country,
            Organisation.registration_number == registration_number,
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()
