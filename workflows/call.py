"""The life of a call for proposals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from workflows.definition import FUND_MANAGER, SYSTEM, State, Workflow, transition
from workflows.guards import GuardContext, GuardRegistry, Refusal

guards = GuardRegistry()


@guards.register
def deadline_in_future(ctx: GuardContext) -> Iterator[Refusal]:
    closes_at: datetime | None = ctx.subject["closes_at"]
    if ctx.subject["mode"] == "fixed_deadline" and closes_at is None:
        yield Refusal("deadline_missing", "A fixed-deadline call needs closes_at", ("closes_at",))
    elif closes_at is not None and closes_at <= ctx.now:
        yield Refusal("deadline_passed", "The deadline is already in the past", ("closes_at",))


@guards.register
def deadline_moves_later(ctx: GuardContext) -> Iterator[Refusal]:
    new: datetime = ctx.payload["closes_at"]
    current: datetime | None = ctx.subject["closes_at"]
    if current is not None and current < ctx.now:
        # PRAG: a missed deadline means rejection; reopening would be unfair to those on time.
        yield Refusal(
            "deadline_passed",
            f"The deadline {current.isoformat()} has passed; it can no longer be extended",
            ("closes_at",),
        )
    elif current is not None and new <= current:
        yield Refusal(
            "deadline_not_later",
            f"The deadline may only move later than {current.isoformat()}",
            ("closes_at",),
        )
    if new <= ctx.now:
        yield Refusal("deadline_passed", "The new deadline is in the past", ("closes_at",))


@guards.register
def every_decision_taken(ctx: GuardContext) -> Iterator[Refusal]:
    """Finalising says every applicant has their answer: none may still be waiting."""
    waiting: dict[str, int] = ctx.facts.get("undecided", {})
    if waiting:
        listed = ", ".join(f"{n} {status}" for status, n in sorted(waiting.items()))
        yield Refusal("decisions_pending", f"Proposals still wait for a decision: {listed}")


CALL = Workflow(
    name="call",
    description="A call for proposals, from drafting to its final decisions.",
    initial="draft",
    states=(
        State("draft", "Being written by a fund manager; invisible to applicants.", editable=True),
        State(
            "published",
            "Public; applicants draft and submit until the deadline. Eligibility, grids and "
            "amounts are frozen; the deadline can only move later.",
        ),
        State("closed", "No longer accepts submissions; screening and evaluation go on."),
        State("finalised", "Every decision taken; the reserve list is released.", terminal=True),
        State("cancelled", "Withdrawn by the facility before completion.", terminal=True),
    ),
    transitions=(
        transition(
            "publish", "draft", "published",
            roles=[FUND_MANAGER],
            guards=["deadline_in_future"],
            effects=["stamp_published_at"],
            event="call.published",
            description="Open the call to applicants.",
        ),
        transition(
            "extend_deadline", "published", "published",
            roles=[FUND_MANAGER],
            guards=["deadline_moves_later"],
            effects=["move_deadline"],
            event="call.deadline_extended",
            description="Give applicants more time; the deadline only moves later.",
            applicant_visible=["closes_at", "previous_closes_at"],
        ),
        transition(
            "close", "published", "closed",
            roles=[FUND_MANAGER, SYSTEM],
            effects=["record_closure"],
            event="call.closed",
            description="Stop accepting submissions (by hand, or by itself when a rolling "
            "call's remaining envelope falls below the minimum grant).",
            applicant_visible=["reason"],
        ),
        transition(
            "finalise", "closed", "finalised",
            roles=[FUND_MANAGER],
            guards=["every_decision_taken"],
            effects=["release_reserve_list"],
            event="call.finalised",
            description="Record that every decision of the call is taken.",
        ),
        transition(
            "cancel", ["draft", "published"], "cancelled",
            roles=[FUND_MANAGER],
            event="call.cancelled",
            description="Cancel the call; a reason is required.",
            applicant_visible=["reason"],
        ),
    ),
)  # fmt: skip
