from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, File, Form, Query, Response, UploadFile, status
from fastapi.responses import FileResponse

from api.deps import (
    ApplicantActor,
    ExpectedVersion,
    FundManagerActor,
    Now,
    ProposalParty,
    ServicesDep,
    Session,
    etag,
)
from api.files import DOWNLOAD_RESPONSES, chunks, download
from api.pagination import Pagination, check_statuses, next_cursor
from api.presenters import grant_out, history_out, payment_out, report_out
from api.problems import responses
from api.schemas.common import Page, Slug
from api.schemas.grants import (
    AwardPlanOut,
    AwardPlanRowOut,
    GrantOut,
    GrantTransitionIn,
    PaymentOut,
    PaymentTransitionIn,
    ReportAttachmentOut,
    ReportIn,
    ReportOut,
    ReportTransitionIn,
)
from api.schemas.proposals import HistoryEntryOut
from facility.audit.repository import AuditRepository
from facility.audit.views import view_for
from facility.awards.service import award_plan
from facility.grants import service
from facility.grants.models import Grant, Report
from facility.lifecycle import Actor
from workflows.grant import GRANT

router = APIRouter(prefix="/api/v1", tags=["grants"])
# File uploads: the app includes these with the attachment size as their body limit.
uploads = APIRouter(prefix="/api/v1", tags=["grants"])


@router.post(
    "/calls/{call_id}/award-plan",
    response_model=AwardPlanOut,
    responses=responses(401, 403, 404),
    summary="Walk the ranking against the envelope: award, reserve or nothing (no side effects)",
)
async def plan(call_id: uuid.UUID, actor: FundManagerActor, session: Session) -> AwardPlanOut:
    result = await award_plan(session, call_id)
    return AwardPlanOut(
        call_id=result.call.id,
        currency=result.call.currency,
        budget_envelope=result.call.budget_envelope,
        remaining_envelope=result.remaining_before,
        rows=[
            AwardPlanRowOut(
                rank=r.row.rank,
                proposal_id=r.row.proposal.id,
                reference=r.row.proposal.reference,
                title=r.row.proposal.title,
                status=r.row.proposal.status,
                total=r.row.result.total,
                requested_amount=r.row.requested_amount,
                action=r.action,
                remaining_after=r.remaining_after,
            )
            for r in result.rows
        ],
    )


async def _grant_view(session: Session, grant: Grant, actor: Actor, response: Response) -> GrantOut:
    response.headers["ETag"] = etag(grant.version)
    return grant_out(grant, actor.role)


@router.get(
    "/grants",
    response_model=Page[GrantOut],
    responses=responses(401, 403, 422),
    summary="Grants: a grantee's own, or all for fund managers",
)
async def list_grants(
    actor: ProposalParty,
    session: Session,
    page: Pagination,
    call_id: uuid.UUID | None = None,
    status_: Annotated[list[str] | None, Query(alias="status", max_length=10)] = None,
) -> Page[GrantOut]:
    check_statuses(status_, GRANT.state_names)
    rows = await service.list_grants(
        session, actor, call_id=call_id, statuses=status_, after=page.after, limit=page.limit + 1
    )
    return Page[GrantOut](
        items=[grant_out(g, actor.role) for g in rows[: page.limit]],
        next_cursor=next_cursor([g.id for g in rows], page.limit),
    )


@router.get("/grants/{grant_id}", response_model=GrantOut, responses=responses(401, 403, 404))
async def get_grant(
    grant_id: uuid.UUID, actor: ProposalParty, session: Session, response: Response
) -> GrantOut:
    return await _grant_view(
        session, await service.get_grant(session, actor, grant_id), actor, response
    )


@router.post(
    "/grants/{grant_id}/transitions",
    response_model=GrantOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Sign, suspend, resume, start closure, close or terminate (fund manager)",
)
async def transition_grant(
    grant_id: uuid.UUID,
    body: Annotated[GrantTransitionIn, Body()],
    actor: FundManagerActor,
    session: Session,
    now: Now,
    response: Response,
) -> GrantOut:
    grant = await service.transition_grant(
        session, actor, grant_id, body.trigger,
        payload=body.model_dump(exclude={"trigger", "comment"}), comment=body.comment, now=now,
    )  # fmt: skip
    return await _grant_view(session, grant, actor, response)


