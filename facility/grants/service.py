"""Grants: opened by an award, signed, reported on, paid, closed or terminated."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from facility import lifecycle
from facility.attachments import sniff
from facility.attachments.service import receive_file
from facility.attachments.storage import ContentStore
from facility.awards import envelope
from facility.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from facility.evaluation.models import EvaluationResult
from facility.grants import schedule
from facility.grants.models import Grant, Payment, Report, ReportAttachment
from facility.lifecycle import SYSTEM_ACTOR, Actor, EffectContext
from facility.proposals.models import Proposal
from facility.stateful import loaded_in_step

_S = TypeVar("_S", bound=Select[Any])


def grants_visible_to(stmt: _S, actor: Actor) -> _S:
    """Grantees see their own organisation's grants; fund managers all."""
    if actor.role == "fund_manager":
        return stmt
    if actor.role == "applicant" and actor.organisation_id is not None:
        return stmt.where(Grant.organisation_id == actor.organisation_id)
    return stmt.where(Grant.id.is_(None))


async def get_grant(
    session: AsyncSession, actor: Actor, grant_id: uuid.UUID, *, lock: bool = False
) -> Grant:
    stmt = grants_visible_to(select(Grant).where(Grant.id == grant_id), actor)
    if lock:
        stmt = stmt.with_for_update(of=Grant).execution_options(populate_existing=True)
    grant = (await session.execute(stmt)).scalar_one_or_none()
    if grant is None:
        raise NotFound("No such grant")
    return grant


async def list_grants(
    session: AsyncSession,
    actor: Actor,
    *,
    call_id: uuid.UUID | None,
    statuses: Sequence[str] | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Grant]:
    stmt = grants_visible_to(select(Grant), actor).order_by(Grant.id.desc()).limit(limit)
    if call_id is not None:
        stmt = stmt.where(Grant.call_id == call_id)
    if statuses:
        stmt = stmt.where(Grant.status.in_(statuses))
    if after is not None:
        stmt = stmt.where(Grant.id < after)
    return list((await session.execute(stmt)).scalars())


async def grant_of_proposal(session: AsyncSession, proposal_id: uuid.UUID) -> Grant | None:
    stmt = select(Grant).where(Grant.proposal_id == proposal_id).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def reports_of(session: AsyncSession, grant_id: uuid.UUID) -> list[Report]:
    stmt = select(Report).where(Report.grant_id == grant_id).order_by(Report.sequence)
    return list((await session.execute(stmt)).scalars())


async def payments_of(session: AsyncSession, grant_id: uuid.UUID) -> list[Payment]:
    stmt = select(Payment).where(Payment.grant_id == grant_id).order_by(Payment.sequence)
    return list((await session.execute(stmt)).scalars())


async def open_grant(
    session: AsyncSession, proposal: Proposal, amount: Decimal, currency: str, now: datetime
) -> Grant:
    """The grant an award creates, from the proposal and its consolidated result."""
    result = (
        await session.execute(
            select(EvaluationResult).where(
                EvaluationResult.proposal_id == proposal.id,
                EvaluationResult.stage == proposal.stage,
            )
        )
    ).scalar_one_or_none()
    assert proposal.duration_months is not None
    assert proposal.reference is not None
    start = proposal.planned_start or now.date()
    grant = Grant(
        reference=f"GA-{proposal.reference}",
        proposal_id=proposal.id,
        call_id=proposal.call_id,
        organisation_id=proposal.organisation_id,
        title=proposal.title or proposal.reference,
        amount=amount,
        currency=currency,
        duration_months=proposal.duration_months,
        planned_start=start,
        planned_end=schedule.last_day(start, proposal.duration_months),
        priorities=[p for p in [proposal.primary_priority, *proposal.secondary_priorities] if p],
        countries=list(proposal.country_shares),
        gender_marker=result.gender_marker if result else proposal.gender_marker or 0,
        climate_adaptation_marker=(
            result.climate_adaptation_marker if result else proposal.climate_adaptation_marker or 0
        ),
        climate_mitigation_marker=(
            result.climate_mitigation_marker if result else proposal.climate_mitigation_marker or 0
        ),
        created_at=now,
        updated_at=now,
    )
    session.add(grant)
    await session.flush()
    return grant


