from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response, status

from api.deps import (
    ExpectedVersion,
    FundManagerActor,
    Now,
    OptionalUser,
    Session,
    etag,
)
from api.pagination import Pagination, check_statuses, next_cursor
from api.presenters import call_out, history_out
from api.problems import responses
from api.schemas.calls import NOT_NULLABLE, CallCreateIn, CallOut, CallTransitionIn, CallUpdateIn
from api.schemas.common import Page
from api.schemas.proposals import HistoryEntryOut
from facility.audit.repository import AuditRepository
from facility.audit.views import staff_view
from facility.calls import service
from facility.calls.repository import CallRepository
from facility.errors import FieldError, InvalidInput
from facility.identity.models import Role
from workflows.call import CALL

router = APIRouter(prefix="/api/v1/calls", tags=["calls"])

STAFF_READERS = frozenset({Role.fund_manager, Role.admin})


def _grid(value: Any) -> Any:
    return value.model_dump(mode="json") if value is not None else None


def _fields(body: CallCreateIn | CallUpdateIn) -> dict[str, Any]:
    data = {name: getattr(body, name) for name in body.model_fields_set}
    for grid in ("concept_note_grid", "evaluation_grid"):
        if grid in data:
            data[grid] = _grid(data[grid])
    if data.get("screening_checklist") is not None:
        data["screening_checklist"] = [i.model_dump() for i in body.screening_checklist or []]
    if "priorities" in data and data["priorities"] is not None:
        data["priorities"] = [str(p) for p in data["priorities"]]
    return data


@router.get(
    "",
    response_model=Page[CallOut],
    responses=responses(422),
    summary="List calls (public: not drafts)",
)
async def list_calls(
    session: Session,
    user: OptionalUser,
    now: Now,
    page: Pagination,
    status_: Annotated[list[str] | None, Query(alias="status", max_length=10)] = None,
) -> Page[CallOut]:
    check_statuses(status_, CALL.state_names)
    staff = user is not None and user.role in STAFF_READERS
    calls = await CallRepository(session).page(
        include_drafts=staff, statuses=status_, after=page.after, limit=page.limit + 1
    )
    role = user.role if user else None
    return Page[CallOut](
        items=[call_out(c, role, now) for c in calls[: page.limit]],
        next_cursor=next_cursor([c.id for c in calls], page.limit),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CallOut,
    responses=responses(401, 403, 409, 422),
    summary="Create a draft call (fund manager)",
)
async def create_call(
    body: CallCreateIn, actor: FundManagerActor, session: Session, now: Now, response: Response
) -> CallOut:
    data = {name: getattr(body, name) for name in CallCreateIn.model_fields}
    data.update(_fields(body))
    data["concept_note_grid"] = _grid(body.concept_note_grid)
    data["evaluation_grid"] = _grid(body.evaluation_grid)
    data["priorities"] = [str(p) for p in body.priorities]
    data["screening_checklist"] = [i.model_dump() for i in body.screening_checklist]
    call = await service.create_call(session, actor, data, now)
    response.headers["Location"] = f"{router.prefix}/{call.id}"
    response.headers["ETag"] = etag(call.version)
    return call_out(call, actor.role, now)


@router.get("/{call_id}", response_model=CallOut, responses=responses(404, 422))
async def get_call(
    call_id: uuid.UUID, session: Session, user: OptionalUser, now: Now, response: Response
) -> CallOut:
    staff = user is not None and user.role in STAFF_READERS
    call = await service.get_call(session, call_id, staff=staff)
    response.headers["ETag"] = etag(call.version)
    return call_out(call, user.role if user else None, now)


@router.patch(
    "/{call_id}",
    response_model=CallOut,
    responses=responses(401, 403, 404, 409, 412, 422, 428),
    summary="Edit a draft call (fund manager, If-Match required)",
)
async def update_call(
    call_id: uuid.UUID,
    body: CallUpdateIn,
    actor: FundManagerActor,
    version: ExpectedVersion,
    session: Session,
    now: Now,
    response: Response,
) -> CallOut:
    nulled = sorted(n for n in body.model_fields_set & NOT_NULLABLE if getattr(body, n) is None)
    if nulled:
        raise InvalidInput([FieldError(("body", n), "This field cannot be null") for n in nulled])
    call = await service.update_call(
        session, actor, call_id, _fields(body), expected_version=version, now=now
    )
    response.headers["ETag"] = etag(call.version)
    return call_out(call, actor.role, now)


@router.post(
    "/{call_id}/transitions",
    response_model=CallOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Publish, extend the deadline, close, finalise or cancel (fund manager)",
)
async def transition_call(
    call_id: uuid.UUID,
    body: Annotated[CallTransitionIn, Body()],
    actor: FundManagerActor,
    session: Session,
    now: Now,
    response: Response,
) -> CallOut:
    payload = body.model_dump(exclude={"trigger", "comment"})
    call = await service.transition_call(
        session, actor, call_id, body.trigger, payload=payload, comment=body.comment, now=now
    )
    response.headers["ETag"] = etag(call.version)
    return call_out(call, actor.role, now)


@router.get(
    "/{call_id}/history",
    response_model=list[HistoryEntryOut],
    responses=responses(401, 403, 404),
    summary="The call's audit trail (fund manager)",
)
async def call_history(
    call_id: uuid.UUID, actor: FundManagerActor, session: Session
) -> list[HistoryEntryOut]:
    call = await service.get_call(session, call_id, staff=True)
    events = await AuditRepository(session).timeline("call", call.id)
    return [history_out(entry) for entry in staff_view(events)]
