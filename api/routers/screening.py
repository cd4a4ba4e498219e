from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.deps import FundManagerActor, Now, Session
from api.presenters import screening_out
from api.problems import responses
from api.schemas.screening import ScreeningIn, ScreeningOut
from facility.screening import service

router = APIRouter(prefix="/api/v1/proposals/{proposal_id}/screening", tags=["screening"])


@router.put(
    "",
    response_model=ScreeningOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Record the checklist results (fund manager); starts screening if needed",
)
async def record_screening(
    proposal_id: uuid.UUID, body: ScreeningIn, actor: FundManagerActor, session: Session, now: Now
) -> ScreeningOut:
    items = [item.model_dump() for item in body.items]
    proposal, screening = await service.record_checklist(session, actor, proposal_id, items, now)
    return screening_out(proposal, screening)


@router.get(
    "",
    response_model=ScreeningOut,
    responses=responses(401, 403, 404),
    summary="The screening at the proposal's current stage (fund manager)",
)
async def get_screening(
    proposal_id: uuid.UUID, actor: FundManagerActor, session: Session
) -> ScreeningOut:
    proposal, screening = await service.get_screening(session, actor, proposal_id)
    return screening_out(proposal, screening)
