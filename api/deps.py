"""Typed dependencies: the unit of work, the request's time, the caller and their role."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from facility.attachments.storage import ContentStore
from facility.clock import Clock
from facility.db.engine import Database
from facility.errors import Forbidden, PreconditionFailed, PreconditionRequired, Unauthenticated
from facility.identity.models import Role, User
from facility.identity.passwords import Passwords
from facility.identity.repository import UserRepository
from facility.identity.tokens import Tokens
from facility.lifecycle import Actor
from facility.settings import Settings


@dataclass
class Services:
    """What the app factory builds once and every request shares."""

    settings: Settings
    clock: Clock
    db: Database
    passwords: Passwords
    tokens: Tokens
    store: ContentStore


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


ServicesDep = Annotated[Services, Depends(services)]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def unit_of_work(request: Request, svc: ServicesDep) -> AsyncIterator[AsyncSession]:
    """The request is the unit of work: services flush, this commits (or rolls back) before
    the response is sent, so a client never sees success for something not committed."""
    write = request.method not in SAFE_METHODS
    async with svc.db.unit_of_work(write=write) as session:
        yield session


# scope="function": the exit code (the commit) runs before the response is sent, and its
# errors reach the exception handlers as problems.
Session = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


def request_time(svc: ServicesDep) -> datetime:
    """The time the request is judged at (deadlines, stamps): read once, on arrival."""
    return svc.clock.now()


Now = Annotated[datetime, Depends(request_time)]

_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def optional_user(
    token: Annotated[str | None, Depends(_bearer)], session: Session, svc: ServicesDep, now: Now
) -> User | None:
    if token is None:
        return None
    user_id = svc.tokens.subject(token, now)
    user = await UserRepository(session).get(user_id)
    if user is None or not user.is_active:
        raise Unauthenticated("The account is unknown or deactivated")
    return user


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise Unauthenticated("Sign in first: POST /api/v1/auth/token, then send the bearer token")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
OptionalUser = Annotated[User | None, Depends(optional_user)]


def actor_of(user: User) -> Actor:
    return Actor(id=user.id, role=user.role, organisation_id=user.organisation_id)


def require(*roles: Role) -> Callable[[User], Coroutine[Any, Any, Actor]]:
    allowed = frozenset(roles)

    async def dependency(user: CurrentUser) -> Actor:
        if user.role not in allowed:
            raise Forbidden(f"This needs the role {' or '.join(sorted(r.value for r in allowed))}")
        return actor_of(user)

    return dependency


ApplicantActor = Annotated[Actor, Depends(require(Role.applicant))]
FundManagerActor = Annotated[Actor, Depends(require(Role.fund_manager))]
AdminActor = Annotated[Actor, Depends(require(Role.admin))]
EvaluatorActor = Annotated[Actor, Depends(require(Role.evaluator))]
# Who may read proposals at all; which ones is decided per object (organisation, assignment).
ProposalReader = Annotated[
    Actor, Depends(require(Role.applicant, Role.evaluator, Role.fund_manager))
]
# Applicants and fund managers act on proposals and read their history; evaluators do not.
ProposalParty = Annotated[Actor, Depends(require(Role.applicant, Role.fund_manager))]
AssignmentReader = Annotated[Actor, Depends(require(Role.evaluator, Role.fund_manager))]


_VERSION_TAG = re.compile(r'"v([0-9]{1,15})"')  # ASCII digits only: "v²" is not a version


def etag(version: int) -> str:
    return f'"v{version}"'


def expected_version(
    if_match: Annotated[str | None, Header(description="The ETag from your last GET")] = None,
) -> int:
    """The version an If-Match header names; 428 without one (lost updates are not allowed)."""
    if if_match is None:
        raise PreconditionRequired("Send If-Match with the ETag from your last GET")
    for candidate in if_match.split(","):
        tag = candidate.strip()  # weak tags (W/"...") never match: If-Match compares strongly
        match = _VERSION_TAG.fullmatch(tag)
        if match:
            return int(match.group(1))
    raise PreconditionFailed("If-Match names no version of this resource")


ExpectedVersion = Annotated[int, Depends(expected_version)]
