"""Evaluations: drafts, final submission, consolidation into a result; ranking and shortlist."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from facility import lifecycle
from facility.calls.grids import Grid
from facility.calls.models import Call
from facility.calls.repository import CallRepository
from facility.errors import Conflict, DeclarationRequired, InvalidInput, NotFound
from facility.evaluation import ranking as ranking_rules
from facility.evaluation import scoring
from facility.evaluation.assignments import EVALUATING, own_assignment
from facility.evaluation.models import Assignment, Evaluation, EvaluationResult
from facility.evaluation.repository import COUNTED, EvaluationRepository
from facility.lifecycle import SYSTEM_ACTOR, Actor, EffectContext
from facility.proposals.models import Proposal
from facility.proposals.service import facts_for, get_proposal, guard_facts
from workflows.proposal import CONCEPT_NOTE

EVALUATION_FIELDS = (
    "scores", "section_comments", "gender_marker", "gender_justification",
    "climate_adaptation_marker", "climate_adaptation_justification",
    "climate_mitigation_marker", "climate_mitigation_justification",
    "primary_priority_confirmed", "strengths", "weaknesses", "recommendation",
)  # fmt: skip


def grid_for(call: Call, stage: str) -> Grid:
    if stage == CONCEPT_NOTE:
        assert call.concept_note_grid is not None
        return call.concept_note_grid
    return call.evaluation_grid


def _as_dict(evaluation: Evaluation | None) -> dict[str, Any]:
    if evaluation is None:
        return {}
    return {name: getattr(evaluation, name) for name in EVALUATION_FIELDS}


def _set_scores(evaluation: Evaluation, grid: Grid) -> None:
    result = scoring.weighted(grid, evaluation.scores)
    evaluation.section_scores = {k: str(v) for k, v in result.sections.items()}
    evaluation.total = result.total


async def _writable(
    session: AsyncSession, actor: Actor, assignment_id: uuid.UUID
) -> tuple[Assignment, Call]:
    assignment = await own_assignment(session, actor, assignment_id, lock=True)
    if actor.id != assignment.evaluator_id:
        raise NotFound("No such assignment")
    if assignment.status == "assigned":
        raise DeclarationRequired("Declare impartiality and confidentiality first")
    if assignment.status != "active":
        raise Conflict(f"The assignment is {assignment.status}; the evaluation cannot change")
    call = await session.get(Call, assignment.call_id)
    assert call is not None
    return assignment, call


async def save_draft(
    session: AsyncSession,
    actor: Actor,
    assignment_id: uuid.UUID,
    fields: Mapping[str, Any],
    now: datetime,
) -> tuple[Assignment, Evaluation]:
    """Replace the draft (PUT). Values are checked against the grid; gaps are allowed."""
    assignment, call = await _writable(session, actor, assignment_id)
    grid = grid_for(call, assignment.stage)
    errors = scoring.evaluation_problems(grid, fields, final=False)
    if errors:
        raise InvalidInput(errors)
    evaluation = await EvaluationRepository(session).evaluation(assignment.id)
    if evaluation is None:
        evaluation = Evaluation(assignment_id=assignment.id, created_at=now, updated_at=now)
        session.add(evaluation)
    for name in EVALUATION_FIELDS:
        default: Any = {} if name in ("scores", "section_comments") else None
        setattr(evaluation, name, fields.get(name, default))
    evaluation.updated_at = now
    _set_scores(evaluation, grid)
    await session.flush()
    return assignment, evaluation


async def submit(
    session: AsyncSession, actor: Actor, assignment_id: uuid.UUID, now: datetime
) -> tuple[Assignment, Evaluation | None]:
    assignment, call = await _writable(session, actor, assignment_id)
    evaluation = await EvaluationRepository(session).evaluation(assignment.id)
    problems = scoring.evaluation_problems(
        grid_for(call, assignment.stage), _as_dict(evaluation), final=True
    )
    facts = {
        "evaluation_problems": [
            {"code": p.code, "detail": p.detail, "loc": list(p.loc)} for p in problems
        ],
        "evaluation": evaluation,
        "grid": grid_for(call, assignment.stage),
    }
    await lifecycle.fire(session, assignment, "submit_evaluation", actor, now=now, facts=facts)
    return assignment, evaluation


# An evaluation submitted, or a place given up (withdrawn, recused without a replacement):
# the proposal may now have all it waits for.
CONSOLIDATING_EVENTS = frozenset(
    {"assignment.evaluation_submitted", "assignment.withdrawn", "assignment.recused"}
)


@lifecycle.subscribe
async def _consolidate_when_complete(session: AsyncSession, event: Any, subject: Any) -> None:
    if event.event in CONSOLIDATING_EVENTS and isinstance(subject, Assignment):
        await consolidate_if_complete(session, subject.proposal_id, event.occurred_at)


@lifecycle.effect("assignment", "finalise_evaluation")
async def _finalise(ctx: EffectContext) -> None:
    assignment = ctx.subject
    assert isinstance(assignment, Assignment)
    evaluation: Evaluation = ctx.facts["evaluation"]
    _set_scores(evaluation, ctx.facts["grid"])
    evaluation.submitted_at = ctx.now
    evaluation.updated_at = ctx.now
    assignment.submitted_at = ctx.now
    ctx.event_payload["proposal_id"] = assignment.proposal_id


async def consolidate_if_complete(
    session: AsyncSession, proposal_id: uuid.UUID, now: datetime
) -> None:
    """Once every evaluator holding a place has submitted: arbitrate if the totals diverge
    beyond the call's threshold, otherwise consolidate and pass or reject on the scores."""
    proposal = await session.get(
        Proposal, proposal_id, with_for_update=True, populate_existing=True
    )
    assert proposal is not None
    if proposal.status not in EVALUATING:
        return
    call = await session.get(Call, proposal.call_id)
    assert call is not None
    repo = EvaluationRepository(session)
    held = [a for a in await repo.for_proposal(proposal.id, proposal.stage) if a.status in COUNTED]
    if any(a.status != "submitted" for a in held):
        return
    if sum(1 for a in held if not a.is_arbitration) < call.evaluators_per_proposal:
        return
    if proposal.status == "arbitration" and not any(a.is_arbitration for a in held):
        return
    grid = grid_for(call, proposal.stage)
    evaluations = await repo.evaluations(held)
    submitted = [
        scoring.Submitted(
            sections={k: Decimal(v) for k, v in evaluations[a.id].section_scores.items()},
            total=evaluations[a.id].total or Decimal(0),
            markers={m: getattr(evaluations[a.id], m) for m in scoring.MARKERS},
        )
        for a in held
    ]
    if proposal.status == "evaluation":
        spread = scoring.spread([s.total for s in submitted])
        limit = scoring.divergence_limit(grid, call.divergence_threshold_pct)
        if spread > limit:
            facts = await guard_facts(session, proposal, "request_arbitration")
            await lifecycle.fire(
                session, proposal, "request_arbitration", SYSTEM_ACTOR, now=now, facts=facts,
                payload={"divergence": {"spread": spread, "limit": limit}},
            )  # fmt: skip
            return
    result = scoring.consolidate(grid, submitted)
    trigger = "complete_evaluation" if result.passed else "reject_on_score"
    facts = await guard_facts(session, proposal, trigger)
    await lifecycle.fire(
        session, proposal, trigger, SYSTEM_ACTOR, now=now,
        payload={"reasons": result.reasons, "failures": result.failures,
                 "scores": result.breakdown()},
        facts={**facts, "result": result},
    )  # fmt: skip


