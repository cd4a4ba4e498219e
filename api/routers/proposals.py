from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, File, Form, Header, Query, Response, UploadFile, status
from fastapi.responses import FileResponse

from api.deps import (
    ApplicantActor,
    ExpectedVersion,
    Now,
    ProposalParty,
    ProposalReader,
    ServicesDep,
    Session,
    etag,
)
from api.files import DOWNLOAD_RESPONSES, chunks, download
from api.pagination import Pagination, check_statuses, next_cursor
from api.presenters import history_out, proposal_out
from api.problems import responses
from api.schemas.common import Page, Slug
from api.schemas.proposals import (
    AttachmentOut,
    HistoryEntryOut,
    ProposalFieldsIn,
    ProposalOut,
    ProposalSummaryOut,
    ProposalTransitionIn,
    SubmissionOut,
)
from facility.attachments import service as attachments
from facility.lifecycle import Actor
from facility.proposals import service
from facility.proposals.models import Proposal
from facility.proposals.repository import ProposalRepository
from facility.proposals.service import history, submissions
from workflows.proposal import PROPOSAL

router = APIRouter(prefix="/api/v1", tags=["proposals"])
# File uploads: the app includes these with the attachment size as their body limit.
uploads = APIRouter(prefix="/api/v1", tags=["proposals"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Retries with the same key return the same proposal",
    ),
]


async def _present(
    session: Session, proposal: Proposal, actor: Actor, response: Response
) -> ProposalOut:
    files = await ProposalRepository(session).attachments(proposal.id)
    response.headers["ETag"] = etag(proposal.version)
    return proposal_out(proposal, files, actor)


@router.post(
    "/calls/{call_id}/proposals",
    status_code=status.HTTP_201_CREATED,
    response_model=ProposalOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Start a draft proposal under an open call (applicant; honours Idempotency-Key)",
)
async def create_proposal(
    call_id: uuid.UUID,
    body: ProposalFieldsIn,
    actor: ApplicantActor,
    session: Session,
    now: Now,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> ProposalOut:
    proposal, replayed = await service.create_proposal(
        session, actor, call_id, body.changes(), idempotency_key=idempotency_key, now=now
    )
    if replayed:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/proposals/{proposal.id}"
    return await _present(session, proposal, actor, response)


@router.get(
    "/proposals",
    response_model=Page[ProposalSummaryOut],
    responses=responses(401, 403, 422),
    summary="Proposals you may see: your organisation's, or all for fund managers",
)
async def list_proposals(
    actor: ProposalReader,
    session: Session,
    page: Pagination,
    call_id: uuid.UUID | None = None,
    status_: Annotated[list[str] | None, Query(alias="status", max_length=20)] = None,
) -> Page[ProposalSummaryOut]:
    check_statuses(status_, PROPOSAL.state_names)
    rows = await ProposalRepository(session).page(
        actor, call_id=call_id, statuses=status_, after=page.after, limit=page.limit + 1
    )
    return Page[ProposalSummaryOut](
        items=[ProposalSummaryOut.model_validate(p) for p in rows[: page.limit]],
        next_cursor=next_cursor([p.id for p in rows], page.limit),
    )


@router.get(
    "/proposals/{proposal_id}", response_model=ProposalOut, responses=responses(401, 403, 404)
)
async def get_proposal(
    proposal_id: uuid.UUID, actor: ProposalReader, session: Session, response: Response
) -> ProposalOut:
    proposal = await service.get_proposal(session, actor, proposal_id)
    return await _present(session, proposal, actor, response)


@router.patch(
    "/proposals/{proposal_id}",
    response_model=ProposalOut,
    responses=responses(401, 403, 404, 409, 412, 422, 428),
    summary="Edit a draft (applicant; If-Match with the ETag you read)",
)
async def update_proposal(
    proposal_id: uuid.UUID,
    body: ProposalFieldsIn,
    actor: ProposalParty,
    version: ExpectedVersion,
    session: Session,
    now: Now,
    response: Response,
) -> ProposalOut:
    proposal = await service.update_proposal(
        session, actor, proposal_id, body.changes(), expected_version=version, now=now
    )
    return await _present(session, proposal, actor, response)


@router.post(
    "/proposals/{proposal_id}/transitions",
    response_model=ProposalOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Fire a workflow trigger (submit, withdraw, ...)",
)
async def transition_proposal(
    proposal_id: uuid.UUID,
    body: Annotated[ProposalTransitionIn, Body()],
    actor: ProposalParty,
    session: Session,
    now: Now,
    response: Response,
) -> ProposalOut:
    payload = body.model_dump(mode="python", exclude={"trigger", "comment"})
    proposal, _ = await service.transition_proposal(
        session, actor, proposal_id, body.trigger, payload=payload, comment=body.comment, now=now
    )
    return await _present(session, proposal, actor, response)


@router.get(
    "/proposals/{proposal_id}/history",
    response_model=list[HistoryEntryOut],
    responses=responses(401, 403, 404),
    summary="The proposal's audit trail (applicants see their side of it)",
)
async def proposal_history(
    proposal_id: uuid.UUID, actor: ProposalParty, session: Session
) -> list[HistoryEntryOut]:
    return [history_out(e) for e in await history(session, actor, proposal_id)]


@router.get(
    "/proposals/{proposal_id}/submissions",
    response_model=list[SubmissionOut],
    responses=responses(401, 403, 404),
    summary="Receipts with the frozen content of each submission",
)
async def proposal_submissions(
    proposal_id: uuid.UUID, actor: ProposalReader, session: Session
) -> list[SubmissionOut]:
    return [SubmissionOut.model_validate(s) for s in await submissions(session, actor, proposal_id)]


@uploads.post(
    "/proposals/{proposal_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=AttachmentOut,
    responses=responses(401, 403, 404, 409, 413, 415, 422),
    summary="Attach a PDF, DOCX, XLSX, ODT or ODS file to a draft (applicant)",
)
async def add_attachment(
    proposal_id: uuid.UUID,
    kind: Annotated[Slug, Form(description="What the file is, e.g. budget, logframe")],
    file: Annotated[UploadFile, File()],
    actor: ApplicantActor,
    svc: ServicesDep,
    session: Session,
    now: Now,
    response: Response,
) -> AttachmentOut:
    attachment = await attachments.add_attachment(
        session, svc.store, actor, proposal_id, kind=kind, filename=file.filename or "",
        chunks=chunks(file), max_bytes=svc.settings.attachment_max_bytes, now=now,
    )  # fmt: skip
    response.headers["Location"] = f"/api/v1/proposals/{proposal_id}/attachments/{attachment.id}"
    return AttachmentOut.model_validate(attachment)


@router.get(
    "/proposals/{proposal_id}/attachments/{attachment_id}",
    response_class=FileResponse,
    responses=DOWNLOAD_RESPONSES,
    summary="Download an attachment (same access as the proposal)",
)
async def download_attachment(
    proposal_id: uuid.UUID,
    attachment_id: uuid.UUID,
    actor: ProposalReader,
    svc: ServicesDep,
    session: Session,
) -> FileResponse:
    _, attachment = await attachments.get_attachment(session, actor, proposal_id, attachment_id)
    return download(svc.store, attachment)


@router.delete(
    "/proposals/{proposal_id}/attachments/{attachment_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 409),
    summary="Remove an attachment from a draft (applicant)",
)
async def remove_attachment(
    proposal_id: uuid.UUID,
    attachment_id: uuid.UUID,
    actor: ApplicantActor,
    session: Session,
    now: Now,
) -> Response:
    await attachments.remove_attachment(session, actor, proposal_id, attachment_id, now=now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
