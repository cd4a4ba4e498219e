from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from api.deps import (
    AssignmentReader,
    EvaluatorActor,
    FundManagerActor,
    Now,
    Session,
)
from api.presenters import assignment_out, assignment_staff_out, evaluation_out, ranking_out
from api.problems import responses
from api.schemas.evaluation import (
    AssignIn,
    AssignmentOut,
    AssignmentStaffOut,
    AssignmentTransitionIn,
    AutoAssignOut,
    DeclarationIn,
    EvaluationIn,
    EvaluationOut,
    EvaluatorOut,
    EvaluatorProfileIn,
    EvaluatorProfileOut,
    RankingOut,
    ResultOut,
    StaffEvaluationOut,
)
from api.schemas.proposals import ProposalSummaryOut
from facility.calls.models import Call
from facility.errors import NotFound
from facility.evaluation import assignments, service
from facility.evaluation.models import Assignment
from facility.evaluation.repository import OPEN, EvaluationRepository
from facility.identity.models import User
from facility.lifecycle import Actor
from facility.proposals.models import Proposal

router = APIRouter(prefix="/api/v1", tags=["evaluation"])

Stage = Literal["concept_note", "full_application"]


async def _evaluator(session: Session, assignment: Assignment) -> User:
    user = await session.get(User, assignment.evaluator_id)
    assert user is not None
    return user


async def _assignment_view(
    session: Session, assignment: Assignment, actor: Actor, now: Now
) -> AssignmentOut:
    proposal = await session.get(Proposal, assignment.proposal_id)
    call = await session.get(Call, assignment.call_id)
    assert proposal is not None
    assert call is not None
    return assignment_out(assignment, proposal, call, actor.role, now)


@router.get(
    "/me/evaluator-profile",
    response_model=EvaluatorProfileOut,
    responses=responses(401, 403, 404),
    summary="Your evaluator profile (evaluator)",
)
async def get_profile(actor: EvaluatorActor, session: Session) -> EvaluatorProfileOut:
    assert actor.id is not None
    profile = await EvaluationRepository(session).profile(actor.id)
    if profile is None:
        raise NotFound("No profile yet: PUT one (expertise, languages, countries, affiliations)")
    return EvaluatorProfileOut.model_validate(profile)


@router.put(
    "/me/evaluator-profile",
    response_model=EvaluatorProfileOut,
    responses=responses(401, 403, 422),
    summary="Declare expertise, languages, countries and affiliations (evaluator)",
)
async def put_profile(
    body: EvaluatorProfileIn, actor: EvaluatorActor, session: Session, now: Now
) -> EvaluatorProfileOut:
    profile = await assignments.save_profile(session, actor, body.model_dump(mode="json"), now)
    return EvaluatorProfileOut.model_validate(profile)


@router.get(
    "/evaluators",
    response_model=list[EvaluatorOut],
    responses=responses(401, 403),
    summary="Evaluators with their profiles and open assignments (fund manager)",
)
async def list_evaluators(actor: FundManagerActor, session: Session) -> list[EvaluatorOut]:
    repo = EvaluationRepository(session)
    loads = await repo.loads(statuses=OPEN)
    return [
        EvaluatorOut(
            id=user.id,
            full_name=user.full_name,
            email=user.email,
            is_active=user.is_active,
            profile=EvaluatorProfileOut.model_validate(profile) if profile else None,
            open_assignments=loads.get(user.id, 0),
        )
        for user, profile in await repo.evaluators()
    ]


@router.post(
    "/calls/{call_id}/assignments/auto",
    response_model=AutoAssignOut,
    responses=responses(401, 403, 404),
    summary="Assign evaluators to every proposal in evaluation that lacks them (fund manager)",
)
async def auto_assign(
    call_id: uuid.UUID, actor: FundManagerActor, session: Session, now: Now
) -> AutoAssignOut:
    outcome = await assignments.auto_assign(session, actor, call_id, now)
    return AutoAssignOut(
        created=[
            assignment_staff_out(a, await _evaluator(session, a), now) for a in outcome.created
        ],
        unfilled={str(k): v for k, v in outcome.unfilled.items()},
    )


@router.post(
    "/proposals/{proposal_id}/assignments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssignmentStaffOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Assign one evaluator by hand (fund manager; conflicts need a justification)",
)
async def assign_by_hand(
    proposal_id: uuid.UUID, body: AssignIn, actor: FundManagerActor, session: Session, now: Now
) -> AssignmentStaffOut:
    assignment = await assignments.assign_by_hand(
        session, actor, proposal_id, body.evaluator_id, due_at=body.due_at,
        justification=body.justification, now=now,
    )  # fmt: skip
    return assignment_staff_out(assignment, await _evaluator(session, assignment), now)


@router.get(
    "/proposals/{proposal_id}/assignments",
    response_model=list[AssignmentStaffOut],
    responses=responses(401, 403, 404),
    summary="Every assignment of a proposal, with evaluators (fund manager)",
)
async def proposal_assignments(
    proposal_id: uuid.UUID, actor: FundManagerActor, session: Session, now: Now
) -> list[AssignmentStaffOut]:
    rows = await service.evaluations_of_proposal(session, actor, proposal_id)
    return [assignment_staff_out(a, await _evaluator(session, a), now) for a, _ in rows]


@router.get(
    "/me/assignments",
    response_model=list[AssignmentOut],
    responses=responses(401, 403),
    summary="Your evaluation queue with due dates (evaluator)",
)
async def my_assignments(actor: EvaluatorActor, session: Session, now: Now) -> list[AssignmentOut]:
    assert actor.id is not None
    queue = await EvaluationRepository(session).queue(actor.id)
    return [assignment_out(a, p, c, actor.role, now) for a, p, c in queue]