@router.get(
    "/grants/{grant_id}/history",
    response_model=list[HistoryEntryOut],
    responses=responses(401, 403, 404),
)
async def grant_history(
    grant_id: uuid.UUID, actor: ProposalParty, session: Session
) -> list[HistoryEntryOut]:
    grant = await service.get_grant(session, actor, grant_id)
    events = await AuditRepository(session).timeline("grant", grant.id)
    view = view_for(actor.role, events)
    return [history_out(e) for e in view]


@router.get(
    "/grants/{grant_id}/reports",
    response_model=list[ReportOut],
    responses=responses(401, 403, 404),
)
async def grant_reports(
    grant_id: uuid.UUID, actor: ProposalParty, session: Session, now: Now
) -> list[ReportOut]:
    grant = await service.get_grant(session, actor, grant_id)
    return [
        report_out(r, await service.report_attachments(session, r.id), actor.role, now, grant)
        for r in await service.reports_of(session, grant.id)
    ]


@router.get(
    "/grants/{grant_id}/payments",
    response_model=list[PaymentOut],
    responses=responses(401, 403, 404),
)
async def grant_payments(
    grant_id: uuid.UUID, actor: ProposalParty, session: Session
) -> list[PaymentOut]:
    grant = await service.get_grant(session, actor, grant_id)
    return [payment_out(p, actor.role) for p in await service.payments_of(session, grant.id)]


@router.get(
    "/reports",
    response_model=Page[ReportOut],
    responses=responses(401, 403, 422),
    summary="Reports you may see; `overdue=true` lists those past their due date",
)
async def list_reports(
    actor: ProposalParty,
    session: Session,
    now: Now,
    page: Pagination,
    grant_id: uuid.UUID | None = None,
    overdue: bool = False,
) -> Page[ReportOut]:
    rows = await service.list_reports(
        session, actor, grant_id=grant_id, overdue_on=now.date() if overdue else None,
        limit=page.limit + 1, after=page.after,
    )  # fmt: skip
    items = []
    for r in rows[: page.limit]:
        grant = await session.get(Grant, r.grant_id)
        assert grant is not None
        files = await service.report_attachments(session, r.id)
        items.append(report_out(r, files, actor.role, now, grant))
    return Page[ReportOut](
        items=items,
        next_cursor=next_cursor([r.id for r in rows], page.limit),
    )


async def _report_view(
    session: Session, report: Report, actor: Actor, now: Now, response: Response
) -> ReportOut:
    response.headers["ETag"] = etag(report.version)
    grant = await session.get(Grant, report.grant_id)
    assert grant is not None
    files = await service.report_attachments(session, report.id)
    return report_out(report, files, actor.role, now, grant)


@router.get("/reports/{report_id}", response_model=ReportOut, responses=responses(401, 403, 404))
async def get_report(
    report_id: uuid.UUID, actor: ProposalParty, session: Session, now: Now, response: Response
) -> ReportOut:
    report, _ = await service.get_report(session, actor, report_id)
    return await _report_view(session, report, actor, now, response)


@router.put(
    "/reports/{report_id}",
    response_model=ReportOut,
    responses=responses(401, 403, 404, 409, 412, 422, 428),
    summary="Save the report's draft: progress per indicator, spending, narrative "
    "(grantee; If-Match with the ETag you read)",
)
async def save_report(
    report_id: uuid.UUID,
    body: ReportIn,
    actor: ProposalParty,
    version: ExpectedVersion,
    session: Session,
    now: Now,
    response: Response,
) -> ReportOut:
    report, _ = await service.save_report(
        session, actor, report_id, body.model_dump(mode="python"), now, expected_version=version
    )
    return await _report_view(session, report, actor, now, response)


