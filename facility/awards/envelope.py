"""The call's envelope: committed by awards, released by declines, terminations and waivers.

Each change is one conditional UPDATE on the call row. On PostgreSQL the row lock makes
concurrent awards queue and re-check the condition against the committed value; on SQLite the
write transaction (BEGIN IMMEDIATE) already serialises them. A CHECK constraint on the table
backs it: the committed amount can never exceed the envelope, whatever the code does. Each
change bumps the call's version: its representation (the remaining envelope) changed.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from facility.calls.models import Call
from facility.errors import Conflict
from facility.stateful import loaded_in_step

# The call states in which awards are made (the call_takes_decisions guard says the same).
DECIDING = ("published", "closed")


class EnvelopeExceeded(Conflict):
    slug = "envelope-exceeded"
    title = "The call's remaining envelope cannot cover this award"


async def remaining(session: AsyncSession, call_id: uuid.UUID) -> Decimal:
    row = (
        await session.execute(
            select(Call.budget_envelope, Call.committed_amount).where(Call.id == call_id)
        )
    ).one()
    return Decimal(row.budget_envelope - row.committed_amount)


async def commit(session: AsyncSession, call_id: uuid.UUID, amount: Decimal) -> Decimal:
    """Reserve ``amount`` of the envelope; returns what remains, or raises (409).

    The status is re-checked here too: a guard read it without a lock, and a call finalised
    or cancelled meanwhile takes no more awards."""
    row = (
        await session.execute(
            update(Call)
            .where(
                Call.id == call_id,
                Call.status.in_(DECIDING),
                Call.committed_amount + amount <= Call.budget_envelope,
            )
            .values(committed_amount=Call.committed_amount + amount, version=Call.version + 1)
            .returning(Call.budget_envelope, Call.committed_amount, Call.version)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:
        status = (await session.execute(select(Call.status).where(Call.id == call_id))).scalar_one()
        if status not in DECIDING:
            raise Conflict(f"The call was {status} meanwhile and takes no more award decisions")
        left = await remaining(session, call_id)
        raise EnvelopeExceeded(
            f"Awarding {amount} would overspend the call: only {left} of the envelope remains",
            remaining_envelope=str(left),
            requested=str(amount),
        )
    loaded_in_step(
        session, Call, call_id, committed_amount=row.committed_amount, version=row.version
    )
    return Decimal(row.budget_envelope - row.committed_amount)


async def release(session: AsyncSession, call_id: uuid.UUID, amount: Decimal) -> Decimal:
    """Give ``amount`` back to the envelope; returns what remains."""
    row = (
        await session.execute(
            update(Call)
            .where(Call.id == call_id)
            .values(committed_amount=Call.committed_amount - amount, version=Call.version + 1)
            .returning(Call.budget_envelope, Call.committed_amount, Call.version)
            .execution_options(synchronize_session=False)
        )
    ).one()
    loaded_in_step(
        session, Call, call_id, committed_amount=row.committed_amount, version=row.version
    )
    return Decimal(row.budget_envelope - row.committed_amount)