@router.get(
    "/assignments/{assignment_id}",
    response_model=AssignmentOut,
    responses=responses(401, 403, 404),
)
async def get_assignment(
    assignment_id: uuid.UUID, actor: AssignmentReader, session: Session, now: Now
) -> AssignmentOut:
    assignment = await assignments.own_assignment(session, actor, assignment_id)
    return await _assignment_view(session, assignment, actor, now)


@router.post(
    "/assignments/{assignment_id}/declaration",
    response_model=AssignmentOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Declare impartiality and confidentiality, or a conflict of interest (evaluator)",
)
async def declare(
    assignment_id: uuid.UUID, body: DeclarationIn, actor: EvaluatorActor, session: Session, now: Now
) -> AssignmentOut:
    assignment = await assignments.declare(
        session, actor, assignment_id, conflict_of_interest=body.conflict_of_interest,
        statement=body.statement, now=now,
    )  # fmt: skip
    return await _assignment_view(session, assignment, actor, now)


@router.post(
    "/assignments/{assignment_id}/transitions",
    response_model=AssignmentOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Withdraw an assignment (fund manager)",
)
async def transition_assignment(
    assignment_id: uuid.UUID,
    body: AssignmentTransitionIn,
    actor: FundManagerActor,
    session: Session,
    now: Now,
) -> AssignmentOut:
    assignment = await assignments.transition_assignment(
        session, actor, assignment_id, body.trigger, comment=body.comment, now=now
    )
    return await _assignment_view(session, assignment, actor, now)


@router.get(
    "/assignments/{assignment_id}/evaluation",
    response_model=EvaluationOut,
    responses=responses(401, 403, 404),
    summary="The evaluation of an assignment (its evaluator, or a fund manager)",
)
async def get_evaluation(
    assignment_id: uuid.UUID, actor: AssignmentReader, session: Session
) -> EvaluationOut:
    assignment, evaluation, grid = await service.evaluation_of(session, actor, assignment_id)
    return evaluation_out(assignment, evaluation, service.submit_problems(grid, evaluation))


@router.put(
    "/assignments/{assignment_id}/evaluation",
    response_model=EvaluationOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Save the evaluation draft (evaluator)",
)
async def save_evaluation(
    assignment_id: uuid.UUID, body: EvaluationIn, actor: EvaluatorActor, session: Session, now: Now
) -> EvaluationOut:
    assignment, evaluation = await service.save_draft(
        session, actor, assignment_id, body.model_dump(), now
    )
    _, _, grid = await service.evaluation_of(session, actor, assignment_id)
    return evaluation_out(assignment, evaluation, service.submit_problems(grid, evaluation))


@router.post(
    "/assignments/{assignment_id}/evaluation/submit",
    response_model=EvaluationOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Make the evaluation final (evaluator); every gap is listed if refused",
)
async def submit_evaluation(
    assignment_id: uuid.UUID, actor: EvaluatorActor, session: Session, now: Now
) -> EvaluationOut:
    assignment, evaluation = await service.submit(session, actor, assignment_id, now)
    return evaluation_out(assignment, evaluation, [])


@router.get(
    "/proposals/{proposal_id}/evaluations",
    response_model=list[StaffEvaluationOut],
    responses=responses(401, 403, 404),
    summary="All evaluations of a proposal with their evaluators (fund manager)",
)
async def proposal_evaluations(
    proposal_id: uuid.UUID, actor: FundManagerActor, session: Session, now: Now
) -> list[StaffEvaluationOut]:
    rows = await service.evaluations_of_proposal(session, actor, proposal_id)
    out = []
    for assignment, evaluation in rows:
        call = await session.get(Call, assignment.call_id)
        assert call is not None
        grid = service.grid_for(call, assignment.stage)
        missing = service.submit_problems(grid, evaluation)
        out.append(
            StaffEvaluationOut(
                assignment=assignment_staff_out(
                    assignment, await _evaluator(session, assignment), now
                ),
                evaluation=evaluation_out(assignment, evaluation, missing) if evaluation else None,
            )
        )
    return out


@router.get(
    "/proposals/{proposal_id}/results",
    response_model=list[ResultOut],
    responses=responses(401, 403, 404),
    summary="Consolidated results per stage (fund manager)",
)
async def proposal_results(
    proposal_id: uuid.UUID, actor: FundManagerActor, session: Session
) -> list[ResultOut]:
    return [
        ResultOut.model_validate(r)
        for r in await service.results_of_proposal(session, actor, proposal_id)
    ]


@router.get(
    "/calls/{call_id}/ranking",
    response_model=RankingOut,
    responses=responses(401, 403, 404, 409, 422),
    summary="Evaluated proposals ranked, with the cut line (fund manager)",
)
async def ranking(
    call_id: uuid.UUID,
    actor: FundManagerActor,
    session: Session,
    stage: Annotated[Stage | None, Query(description="Default: the call's first stage")] = None,
) -> RankingOut:
    return ranking_out(await service.ranking_for(session, call_id, stage))


@router.post(
    "/calls/{call_id}/shortlist",
    response_model=list[ProposalSummaryOut],
    responses=responses(401, 403, 404, 409),
    summary="Shortlist every evaluated concept note inside the 200 % cut (fund manager)",
)
async def shortlist(
    call_id: uuid.UUID, actor: FundManagerActor, session: Session, now: Now
) -> list[ProposalSummaryOut]:
    done = await service.shortlist_within_cut(session, actor, call_id, now)
    return [ProposalSummaryOut.model_validate(p) for p in done]