@lifecycle.effect("proposal", "record_result")
async def _record_result(ctx: EffectContext) -> None:
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    result: scoring.Consolidated = ctx.facts["result"]
    ctx.session.add(
        EvaluationResult(
            proposal_id=proposal.id,
            call_id=proposal.call_id,
            stage=proposal.stage,
            section_scores={k: str(v) for k, v in result.sections.items()},
            total=result.total,
            spread=result.spread,
            evaluations_count=result.count,
            gender_marker=result.markers["gender_marker"],
            climate_adaptation_marker=result.markers["climate_adaptation_marker"],
            climate_mitigation_marker=result.markers["climate_mitigation_marker"],
            passed=result.passed,
            reasons=result.reasons,
            computed_at=ctx.now,
        )
    )


async def evaluation_of(
    session: AsyncSession, actor: Actor, assignment_id: uuid.UUID
) -> tuple[Assignment, Evaluation | None, Grid]:
    """An evaluator reads only their own evaluation; a fund manager any."""
    assignment = await own_assignment(session, actor, assignment_id)
    if actor.role == "evaluator" and assignment.status == "assigned":
        raise DeclarationRequired("Declare impartiality and confidentiality first")
    call = await session.get(Call, assignment.call_id)
    assert call is not None
    evaluation = await EvaluationRepository(session).evaluation(assignment.id)
    return assignment, evaluation, grid_for(call, assignment.stage)