async def grant_facts(session: AsyncSession, grant: Grant) -> dict[str, Any]:
    reports = await reports_of(session, grant.id)
    final = next((r for r in reports if r.kind == "final"), None)
    return {
        "final_report_status": final.status if final else "not scheduled",
        "payments": [
            {"sequence": p.sequence, "kind": p.kind, "amount": str(p.amount), "status": p.status}
            for p in await payments_of(session, grant.id)
        ],
    }


async def transition_grant(
    session: AsyncSession,
    actor: Actor,
    grant_id: uuid.UUID,
    trigger: str,
    *,
    payload: Mapping[str, Any],
    comment: str | None,
    now: datetime,
) -> Grant:
    grant = await get_grant(session, actor, grant_id)
    # Lock order: a proposal before its grant. Declining an award locks the proposal and then
    # ends the grant; signing, terminating here take the same order, so they queue instead of
    # deadlocking.
    await session.execute(
        select(Proposal.id).where(Proposal.id == grant.proposal_id).with_for_update()
    )
    grant = await get_grant(session, actor, grant_id, lock=True)
    facts = await grant_facts(session, grant)
    await lifecycle.fire(
        session, grant, trigger, actor, now=now, payload=payload, comment=comment, facts=facts
    )
    return grant


# --- grant effects ------------------------------------------------------------------------


@lifecycle.effect("grant", "record_signature")
async def _record_signature(ctx: EffectContext) -> None:
    grant = ctx.subject
    assert isinstance(grant, Grant)
    grant.signed_on = ctx.payload["signed_on"]
    grant.start_date = max(grant.planned_start, ctx.payload["signed_on"])
    grant.end_date = schedule.last_day(grant.start_date, grant.duration_months)
    grant.updated_at = ctx.now


@lifecycle.effect("grant", "schedule_reports")
async def _schedule_reports(ctx: EffectContext) -> None:
    grant = ctx.subject
    assert isinstance(grant, Grant)
    assert grant.start_date is not None
    for planned in schedule.reporting_schedule(grant.start_date, grant.duration_months):
        ctx.session.add(
            Report(
                grant_id=grant.id, kind=planned.kind, sequence=planned.sequence,
                period_start=planned.period_start, period_end=planned.period_end,
                due_on=planned.due_on, created_at=ctx.now, updated_at=ctx.now,
            )
        )  # fmt: skip


@lifecycle.effect("grant", "schedule_payments")
async def _schedule_payments(ctx: EffectContext) -> None:
    grant = ctx.subject
    assert isinstance(grant, Grant)
    assert grant.signed_on is not None
    payments = []
    plan = schedule.payment_schedule(
        grant.amount, grant.duration_months, grant.signed_on, grant.currency
    )
    for planned in plan:
        payment = Payment(
            grant_id=grant.id, kind=planned.kind, sequence=planned.sequence,
            amount=planned.amount, unlocked_by_report=planned.unlocked_by_report,
            due_on=planned.due_on, created_at=ctx.now, updated_at=ctx.now,
        )  # fmt: skip
        ctx.session.add(payment)
        payments.append(payment)
    await ctx.session.flush()
    for payment in payments:
        if payment.unlocked_by_report is None:  # the first pre-financing: due at signature
            await lifecycle.fire(ctx.session, payment, "fall_due", SYSTEM_ACTOR, now=ctx.now)


async def _give_back_unpaid(ctx: EffectContext, grant: Grant) -> Decimal:
    unpaid = grant.amount - grant.paid_total - grant.released_amount
    if unpaid > 0:
        left = await envelope.release(ctx.session, grant.call_id, unpaid)
        grant.released_amount += unpaid
        ctx.event_payload["returned_to_envelope"] = unpaid
        ctx.event_payload["remaining_envelope"] = left
    return unpaid


