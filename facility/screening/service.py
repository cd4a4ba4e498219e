"""Screening: automatic checks re-run at the start, the call's checklist filled in by a fund
manager, then pass (to evaluation) or fail (ineligible, with reasons)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from facility import lifecycle
from facility.errors import Conflict, FieldError, InvalidInput, NotFound
from facility.lifecycle import Actor, EffectContext
from facility.proposals.models import Proposal
from facility.proposals.service import facts_for, get_proposal, guard_facts
from facility.screening.models import Screening
from workflows import proposal as proposal_workflow
from workflows.guards import GuardContext

# The submission rules, re-run as of the submission time and recorded.
AUTOMATIC_CHECKS: tuple[tuple[str, str], ...] = (
    ("within_submission_window", "Submitted within the call's window"),
    ("proposal_complete", "Complete"),
    ("within_call_limits", "Amount, duration and co-financing within the call's limits"),
    ("applicant_eligible", "Organisation type eligible"),
    ("countries_eligible", "Target countries eligible"),
    ("priority_in_scope", "Primary priority within the call's scope"),
    ("required_attachments_present", "Required attachments present"),
    ("amount_within_concept_note_range", "Amount within 20 % of the concept note's"),
)


def run_automatic_checks(
    subject: dict[str, Any], facts: dict[str, Any], submitted_at: datetime
) -> list[dict[str, Any]]:
    ctx = GuardContext(subject=subject, role="system", now=submitted_at, facts=facts)
    results = []
    for guard_id, label in AUTOMATIC_CHECKS:
        refusals = list(proposal_workflow.guards[guard_id](ctx))
        results.append(
            {"id": guard_id, "label": label, "passed": not refusals,
             "details": [r.detail for r in refusals]}
        )  # fmt: skip
    return results


async def current_screening(session: AsyncSession, proposal: Proposal) -> Screening | None:
    stmt = select(Screening).where(
        Screening.proposal_id == proposal.id, Screening.stage == proposal.stage
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def screening_facts(screening: Screening | None) -> dict[str, Any]:
    if screening is None:
        return {"checklist": [], "automatic_checks": []}
    return {"checklist": screening.checklist, "automatic_checks": screening.automatic_checks}


async def get_screening(
    session: AsyncSession, actor: Actor, proposal_id: uuid.UUID
) -> tuple[Proposal, Screening]:
    proposal = await get_proposal(session, actor, proposal_id)
    screening = await current_screening(session, proposal)
    if screening is None:
        raise NotFound("The proposal has not been screened at this stage yet")
    return proposal, screening


async def record_checklist(
    session: AsyncSession,
    actor: Actor,
    proposal_id: uuid.UUID,
    items: Sequence[dict[str, Any]],
    now: datetime,
) -> tuple[Proposal, Screening]:
    """Save the fund manager's checklist results; starts screening if it had not started."""
    proposal = await get_proposal(session, actor, proposal_id, lock=True)
    if proposal.status == "submitted":
        facts = await guard_facts(session, proposal, "start_screening")
        await lifecycle.fire(session, proposal, "start_screening", actor, now=now, facts=facts)
    if proposal.status != "screening":
        raise Conflict(
            f"The proposal is {proposal.status}, not in screening", state=proposal.status
        )
    screening = await current_screening(session, proposal)
    assert screening is not None
    known = {item["id"]: item for item in screening.checklist}
    errors: list[FieldError] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if item["id"] not in known:
            errors.append(
                FieldError(("items", i, "id"), f"The call has no checklist item {item['id']!r}")
            )
        elif item["id"] in seen:
            errors.append(FieldError(("items", i, "id"), "Each item may appear once", "duplicate"))
        seen.add(item["id"])
        if item.get("passed") is False and not (item.get("note") or "").strip():
            errors.append(
                FieldError(("items", i, "note"), "A failed item needs a note", "required")
            )
    if errors:
        raise InvalidInput(errors)
    given = {item["id"]: item for item in items}
    screening.checklist = [
        {**entry, "passed": given[entry["id"]].get("passed") if entry["id"] in given else None,
         "note": given[entry["id"]].get("note") if entry["id"] in given else None}
        for entry in screening.checklist
    ]  # fmt: skip
    screening.updated_at = now
    screening.updated_by_id = actor.id
    await session.flush()
    await lifecycle.record(
        session, subject_type="proposal", subject_id=proposal.id,
        event="proposal.screening_recorded", actor=actor, now=now,
        payload={"items": [{"id": i["id"], "passed": i["passed"], "note": i["note"]}
                           for i in screening.checklist]},
    )  # fmt: skip
    return proposal, screening


@facts_for("pass_screening")
async def _screening_facts(session: AsyncSession, proposal: Proposal) -> dict[str, Any]:
    return {"screening": screening_facts(await current_screening(session, proposal))}


@lifecycle.effect("proposal", "open_screening")
async def _open_screening(ctx: EffectContext) -> None:
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    assert proposal.submitted_at is not None
    if await current_screening(ctx.session, proposal) is not None:
        return
    facts = ctx.facts
    checks = run_automatic_checks(lifecycle.snapshot(proposal), dict(facts), proposal.submitted_at)
    checklist = [
        {"id": item["id"], "label": item["label"], "mandatory": item.get("mandatory", True),
         "passed": None, "note": None}
        for item in facts["call"]["screening_checklist"]
    ]  # fmt: skip
    ctx.session.add(
        Screening(
            proposal_id=proposal.id,
            stage=proposal.stage,
            automatic_checks=checks,
            checklist=checklist,
            started_at=ctx.now,
            updated_at=ctx.now,
            updated_by_id=ctx.actor.id,
        )
    )
    ctx.event_payload["automatic_checks_failed"] = [c["id"] for c in checks if not c["passed"]]


@lifecycle.effect("proposal", "close_screening")
async def _close_screening(ctx: EffectContext) -> None:
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    screening = await current_screening(ctx.session, proposal)
    assert screening is not None
    screening.outcome = "passed" if ctx.trigger == "pass_screening" else "failed"
    screening.decided_at = ctx.now
