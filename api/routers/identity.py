from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import AdminActor, CurrentUser, Now, ServicesDep, Session
from api.pagination import Pagination, next_cursor
from api.problems import responses
from api.schemas.common import Page
from api.schemas.identity import (
    MeUpdateIn,
    RegisterIn,
    StaffUserIn,
    TokenOut,
    UserOut,
    UserStatusIn,
)
from facility.errors import Conflict, Unauthenticated
from facility.identity import service
from facility.identity.models import Role
from facility.identity.repository import UserRepository

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.post(
    "/auth/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=responses(409, 422),
    summary="Register an applicant organisation and its first user",
)
async def register(body: RegisterIn, svc: ServicesDep, session: Session, now: Now) -> UserOut:
    user = await service.register_applicant(
        session,
        svc.passwords,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        preferred_language=body.preferred_language,
        organisation=body.organisation.model_dump(),
        now=now,
    )
    return UserOut.model_validate(user)


@router.post(
    "/auth/token",
    response_model=TokenOut,
    responses=responses(401, 422),
    summary="Exchange email and password for a bearer token (OAuth2 password flow)",
)
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    svc: ServicesDep,
    session: Session,
    now: Now,
    response: Response,
) -> TokenOut:
    if (
        len(form.username) > 254
        or len(form.password) > 128
        or any(ord(ch) < 32 or 127 <= ord(ch) <= 159 for ch in form.username)
    ):
        raise Unauthenticated("Wrong email or password")
    user = await service.authenticate(session, svc.passwords, form.username, form.password)
    if user is None:
        raise Unauthenticated("Wrong email or password")
    issued = svc.tokens.issue(user.id, user.role, now)
    response.headers["Cache-Control"] = "no-store"
    return TokenOut(
        access_token=issued.token, expires_in=int((issued.expires_at - now).total_seconds())
    )


@router.get("/me", response_model=UserOut, responses=responses(401))
async def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.patch("/me", response_model=UserOut, responses=responses(401, 422))
async def update_me(body: MeUpdateIn, user: CurrentUser, session: Session) -> UserOut:
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    return UserOut.model_validate(await service.update_profile(session, user, changes))


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=responses(401, 403, 409, 422),
    summary="Create an evaluator, fund manager or admin account (admin)",
)
async def create_user(
    body: StaffUserIn, actor: AdminActor, svc: ServicesDep, session: Session, now: Now
) -> UserOut:
    user = await service.create_staff_user(
        session,
        svc.passwords,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        role=Role(body.role),
        preferred_language=body.preferred_language,
        now=now,
    )
    return UserOut.model_validate(user)


@router.get("/users", response_model=Page[UserOut], responses=responses(401, 403, 422))
async def list_users(
    actor: AdminActor,
    session: Session,
    page: Pagination,
    role: Annotated[Role | None, Query()] = None,
) -> Page[UserOut]:
    users = await UserRepository(session).page(
        role=role.value if role else None, after=page.after, limit=page.limit + 1
    )
    return Page[UserOut](
        items=[UserOut.model_validate(u) for u in users[: page.limit]],
        next_cursor=next_cursor([u.id for u in users], page.limit),
    )


@router.patch(
    "/users/{user_id}",
    response_model=UserOut,
    responses=responses(401, 403, 404, 422),
    summary="Activate or deactivate an account (admin)",
)
async def set_user_status(
    user_id: uuid.UUID, body: UserStatusIn, actor: AdminActor, session: Session
) -> UserOut:
    if user_id == actor.id and not body.is_active:
        raise Conflict("Admins cannot deactivate their own account")
    user = await service.set_active(session, user_id, body.is_active)
    return UserOut.model_validate(user)