@lifecycle.effect("grant", "release_unspent")
async def _release_unspent(ctx: EffectContext) -> None:
    grant = ctx.subject
    assert isinstance(grant, Grant)
    grant.termination_reason = str(ctx.payload.get("reason") or "")
    grant.updated_at = ctx.now
    await _give_back_unpaid(ctx, grant)


@lifecycle.effect("grant", "cancel_open_schedules")
async def _cancel_open_schedules(ctx: EffectContext) -> None:
    """Terminated or closed: reports and payments still open are no longer owed."""
    grant = ctx.subject
    assert isinstance(grant, Grant)
    for report in await reports_of(ctx.session, grant.id):
        if report.status in ("due", "submitted", "revision_requested"):
            await lifecycle.fire(ctx.session, report, "cancel", SYSTEM_ACTOR, now=ctx.now)
    for payment in await payments_of(ctx.session, grant.id):
        if payment.status in ("scheduled", "due"):
            await lifecycle.fire(ctx.session, payment, "cancel", SYSTEM_ACTOR, now=ctx.now)


@lifecycle.effect("grant", "contract_award")
async def _contract_award(ctx: EffectContext) -> None:
    """Signed: the award offer is accepted for good (no more decline, no lapse)."""
    grant = ctx.subject
    assert isinstance(grant, Grant)
    proposal = await ctx.session.get(Proposal, grant.proposal_id, with_for_update=True)
    assert proposal is not None
    if proposal.status == "awarded":
        await lifecycle.fire(ctx.session, proposal, "contract", SYSTEM_ACTOR, now=ctx.now)


@lifecycle.effect("grant", "revoke_unsigned_award")
async def _revoke_unsigned_award(ctx: EffectContext) -> None:
    """A grant the facility terminates before signature takes the award with it (unless the
    termination comes from the applicant's decline or the offer's lapse, already under way)."""
    grant = ctx.subject
    assert isinstance(grant, Grant)
    if ctx.source != "contracting":
        return
    proposal = await ctx.session.get(Proposal, grant.proposal_id, with_for_update=True)
    assert proposal is not None
    if proposal.status == "awarded":
        await lifecycle.fire(
            ctx.session, proposal, "revoke_award", SYSTEM_ACTOR, now=ctx.now,
            payload={"reasons": [str(ctx.payload.get("reason") or "The grant was terminated")]},
        )  # fmt: skip
        # The applicant hears of it once, as the revoked award (which carries the reason).
        ctx.event_payload["reason_code"] = "award_revoked"


@lifecycle.effect("grant", "release_waived_balance")
async def _release_waived_balance(ctx: EffectContext) -> None:
    grant = ctx.subject
    assert isinstance(grant, Grant)
    grant.closed_at = ctx.now
    grant.updated_at = ctx.now
    await _give_back_unpaid(ctx, grant)


# --- reports ------------------------------------------------------------------------------


def reports_visible_to(stmt: _S, actor: Actor) -> _S:
    return grants_visible_to(stmt.join(Grant, Grant.id == Report.grant_id), actor)


async def get_report(
    session: AsyncSession, actor: Actor, report_id: uuid.UUID, *, lock: bool = False
) -> tuple[Report, Grant]:
    stmt = reports_visible_to(select(Report).where(Report.id == report_id), actor)
    if lock:
        # The grant too: a report decision reads and changes the grant (suspension, closure).
        stmt = stmt.with_for_update(of=(Report, Grant))
    report = (await session.execute(stmt)).scalar_one_or_none()
    if report is None:
        raise NotFound("No such report")
    grant = await session.get(Grant, report.grant_id)
    assert grant is not None
    return report, grant


