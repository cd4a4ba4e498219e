from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from facility.attachments.models import Attachment
from facility.evaluation.models import Assignment
from facility.lifecycle import Actor
from facility.proposals.models import IdempotencyKey, Proposal, ProposalSubmission

_S = TypeVar("_S", bound=Select[Any])


def visible_to(stmt: _S, actor: Actor) -> _S:
    """Restrict a proposal query to what ``actor`` may see: applicants their organisation's,
    evaluators those they are assigned to (and declared for), fund managers everything,
    anyone else nothing (object checks answer 404)."""
    if actor.role == "fund_manager":
        return stmt
    if actor.role == "applicant" and actor.organisation_id is not None:
        return stmt.where(Proposal.organisation_id == actor.organisation_id)
    if actor.role == "evaluator":
        # Only through an assignment at the proposal's current stage, once declared.
        return stmt.where(
            exists().where(
                Assignment.proposal_id == Proposal.id,
                Assignment.evaluator_id == actor.id,
                Assignment.stage == Proposal.stage,
                Assignment.status.in_(("active", "submitted")),
            )
        )
    return stmt.where(Proposal.id.is_(None))


class ProposalRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(
        self, proposal_id: uuid.UUID, actor: Actor, *, lock: bool = False
    ) -> Proposal | None:
        stmt = visible_to(select(Proposal).where(Proposal.id == proposal_id), actor)
        if lock:
            stmt = stmt.with_for_update()
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def page(
        self,
        actor: Actor,
        *,
        call_id: uuid.UUID | None,
        statuses: Sequence[str] | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[Proposal]:
        stmt = visible_to(select(Proposal), actor).order_by(Proposal.id.desc()).limit(limit)
        if call_id is not None:
            stmt = stmt.where(Proposal.call_id == call_id)
        if statuses:
            stmt = stmt.where(Proposal.status.in_(statuses))
        if after is not None:
            stmt = stmt.where(Proposal.id < after)
        return list((await self.session.execute(stmt)).scalars())

    async def attachments(self, proposal_id: uuid.UUID) -> list[Attachment]:
        stmt = (
            select(Attachment)
            .where(Attachment.proposal_id == proposal_id)
            .order_by(Attachment.uploaded_at, Attachment.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def submissions(self, proposal_id: uuid.UUID) -> list[ProposalSubmission]:
        stmt = (
            select(ProposalSubmission)
            .where(ProposalSubmission.proposal_id == proposal_id)
            .order_by(ProposalSubmission.submitted_at)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def idempotency_key(self, user_id: uuid.UUID, key: str) -> IdempotencyKey | None:
        stmt = select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()
