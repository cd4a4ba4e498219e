from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from facility.calls.models import Call
from facility.evaluation.models import Assignment, Evaluation, EvaluationResult, EvaluatorProfile
from facility.identity.models import User
from facility.proposals.models import Proposal, ProposalSubmission

# Assignments that hold one of a proposal's evaluator places.
COUNTED = ("assigned", "active", "submitted")
OPEN = ("assigned", "active")


class EvaluationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def profile(self, user_id: uuid.UUID) -> EvaluatorProfile | None:
        return await self.session.get(EvaluatorProfile, user_id)

    async def evaluators(self) -> list[tuple[User, EvaluatorProfile | None]]:
        stmt = (
            select(User, EvaluatorProfile)
            .outerjoin(EvaluatorProfile, EvaluatorProfile.user_id == User.id)
            .where(User.role == "evaluator")
            .order_by(User.id)
        )
        return [(u, p) for u, p in (await self.session.execute(stmt)).all()]

    async def loads(
        self, call_id: uuid.UUID | None = None, statuses: Sequence[str] = COUNTED
    ) -> dict[uuid.UUID, int]:
        """Evaluator → number of assignments holding a place (in one call, or everywhere)."""
        stmt = (
            select(Assignment.evaluator_id, func.count())
            .where(Assignment.status.in_(statuses))
            .group_by(Assignment.evaluator_id)
        )
        if call_id is not None:
            stmt = stmt.where(Assignment.call_id == call_id)
        return {eid: n for eid, n in (await self.session.execute(stmt)).all()}

    async def for_proposal(
        self, proposal_id: uuid.UUID, stage: str | None = None
    ) -> list[Assignment]:
        stmt = select(Assignment).where(Assignment.proposal_id == proposal_id)
        if stage is not None:
            stmt = stmt.where(Assignment.stage == stage)
        return list(
            (
                await self.session.execute(stmt.order_by(Assignment.created_at, Assignment.id))
            ).scalars()
        )

    async def assignment(
        self, assignment_id: uuid.UUID, *, lock: bool = False
    ) -> Assignment | None:
        stmt = select(Assignment).where(Assignment.id == assignment_id)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def queue(self, evaluator_id: uuid.UUID) -> list[tuple[Assignment, Proposal, Call]]:
        stmt = (
            select(Assignment, Proposal, Call)
            .join(Proposal, Proposal.id == Assignment.proposal_id)
            .join(Call, Call.id == Assignment.call_id)
            .where(Assignment.evaluator_id == evaluator_id)
            .order_by(Assignment.due_at, Assignment.id)
        )
        return [(a, p, c) for a, p, c in (await self.session.execute(stmt)).all()]

    async def evaluation(self, assignment_id: uuid.UUID) -> Evaluation | None:
        stmt = select(Evaluation).where(Evaluation.assignment_id == assignment_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def evaluations(self, assignments: Sequence[Assignment]) -> dict[uuid.UUID, Evaluation]:
        if not assignments:
            return {}
        stmt = select(Evaluation).where(Evaluation.assignment_id.in_([a.id for a in assignments]))
        return {e.assignment_id: e for e in (await self.session.execute(stmt)).scalars()}

    async def result(self, proposal_id: uuid.UUID, stage: str) -> EvaluationResult | None:
        stmt = select(EvaluationResult).where(
            EvaluationResult.proposal_id == proposal_id, EvaluationResult.stage == stage
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def results(self, proposal_id: uuid.UUID) -> list[EvaluationResult]:
        stmt = (
            select(EvaluationResult)
            .where(EvaluationResult.proposal_id == proposal_id)
            .order_by(EvaluationResult.computed_at)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def ranked_inputs(
        self, call_id: uuid.UUID, stage: str
    ) -> list[tuple[Proposal, EvaluationResult, ProposalSubmission]]:
        """Passing results of a call at a stage, with the submission they judged."""
        stmt = (
            select(Proposal, EvaluationResult, ProposalSubmission)
            .join(EvaluationResult, EvaluationResult.proposal_id == Proposal.id)
            .join(
                ProposalSubmission,
                (ProposalSubmission.proposal_id == Proposal.id)
                & (ProposalSubmission.stage == EvaluationResult.stage),
            )
            .where(
                EvaluationResult.call_id == call_id,
                EvaluationResult.stage == stage,
                EvaluationResult.passed.is_(True),
                # Out of the running: they take no room under a cut line.
                Proposal.status.not_in(("withdrawn", "rejected", "declined")),
            )
        )
        return [(p, r, s) for p, r, s in (await self.session.execute(stmt)).all()]