async def list_reports(
    session: AsyncSession,
    actor: Actor,
    *,
    grant_id: uuid.UUID | None,
    overdue_on: Any | None,
    limit: int,
    after: uuid.UUID | None,
) -> list[Report]:
    stmt = reports_visible_to(select(Report), actor).order_by(Report.id.desc()).limit(limit)
    if grant_id is not None:
        stmt = stmt.where(Report.grant_id == grant_id)
    if overdue_on is not None:
        stmt = stmt.where(
            Report.status == "due", Report.due_on < overdue_on, Grant.status.in_(RUNNING)
        )
    if after is not None:
        stmt = stmt.where(Report.id < after)
    return list((await session.execute(stmt)).scalars())


async def _indicators(session: AsyncSession, grant: Grant) -> dict[str, dict[str, Any]]:
    proposal = await session.get(Proposal, grant.proposal_id)
    assert proposal is not None
    logframe = proposal.logframe or {}
    return {
        ind["code"]: ind
        for outcome in logframe.get("outcomes", [])
        for ind in outcome.get("indicators", [])
    }


def _number(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _progress_problems(
    indicators: Mapping[str, Mapping[str, Any]],
    progress: Sequence[Mapping[str, Any]],
    *,
    final: bool,
) -> list[FieldError]:
    errors = []
    seen: set[str] = set()
    for i, entry in enumerate(progress):
        code = entry["code"]
        if code not in indicators:
            errors.append(FieldError(("indicator_progress", i, "code"), f"No indicator {code!r}"))
            continue
        if code in seen:
            errors.append(
                FieldError(("indicator_progress", i, "code"), "Reported twice", "duplicate")
            )
        seen.add(code)
        women, men = _number(entry.get("women")), _number(entry.get("men"))
        if indicators[code].get("sex_disaggregated"):
            if final and (women is None or men is None):
                errors.append(
                    FieldError(
                        ("indicator_progress", i),
                        f"Indicator {code} is sex-disaggregated: report women and men",
                        "required",
                    )
                )
            if women is not None and men is not None and women + men > Decimal(str(entry["value"])):
                errors.append(
                    FieldError(("indicator_progress", i), "women + men exceeds the value")
                )
    if final:
        for code in indicators:
            if code not in seen:
                errors.append(
                    FieldError(
                        ("indicator_progress",), f"No progress for indicator {code}", "required"
                    )
                )
    return errors


async def save_report(
    session: AsyncSession,
    actor: Actor,
    report_id: uuid.UUID,
    fields: Mapping[str, Any],
    now: datetime,
    *,
    expected_version: int,
) -> tuple[Report, Grant]:
    """The grantee's draft of a report (PUT replaces it; no lost updates between colleagues)."""
    report, grant = await get_report(session, actor, report_id, lock=True)
    if actor.role != "applicant":
        raise Forbidden("Only the grantee writes its reports")
    if report.version != expected_version:
        raise PreconditionFailed("The report has changed since you read it", version=report.version)
    if not lifecycle.is_editable(report):
        raise Conflict(f"The report is {report.status} and cannot be edited", state=report.status)
    errors = _progress_problems(
        await _indicators(session, grant), fields.get("indicator_progress") or [], final=False
    )
    if errors:
        raise InvalidInput(errors)
    report.narrative = fields.get("narrative")
    report.spent_to_date = fields.get("spent_to_date")
    # Stored as JSON with numbers as strings: exact, whatever the database.
    report.indicator_progress = [
        {k: str(v) if isinstance(v, Decimal) else v for k, v in entry.items()}
        for entry in fields.get("indicator_progress") or []
    ]
    report.updated_at = now
    await session.flush()
    return report, grant


async def transition_report(
    session: AsyncSession,
    actor: Actor,
    report_id: uuid.UUID,
    trigger: str,
    *,
    payload: Mapping[str, Any],
    comment: str | None,
    now: datetime,
) -> tuple[Report, Grant]:
    report, grant = await get_report(session, actor, report_id, lock=True)
    problems = _progress_problems(
        await _indicators(session, grant), report.indicator_progress, final=True
    )
    if not (report.narrative or "").strip():
        problems.append(FieldError(("narrative",), "A narrative is required", "required"))
    if report.spent_to_date is None:
        problems.append(FieldError(("spent_to_date",), "Spending to date is required", "required"))
    facts = {
        "grant_status": grant.status,
        "report_problems": [
            {"code": p.code, "detail": p.detail, "loc": list(p.loc)} for p in problems
        ],
        "grant": grant,
    }
    await lifecycle.fire(
        session, report, trigger, actor, now=now, payload=payload, comment=comment, facts=facts
    )
    return report, grant


RUNNING = ("active", "suspended", "closing")


def is_overdue(report: Report, now: datetime, grant_status: str) -> bool:
    """Late and not yet handed in, on a grant still running. A report sent back for revision
    was handed in (on time or not, that was judged then): it is not overdue again."""
    return report.status == "due" and report.due_on < now.date() and grant_status in RUNNING


@lifecycle.effect("report", "stamp_report_submission")
async def _stamp_submission(ctx: EffectContext) -> None:
    report = ctx.subject
    assert isinstance(report, Report)
    report.submitted_at = ctx.now
    report.updated_at = ctx.now


@lifecycle.effect("report", "stamp_report_approval")
async def _stamp_approval(ctx: EffectContext) -> None:
    report = ctx.subject
    assert isinstance(report, Report)
    report.approved_at = ctx.now
    report.updated_at = ctx.now


@lifecycle.effect("report", "unlock_payments")
async def _unlock_payments(ctx: EffectContext) -> None:
    """An approved interim report may unlock the next instalment (≥ 70 % of the previous one
    spent, and all before it); the approved final report makes the balance due."""
    report = ctx.subject
    assert isinstance(report, Report)
    grant: Grant = ctx.facts["grant"]
    payments = await payments_of(ctx.session, grant.id)
    pre = [p for p in payments if p.kind == "pre_financing"]
    due_on = ctx.now.date() + timedelta(days=schedule.PAYMENT_DAYS)
    if report.kind == "interim":
        for payment in pre:
            if payment.status != "scheduled" or (payment.unlocked_by_report or 0) > report.sequence:
                continue
            earlier = [p.amount for p in pre if p.sequence < payment.sequence]
            needed = schedule.unlock_threshold(earlier)
            spent = report.spent_to_date or Decimal(0)
            if spent < needed:
                ctx.event_payload["instalment_locked"] = {
                    "sequence": payment.sequence, "spent_to_date": spent, "required": needed,
                }  # fmt: skip
                break
            payment.due_on = due_on
            await lifecycle.fire(ctx.session, payment, "fall_due", SYSTEM_ACTOR, now=ctx.now)
            ctx.event_payload["instalment_unlocked"] = payment.sequence
        return
    # The final report: instalments never unlocked are no longer owed; the balance is the rest.
    for payment in pre:
        if payment.status == "scheduled":
            await lifecycle.fire(ctx.session, payment, "cancel", SYSTEM_ACTOR, now=ctx.now)
    balance = next(p for p in payments if p.kind == "balance")
    if balance.status != "scheduled":  # already waived (or cancelled): nothing falls due
        ctx.event_payload["balance"] = None
        return
    outstanding = sum((p.amount for p in pre if p.status == "due"), Decimal(0))
    balance.amount = grant.amount - grant.paid_total - grant.released_amount - outstanding
    balance.due_on = due_on
    await lifecycle.fire(ctx.session, balance, "fall_due", SYSTEM_ACTOR, now=ctx.now)
    ctx.event_payload["balance"] = balance.amount


# --- payments -----------------------------------------------------------------------------


async def get_payment(
    session: AsyncSession, actor: Actor, payment_id: uuid.UUID, *, lock: bool = False
) -> tuple[Payment, Grant]:
    stmt = grants_visible_to(
        select(Payment).join(Grant, Grant.id == Payment.grant_id).where(Payment.id == payment_id),
        actor,
    )
    if lock:
        stmt = stmt.with_for_update(of=Payment)
    payment = (await session.execute(stmt)).scalar_one_or_none()
    if payment is None:
        raise NotFound("No such payment")
    grant = await session.get(Grant, payment.grant_id)
    assert grant is not None
    return payment, grant


async def transition_payment(
    session: AsyncSession,
    actor: Actor,
    payment_id: uuid.UUID,
    trigger: str,
    *,
    payload: Mapping[str, Any],
    comment: str | None,
    now: datetime,
) -> tuple[Payment, Grant]:
    payment, grant = await get_payment(session, actor, payment_id, lock=True)
    if trigger == "pay" and payload.get("amount") is None:
        payload = {**payload, "amount": payment.amount}
    await lifecycle.fire(
        session, payment, trigger, actor, now=now, payload=payload, comment=comment,
        facts={"grant": grant, "signed_on": grant.signed_on},
    )  # fmt: skip
    if trigger == "waive":
        payment.waiver_reason = str(payload.get("reason"))
    return payment, grant


@lifecycle.effect("payment", "record_payment")
async def _record_payment(ctx: EffectContext) -> None:
    """The sum paid never exceeds the grant: one conditional UPDATE (and a CHECK)."""
    payment = ctx.subject
    assert isinstance(payment, Payment)
    amount: Decimal = ctx.payload["amount"]
    row = (
        await ctx.session.execute(
            update(Grant)
            .where(Grant.id == payment.grant_id, Grant.paid_total + amount <= Grant.amount)
            .values(paid_total=Grant.paid_total + amount, version=Grant.version + 1)
            .returning(Grant.paid_total, Grant.version)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        raise Conflict("This payment would take the total paid above the grant's amount")
    paid = row.paid_total
    # Keep a loaded grant (and its ETag) in step with the row.
    loaded_in_step(ctx.session, Grant, payment.grant_id, paid_total=paid, version=row.version)
    payment.paid_on = ctx.payload["paid_on"]
    payment.paid_amount = amount
    payment.updated_at = ctx.now
    ctx.event_payload["paid_total"] = paid


async def report_attachments(session: AsyncSession, report_id: uuid.UUID) -> list[ReportAttachment]:
    stmt = (
        select(ReportAttachment)
        .where(ReportAttachment.report_id == report_id)
        .order_by(ReportAttachment.uploaded_at, ReportAttachment.id)
    )
    return list((await session.execute(stmt)).scalars())


async def add_report_attachment(
    session: AsyncSession,
    store: ContentStore,
    actor: Actor,
    report_id: uuid.UUID,
    *,
    kind: str,
    filename: str,
    chunks: AsyncIterator[bytes],
    max_bytes: int,
    now: datetime,
) -> ReportAttachment:
    if actor.role != "applicant" or actor.id is None:
        raise Forbidden("Only the grantee attaches files to its reports")
    staged, media_type = await receive_file(store, filename, chunks, max_bytes)
    try:
        report, _ = await get_report(session, actor, report_id, lock=True)
        if not lifecycle.is_editable(report):
            raise Conflict(f"The report is {report.status}; its files are frozen")
        await asyncio.to_thread(store.commit, staged)
    finally:
        store.discard(staged)
    attachment = ReportAttachment(
        report_id=report.id, kind=kind, filename=sniff.safe_display_name(filename),
        media_type=media_type, size=staged.size, sha256=staged.sha256,
        uploaded_by_id=actor.id, uploaded_at=now,
    )  # fmt: skip
    session.add(attachment)
    report.updated_at = now
    await session.flush()
    return attachment


async def get_report_attachment(
    session: AsyncSession, actor: Actor, report_id: uuid.UUID, attachment_id: uuid.UUID
) -> ReportAttachment:
    report, _ = await get_report(session, actor, report_id)
    attachment = await session.get(ReportAttachment, attachment_id)
    if attachment is None or attachment.report_id != report.id:
        raise NotFound("No such attachment")
    return attachment
