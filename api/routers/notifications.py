from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from api.deps import AdminActor, Now, Session, require
from api.pagination import Pagination, next_cursor
from api.problems import responses
from api.schemas.common import Page
from api.schemas.notifications import CatalogueEntryOut, OutboxMessageOut
from facility.identity.models import Role
from facility.lifecycle import Actor
from facility.notifications import service
from facility.notifications.catalogue import REMINDERS, RULES

router = APIRouter(prefix="/api/v1", tags=["notifications"])

StaffActor = Annotated[Actor, Depends(require(Role.fund_manager, Role.admin))]


@router.get(
    "/notifications/catalogue",
    response_model=list[CatalogueEntryOut],
    responses=responses(401, 403),
    summary="Which event sends which message to whom (fund managers, admins)",
)
async def catalogue(actor: StaffActor) -> list[CatalogueEntryOut]:
    return [
        CatalogueEntryOut(event=r.event, message=r.message, recipients=r.recipients,
                          description=r.description, reminder=False)
        for r in RULES
    ] + [
        CatalogueEntryOut(event=None, message=r.message, recipients=r.recipients,
                          description=r.description, reminder=True)
        for r in REMINDERS
    ]  # fmt: skip


@router.get(
    "/outbox",
    response_model=Page[OutboxMessageOut],
    responses=responses(401, 403, 422),
    summary="Outgoing messages, e.g. the dead ones (admin)",
)
async def outbox(
    actor: AdminActor,
    session: Session,
    page: Pagination,
    status: Annotated[Literal["pending", "sending", "sent", "dead"] | None, Query()] = None,
) -> Page[OutboxMessageOut]:
    rows = await service.list_messages(session, status=status, after=page.after, limit=page.limit)
    return Page[OutboxMessageOut](
        items=[OutboxMessageOut.model_validate(m) for m in rows[: page.limit]],
        next_cursor=next_cursor([m.id for m in rows], page.limit),
    )


@router.post(
    "/outbox/{message_id}/retry",
    response_model=OutboxMessageOut,
    responses=responses(401, 403, 404, 409),
    summary="Send a dead message again (admin)",
)
async def retry(
    message_id: uuid.UUID, actor: AdminActor, session: Session, now: Now
) -> OutboxMessageOut:
    return OutboxMessageOut.model_validate(await service.retry(session, message_id, now))
