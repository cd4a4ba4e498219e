"""The life of one evaluator's assignment to one proposal (at one stage).

No content of the proposal is visible until the evaluator has declared impartiality and
confidentiality; a declared conflict recuses them. A submitted evaluation is final.
"""

from __future__ import annotations

from collections.abc import Iterator

from workflows.definition import EVALUATOR, FUND_MANAGER, SYSTEM, State, Workflow, transition
from workflows.guards import GuardContext, GuardRegistry, Refusal

guards = GuardRegistry()


@guards.register
def statement_given(ctx: GuardContext) -> Iterator[Refusal]:
    if not str(ctx.payload.get("statement") or "").strip():
        yield Refusal("statement_required", "A statement is required", ("statement",))


@guards.register
def evaluation_complete(ctx: GuardContext) -> Iterator[Refusal]:
    """The domain layer checks the evaluation against the call's grid and hands over what
    is missing or out of range; every item is reported."""
    for problem in ctx.facts.get("evaluation_problems", ()):
        yield Refusal(problem["code"], problem["detail"], tuple(problem["loc"]))


ASSIGNMENT = Workflow(
    name="assignment",
    description="One evaluator's assignment to score one proposal at one stage.",
    initial="assigned",
    states=(
        State("assigned", "Waiting for the declaration of impartiality and confidentiality; "
                          "no content of the proposal is visible yet."),
        State("active", "Declared; the evaluator reads the proposal and drafts the evaluation.",
              editable=True),
        State("submitted", "The evaluation is final and immutable.", terminal=True),
        State("recused", "The evaluator declared a conflict of interest.", terminal=True),
        State("withdrawn", "Removed by a fund manager, or the proposal left evaluation.",
              terminal=True),
    ),
    transitions=(
        transition(
            "declare_impartiality", "assigned", "active",
            roles=[EVALUATOR],
            guards=["statement_given"],
            effects=["record_declaration"],
            event="assignment.declared",
            description="Declare no conflict of interest and accept confidentiality.",
        ),
        transition(
            "recuse", ["assigned", "active"], "recused",
            roles=[EVALUATOR],
            guards=["statement_given"],
            effects=["record_declaration", "find_replacement"],
            event="assignment.recused",
            description="Declare a conflict of interest; another evaluator is assigned.",
        ),
        transition(
            "submit_evaluation", "active", "submitted",
            roles=[EVALUATOR],
            guards=["evaluation_complete"],
            effects=["finalise_evaluation"],
            event="assignment.evaluation_submitted",
            description="Make the evaluation final; consolidation follows when all are in.",
        ),
        transition(
            "withdraw", ["assigned", "active"], "withdrawn",
            roles=[FUND_MANAGER, SYSTEM],
            event="assignment.withdrawn",
            description="Take the assignment back (or the proposal left evaluation).",
        ),
    ),
)  # fmt: skip