def submit_problems(grid: Grid, evaluation: Evaluation | None) -> list[str]:
    return [p.detail for p in scoring.evaluation_problems(grid, _as_dict(evaluation), final=True)]


async def evaluations_of_proposal(
    session: AsyncSession, actor: Actor, proposal_id: uuid.UUID
) -> list[tuple[Assignment, Evaluation | None]]:
    proposal = await get_proposal(session, actor, proposal_id)
    repo = EvaluationRepository(session)
    assignments = await repo.for_proposal(proposal.id)
    evaluations = await repo.evaluations(assignments)
    return [(a, evaluations.get(a.id)) for a in assignments]


async def results_of_proposal(
    session: AsyncSession, actor: Actor, proposal_id: uuid.UUID
) -> list[EvaluationResult]:
    proposal = await get_proposal(session, actor, proposal_id)
    return await EvaluationRepository(session).results(proposal.id)


async def call_ranking(session: AsyncSession, call: Call, stage: str) -> ranking_rules.Ranking:
    inputs = await EvaluationRepository(session).ranked_inputs(call.id, stage)
    return ranking_rules.rank(call, stage, inputs)


async def ranking_for(
    session: AsyncSession, call_id: uuid.UUID, stage: str | None
) -> ranking_rules.Ranking:
    call = await CallRepository(session).get(call_id, include_drafts=True)
    if call is None:
        raise NotFound("No such call")
    if stage is None:
        stage = CONCEPT_NOTE if call.stages == "two_stage" else "full_application"
    if stage == CONCEPT_NOTE and call.stages != "two_stage":
        raise Conflict("A single-stage call has no concept-note stage")
    return await call_ranking(session, call, stage)


@facts_for("shortlist")
async def _ranking_facts(session: AsyncSession, proposal: Proposal) -> dict[str, Any]:
    call = await session.get(Call, proposal.call_id)
    assert call is not None
    ranked = await call_ranking(session, call, proposal.stage)
    row = ranked.row_for(proposal.id)
    return {
        "ranking_row": {"within_cut": row.within_cut} if row else None,
        "cut_percent": ranked.cut_percent,
    }


async def shortlist_within_cut(
    session: AsyncSession, actor: Actor, call_id: uuid.UUID, now: datetime
) -> list[Proposal]:
    """Shortlist every evaluated concept note above the 200 % cut, best first."""
    call = await CallRepository(session).get(call_id, include_drafts=True, lock=True)
    if call is None:
        raise NotFound("No such call")
    if call.stages != "two_stage":
        raise Conflict("Only two-stage calls shortlist concept notes")
    ranked = await call_ranking(session, call, CONCEPT_NOTE)
    shortlisted = []
    for row in ranked.rows:
        if not row.within_cut or row.proposal.status != "evaluated":
            continue
        proposal = await get_proposal(session, actor, row.proposal.id, lock=True)
        facts = await guard_facts(session, proposal, "shortlist")
        await lifecycle.fire(session, proposal, "shortlist", actor, now=now, facts=facts)
        shortlisted.append(proposal)
    return shortlisted


def breakdown_of(result: EvaluationResult, grid: Grid) -> dict[str, Any]:
    """A stored result as the score breakdown an applicant is given."""
    return {
        "sections": dict(result.section_scores),
        "total": str(result.total),
        "markers": {m: getattr(result, m) for m in scoring.MARKERS},
        "labels": {s["id"]: s["label"] for s in grid["sections"]},
    }


@lifecycle.effect("proposal", "attach_scores")
async def _attach_scores(ctx: EffectContext) -> None:
    """A decision after evaluation tells the applicant how the proposal scored."""
    proposal = ctx.subject
    assert isinstance(proposal, Proposal)
    result = await EvaluationRepository(ctx.session).result(proposal.id, proposal.stage)
    call = await ctx.session.get(Call, proposal.call_id)
    if result is not None and call is not None:
        ctx.event_payload["scores"] = breakdown_of(result, grid_for(call, proposal.stage))
