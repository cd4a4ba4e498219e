"""Registration, staff accounts and sign-in."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from facility.errors import Conflict, FieldError, InvalidInput, NotFound
from facility.identity.models import Organisation, Role, User
from facility.identity.passwords import Passwords
from facility.identity.repository import UserRepository, normalise_email

MIN_PASSWORD_LENGTH = 12


def password_problems(
    password: str, email: str, loc: tuple[str, ...] = ("password",)
) -> list[FieldError]:
    errors = []
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.append(
            FieldError(loc, f"Use at least {MIN_PASSWORD_LENGTH} characters", "too_short")
        )
    if normalise_email(email) in password.lower():
        errors.append(FieldError(loc, "The password must not contain the email address"))
    return errors


async def _new_user(
    session: AsyncSession,
    passwords: Passwords,
    *,
    email: str,
    password: str,
    full_name: str,
    role: Role,
    preferred_language: str,
    organisation: Organisation | None,
    now: datetime,
) -> User:
    errors = password_problems(password, email)
    if errors:
        raise InvalidInput(errors)
    repo = UserRepository(session)
    if await repo.by_email(email) is not None:
        raise Conflict("An account with this email address already exists")
    # Argon2 is deliberately slow: keep it off the event loop.
    password_hash = await asyncio.to_thread(passwords.hash, password)
    user = User(
        email=normalise_email(email),
        full_name=full_name,
        password_hash=password_hash,
        role=role.value,
        preferred_language=preferred_language,
        organisation=organisation,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    return user


async def register_applicant(
    session: AsyncSession,
    passwords: Passwords,
    *,
    email: str,
    password: str,
    full_name: str,
    preferred_language: str,
    organisation: Mapping[str, Any],
    now: datetime,
) -> User:
    """Self-registration: a new applicant with a new organisation.

    Joining an organisation that is already registered would let anyone read its
    proposals, so it is refused: a second account for an organisation is a support request to
    the facility's admins, who can vouch for the person.
    """
    repo = UserRepository(session)
    existing = await repo.organisation_by_registration(
        organisation["country"], organisation["registration_number"]
    )
    if existing is not None:
        raise Conflict(
            "This organisation is already registered; ask the facility to add you to it",
        )
    org = Organisation(**organisation, created_at=now)
    session.add(org)
    return await _new_user(
        session, passwords, email=email, password=password, full_name=full_name,
        role=Role.applicant, preferred_language=preferred_language, organisation=org, now=now,
    )  # fmt: skip


async def create_staff_user(
    session: AsyncSession,
    passwords: Passwords,
    *,
    email: str,
    password: str,
    full_name: str,
    role: Role,
    preferred_language: str,
    now: datetime,
) -> User:
    if role is Role.applicant:
        raise InvalidInput(
            [FieldError(("role",), "Applicants register themselves with their organisation")]
        )
    return await _new_user(
        session, passwords, email=email, password=password, full_name=full_name, role=role,
        preferred_language=preferred_language, organisation=None, now=now,
    )  # fmt: skip


async def authenticate(
    session: AsyncSession, passwords: Passwords, email: str, password: str
) -> User | None:
    user = await UserRepository(session).by_email(email)
    ok = await asyncio.to_thread(passwords.verify, user.password_hash if user else None, password)
    if user is None or not ok or not user.is_active:
        return None
    return user


async def set_active(session: AsyncSession, user_id: uuid.UUID, active: bool) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise NotFound("No such user")
    user.is_active = active
    await session.flush()
    return user


PROFILE_FIELDS = frozenset({"full_name", "preferred_language", "reminders_opt_out"})


async def update_profile(session: AsyncSession, user: User, changes: Mapping[str, Any]) -> User:
    """A user's own settings (name, language, reminders); ``None`` leaves a field as it is."""
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:  # role, e-mail, activity are never a user's own to change
        raise InvalidInput([FieldError((name,), "Not a profile setting") for name in unknown])
    for name, value in changes.items():
        if value is not None:
            setattr(user, name, value)
    await session.flush()
    return user