@router.get(
    "/reports/{report_id}/history",
    response_model=list[HistoryEntryOut],
    responses=responses(401, 403, 404),
    summary="The report's timeline (the grantee sees the reasons given to it)",
)
async def report_history(
    report_id: uuid.UUID, actor: ProposalParty, session: Session
) -> list[HistoryEntryOut]:
    report, _ = await service.get_report(session, actor, report_id)
    events = await AuditRepository(session).timeline("report", report.id)
    view = view_for(actor.role, events)
    return [history_out(e) for e in view]


@router.post(
    "/reports/{report_id}/transitions",
    response_model=ReportOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Submit (grantee), approve or request a revision (fund manager)",
)
async def transition_report(
    report_id: uuid.UUID,
    body: Annotated[ReportTransitionIn, Body()],
    actor: ProposalParty,
    session: Session,
    now: Now,
    response: Response,
) -> ReportOut:
    report, _ = await service.transition_report(
        session, actor, report_id, body.trigger,
        payload=body.model_dump(exclude={"trigger", "comment"}), comment=body.comment, now=now,
    )  # fmt: skip
    return await _report_view(session, report, actor, now, response)


@uploads.post(
    "/reports/{report_id}/attachments",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportAttachmentOut,
    responses=responses(401, 403, 404, 409, 413, 415, 422),
    summary="Attach a file to a report being prepared (grantee)",
)
async def add_report_attachment(
    report_id: uuid.UUID,
    kind: Annotated[Slug, Form()],
    file: Annotated[UploadFile, File()],
    actor: ApplicantActor,
    svc: ServicesDep,
    session: Session,
    now: Now,
    response: Response,
) -> ReportAttachmentOut:
    attachment = await service.add_report_attachment(
        session, svc.store, actor, report_id, kind=kind, filename=file.filename or "",
        chunks=chunks(file), max_bytes=svc.settings.attachment_max_bytes, now=now,
    )  # fmt: skip
    response.headers["Location"] = f"/api/v1/reports/{report_id}/attachments/{attachment.id}"
    return ReportAttachmentOut.model_validate(attachment)


@router.get(
    "/reports/{report_id}/attachments/{attachment_id}",
    response_class=FileResponse,
    responses=DOWNLOAD_RESPONSES,
)
async def download_report_attachment(
    report_id: uuid.UUID,
    attachment_id: uuid.UUID,
    actor: ProposalParty,
    svc: ServicesDep,
    session: Session,
) -> FileResponse:
    attachment = await service.get_report_attachment(session, actor, report_id, attachment_id)
    return download(svc.store, attachment)


@router.get("/payments/{payment_id}", response_model=PaymentOut, responses=responses(401, 403, 404))
async def get_payment(payment_id: uuid.UUID, actor: ProposalParty, session: Session) -> PaymentOut:
    payment, _ = await service.get_payment(session, actor, payment_id)
    return payment_out(payment, actor.role)


@router.get(
    "/payments/{payment_id}/history",
    response_model=list[HistoryEntryOut],
    responses=responses(401, 403, 404),
)
async def payment_history(
    payment_id: uuid.UUID, actor: ProposalParty, session: Session
) -> list[HistoryEntryOut]:
    payment, _ = await service.get_payment(session, actor, payment_id)
    events = await AuditRepository(session).timeline("payment", payment.id)
    return [history_out(e) for e in view_for(actor.role, events)]


@router.post(
    "/payments/{payment_id}/transitions",
    response_model=PaymentOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Record a payment, or waive the balance with a reason (fund manager)",
)
async def transition_payment(
    payment_id: uuid.UUID,
    body: Annotated[PaymentTransitionIn, Body()],
    actor: FundManagerActor,
    session: Session,
    now: Now,
) -> PaymentOut:
    payment, _ = await service.transition_payment(
        session, actor, payment_id, body.trigger,
        payload=body.model_dump(exclude={"trigger", "comment"}), comment=body.comment, now=now,
    )  # fmt: skip
    return payment_out(payment, actor.role)
