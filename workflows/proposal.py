"""The life of a proposal answering a call, concept note to award (PRAG, restricted calls).

A two-stage call loops once: a shortlisted concept note is invited back to ``draft`` at the
full-application stage. Guards here are pure; the facts they read (the call's rules, the
applicant organisation, the attachments on file) are handed over by the domain layer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from workflows.definition import (
    APPLICANT,
    FUND_MANAGER,
    SYSTEM,
    State,
    Timer,
    Workflow,
    transition,
)
from workflows.guards import GuardContext, GuardRegistry, Refusal

guards = GuardRegistry()

CONCEPT_NOTE = "concept_note"
CENT = Decimal("0.01")
FULL_APPLICATION = "full_application"

# What must be filled in before a proposal can be submitted, per stage.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    CONCEPT_NOTE: (
        "title", "summary", "primary_priority", "country_shares", "requested_amount",
        "total_budget", "duration_months", "planned_start",
        "gender_marker", "gender_justification",
        "climate_adaptation_marker", "climate_adaptation_justification",
        "climate_mitigation_marker", "climate_mitigation_justification",
    ),
}  # fmt: skip
REQUIRED_FIELDS[FULL_APPLICATION] = (*REQUIRED_FIELDS[CONCEPT_NOTE], "logframe")


def _missing(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _call(ctx: GuardContext) -> Mapping[str, Any]:
    call: Mapping[str, Any] = ctx.facts["call"]
    return call


def _invited(ctx: GuardContext) -> bool:
    """A full application invited after a concept note has its own deadline."""
    subject = ctx.subject
    return (
        subject["stage"] == FULL_APPLICATION and subject.get("full_application_due_at") is not None
    )


@guards.register
def call_accepts_submissions(ctx: GuardContext) -> Iterator[Refusal]:
    status = _call(ctx)["status"]
    # Invited full applications are accepted after the call closed to new concept notes.
    accepting = ("published", "closed") if _invited(ctx) else ("published",)
    if status not in accepting:
        yield Refusal("call_not_open", f"The call is {status} and accepts no submissions")


@guards.register
def within_submission_window(ctx: GuardContext) -> Iterator[Refusal]:
    """Deadlines are kept to the second, by the server's clock."""
    call = _call(ctx)
    now = ctx.now.replace(microsecond=0)
    opens_at: datetime | None = None if _invited(ctx) else call["opens_at"]
    closes_at: datetime | None = (
        ctx.subject["full_application_due_at"] if _invited(ctx) else call["closes_at"]
    )
    if opens_at is not None and now < opens_at.replace(microsecond=0):
        yield Refusal("before_opening", f"The call opens at {opens_at.isoformat()}")
    if closes_at is not None and now > closes_at.replace(microsecond=0):
        late = int((now - closes_at.replace(microsecond=0)).total_seconds())
        yield Refusal(
            "deadline_passed",
            f"The deadline was {closes_at.isoformat()}; this submission is {late} s late",
        )


@guards.register
def amount_within_concept_note_range(ctx: GuardContext) -> Iterator[Refusal]:
    """PRAG: the full application may not ask for more than 20 % more or less than the
    concept note did."""
    before: Decimal | None = ctx.subject.get("concept_note_amount")
    amount: Decimal | None = ctx.subject.get("requested_amount")
    if before is None or amount is None:
        return
    low, high = (before * Decimal("0.8")).quantize(CENT), (before * Decimal("1.2")).quantize(CENT)
    if not low <= amount <= high:
        yield Refusal(
            "amount_outside_concept_note_range",
            f"The requested amount must stay within 20 % of the concept note's ({low}–{high})",
            ("requested_amount",),
        )


@guards.register
def proposal_complete(ctx: GuardContext) -> Iterator[Refusal]:
    p = ctx.subject
    for name in REQUIRED_FIELDS[p["stage"]]:
        if _missing(p.get(name)):
            yield Refusal("required", f"{name} is required", (name,))
    shares = p.get("country_shares") or []
    if shares and sum(Decimal(str(s["share"])) for s in shares) != 100:
        yield Refusal("shares_not_100", "Country shares must add up to 100", ("country_shares",))
    logframe = p.get("logframe")
    if p["stage"] == FULL_APPLICATION and logframe:
        yield from _logframe_refusals(logframe, p.get("gender_marker"))


def _logframe_refusals(logframe: Mapping[str, Any], gender_marker: int | None) -> Iterator[Refusal]:
    outcomes = logframe.get("outcomes") or []
    if not outcomes:
        yield Refusal(
            "required", "The logframe needs at least one outcome", ("logframe", "outcomes")
        )
    for i, outcome in enumerate(outcomes):
        if not outcome.get("indicators"):
            yield Refusal(
                "required",
                f"Outcome {i + 1} needs at least one indicator",
                ("logframe", "outcomes", i, "indicators"),
            )
    disaggregated = any(
        ind.get("sex_disaggregated") for o in outcomes for ind in o.get("indicators") or []
    )
    # DAC gender marker: results of G1/G2 actions are monitored with sex-disaggregated data.
    if gender_marker in (1, 2) and not disaggregated:
        yield Refusal(
            "gender_indicator_missing",
            "A gender marker of 1 or 2 needs at least one sex-disaggregated indicator",
            ("logframe", "outcomes"),
        )


@guards.register
def within_call_limits(ctx: GuardContext) -> Iterator[Refusal]:
    p, call = ctx.subject, _call(ctx)
    amount: Decimal | None = p.get("requested_amount")
    total: Decimal | None = p.get("total_budget")
    months: int | None = p.get("duration_months")
    cur = call["currency"]
    if amount is not None and not call["min_grant"] <= amount <= call["max_grant"]:
        yield Refusal(
            "amount_out_of_range",
            f"The requested amount must be between {cur} {call['min_grant']} and "
            f"{cur} {call['max_grant']}",
            ("requested_amount",),
        )
    if (
        months is not None
        and not call["min_duration_months"] <= months <= call["max_duration_months"]
    ):
        yield Refusal(
            "duration_out_of_range",
            f"The duration must be between {call['min_duration_months']} and "
            f"{call['max_duration_months']} months",
            ("duration_months",),
        )
    if amount is not None and total is not None:
        if amount > total:
            yield Refusal(
                "amount_above_total",
                "The requested amount cannot exceed the total budget",
                ("requested_amount",),
            )
        elif total > 0:
            cofinancing = (total - amount) * 100 / total
            if cofinancing < call["min_cofinancing_pct"]:
                shown = cofinancing.quantize(CENT, rounding=ROUND_DOWN)  # never shown as enough
                yield Refusal(
                    "cofinancing_too_low",
                    f"Co-financing is {shown} % of the total "
                    f"budget; the call requires at least {call['min_cofinancing_pct']} %",
                    ("total_budget",),
                )


@guards.register
def applicant_eligible(ctx: GuardContext) -> Iterator[Refusal]:
    org, call = ctx.facts["organisation"], _call(ctx)
    if org["iati_type"] not in call["eligible_org_types"]:
        yield Refusal(
            "organisation_type_not_eligible",
            f"Organisations of IATI type {org['iati_type']} are not eligible for this call",
        )


@guards.register
def countries_eligible(ctx: GuardContext) -> Iterator[Refusal]:
    eligible = set(_call(ctx)["eligible_countries"])
    for i, share in enumerate(ctx.subject.get("country_shares") or []):
        if share["country"] not in eligible:
            yield Refusal(
                "country_not_eligible",
                f"{share['country']} is not an eligible country of this call",
                ("country_shares", i, "country"),
            )


@guards.register
def priority_in_scope(ctx: GuardContext) -> Iterator[Refusal]:
    primary = ctx.subject.get("primary_priority")
    if primary is not None and primary not in _call(ctx)["priorities"]:
        yield Refusal(
            "priority_out_of_scope",
            f"The priority {primary!r} is not in the scope of this call",
            ("primary_priority",),
        )


@guards.register
def required_attachments_present(ctx: GuardContext) -> Iterator[Refusal]:
    call = _call(ctx)
    key = (
        "concept_note_attachment_kinds"
        if ctx.subject["stage"] == CONCEPT_NOTE
        else "required_attachment_kinds"
    )
    on_file = set(ctx.facts["attachment_kinds"])
    for kind in call[key]:
        if kind not in on_file:
            yield Refusal("attachment_missing", f"An attachment of kind {kind!r} is required")


@guards.register
def reasons_given(ctx: GuardContext) -> Iterator[Refusal]:
    reasons = ctx.payload.get("reasons") or []
    if not [r for r in reasons if str(r).strip()]:
        yield Refusal("reasons_required", "At least one reason is required", ("reasons",))


@guards.register
def screening_complete(ctx: GuardContext) -> Iterator[Refusal]:
    screening = ctx.facts["screening"]
    for i, item in enumerate(screening["checklist"]):
        if item.get("passed") is None:
            yield Refusal(
                "checklist_item_open",
                f"Checklist item {item['id']!r} has no result yet",
                ("screening", "checklist", i),
            )


@guards.register
def no_failed_mandatory_item(ctx: GuardContext) -> Iterator[Refusal]:
    screening = ctx.facts["screening"]
    for i, check in enumerate(screening["automatic_checks"]):
        if not check["passed"]:
            yield Refusal(
                "automatic_check_failed",
                f"The automatic check {check['id']!r} failed: " + "; ".join(check["details"]),
                ("screening", "automatic_checks", i),
            )
    for i, item in enumerate(screening["checklist"]):
        if item.get("mandatory") and item.get("passed") is False:
            yield Refusal(
                "mandatory_item_failed",
                f"The mandatory item {item['id']!r} failed: {item.get('note') or ''}".rstrip(": "),
                ("screening", "checklist", i),
            )


@guards.register
def concept_note_stage(ctx: GuardContext) -> Iterator[Refusal]:
    if ctx.subject["stage"] != CONCEPT_NOTE:
        yield Refusal("not_a_concept_note", "Only concept notes are shortlisted")


@guards.register
def within_shortlist_cut(ctx: GuardContext) -> Iterator[Refusal]:
    row = ctx.facts.get("ranking_row")
    if row is None or not row["within_cut"]:
        yield Refusal(
            "below_shortlist_cut",
            "The concept note is below the pre-selection cut (cumulative requests above "
            f"{ctx.facts.get('cut_percent', 200)} % of the envelope)",
        )


@guards.register
def full_application_deadline_ahead(ctx: GuardContext) -> Iterator[Refusal]:
    due: datetime | None = ctx.payload.get("full_application_due_at")
    if due is None or due <= ctx.now:
        yield Refusal(
            "deadline_passed",
            "The full application's deadline must be in the future",
            ("full_application_due_at",),
        )


@guards.register
def full_application_stage(ctx: GuardContext) -> Iterator[Refusal]:
    if ctx.subject["stage"] != FULL_APPLICATION:
        yield Refusal(
            "not_a_full_application",
            "Concept notes are shortlisted, not awarded; invite a full application first",
        )


@guards.register
def award_amount_valid(ctx: GuardContext) -> Iterator[Refusal]:
    amount: Decimal = ctx.payload["amount"]
    call = _call(ctx)
    requested: Decimal | None = ctx.subject.get("requested_amount")
    if requested is not None and amount > requested:
        yield Refusal(
            "amount_above_request",
            f"The award cannot exceed the requested amount {requested}",
            ("amount",),
        )
    if not call["min_grant"] <= amount <= call["max_grant"]:
        yield Refusal(
            "amount_out_of_range",
            f"Grants of this call are {call['currency']} {call['min_grant']}–{call['max_grant']}",
            ("amount",),
        )


@guards.register
def call_takes_decisions(ctx: GuardContext) -> Iterator[Refusal]:
    status = _call(ctx)["status"]
    if status not in ("published", "closed"):
        yield Refusal("call_not_deciding", f"The call is {status}: no more award decisions")


@guards.register
def best_ranked_reserve(ctx: GuardContext) -> Iterator[Refusal]:
    """The reserve list is followed in order: a reserve proposal ranked higher whose request
    fits what is left of the envelope is promoted first."""
    for ahead in ctx.facts.get("reserve_ahead", ()):
        yield Refusal(
            "better_ranked_reserve",
            f"{ahead} is ranked higher on the reserve list and fits the envelope: promote it first",
        )


PROPOSAL = Workflow(
    name="proposal",
    description="A proposal answering a call for proposals, from draft to award.",
    initial="draft",
    states=(
        State("draft", "The applicant prepares the proposal.", editable=True),
        State("submitted", "Received and frozen, with a receipt; waits for screening."),
        State("screening", "Administrative and eligibility checks by a fund manager."),
        State("ineligible", "Failed screening; the reasons are given.", terminal=True),
        State("evaluation", "Scored by independent evaluators."),
        State("arbitration", "The evaluators' scores diverged; a further evaluator arbitrates."),
        State("evaluated", "Scored at or above every threshold; ranked for a decision."),
        State("shortlisted", "Concept note pre-selected; a full application will be invited."),
        State("rejected", "Not selected; the reasons and the scores are given.", terminal=True),
        State("reserve", "Above the threshold but unfunded; funded if money is freed."),
        State(
            "awarded",
            "A grant is offered; it becomes a grant when the contract is signed.",
            timers=(
                Timer(
                    "lapse",
                    days_from="acceptance_period_days",
                    description="The offer lapses if the contract is not signed within the "
                    "call's acceptance period (a decline: the money returns).",
                ),
            ),
        ),
        State(
            "contracted",
            "The grant contract is signed; the grant carries the story on.",
            terminal=True,
        ),
        State("declined", "The applicant declined the award or let it lapse.", terminal=True),
        State("withdrawn", "Withdrawn by the applicant.", terminal=True),
    ),
    transitions=(
        transition(
            "submit", "draft", "submitted",
            roles=[APPLICANT],
            guards=[
                "call_accepts_submissions", "within_submission_window", "proposal_complete",
                "within_call_limits", "applicant_eligible", "countries_eligible",
                "priority_in_scope", "required_attachments_present",
                "amount_within_concept_note_range",
            ],
            effects=["assign_reference", "record_submission"],
            event="proposal.submitted",
            description="Submit before the deadline; the content is frozen and a receipt issued.",
        ),
        transition(
            "withdraw",
            ["draft", "submitted", "screening", "evaluation", "arbitration", "evaluated",
             "shortlisted", "reserve"],
            "withdrawn",
            roles=[APPLICANT],
            effects=["withdraw_open_assignments"],
            event="proposal.withdrawn",
            description="The applicant withdraws the proposal.",
        ),
        transition(
            "start_screening", "submitted", "screening",
            roles=[FUND_MANAGER, SYSTEM],
            effects=["open_screening"],
            event="proposal.screening_started",
            description="Begin the administrative and eligibility checks.",
        ),
        transition(
            "pass_screening", "screening", "evaluation",
            roles=[FUND_MANAGER],
            guards=["screening_complete", "no_failed_mandatory_item"],
            effects=["close_screening"],
            event="proposal.screening_passed",
            description="Every mandatory check passed; the proposal goes to evaluators.",
        ),
        transition(
            "fail_screening", "screening", "ineligible",
            roles=[FUND_MANAGER],
            guards=["reasons_given"],
            effects=["close_screening"],
            event="proposal.ineligible",
            description="The proposal is ineligible or incomplete; reasons are required.",
            applicant_visible=["reasons"],
        ),
        transition(
            "request_arbitration", "evaluation", "arbitration",
            roles=[SYSTEM],
            effects=["assign_arbitrator"],
            event="proposal.arbitration_requested",
            description="The evaluators' totals diverge beyond the call's threshold.",
        ),
        transition(
            "complete_evaluation", ["evaluation", "arbitration"], "evaluated",
            roles=[SYSTEM],
            effects=["record_result"],
            event="proposal.evaluated",
            description="Consolidated score at or above every threshold.",
        ),
        transition(
            "reject_on_score", ["evaluation", "arbitration"], "rejected",
            roles=[SYSTEM],
            effects=["record_result"],
            event="proposal.rejected",
            description="Consolidated score below a section threshold or the pass mark.",
            applicant_visible=["reasons", "failures", "scores"],
        ),
        transition(
            "shortlist", "evaluated", "shortlisted",
            roles=[FUND_MANAGER],
            guards=["concept_note_stage", "within_shortlist_cut"],
            event="proposal.shortlisted",
            description="Pre-select the concept note for a full application.",
        ),
        transition(
            "invite_full_application", "shortlisted", "draft",
            roles=[FUND_MANAGER],
            guards=["full_application_deadline_ahead"],
            effects=["open_full_application_stage"],
            event="proposal.invited_full_application",
            description="Invite the full application; the concept note stays as submitted.",
            applicant_visible=["full_application_due_at"],
        ),
        transition(
            "award", "evaluated", "awarded",
            roles=[FUND_MANAGER],
            guards=["call_takes_decisions", "full_application_stage", "award_amount_valid"],
            effects=["commit_envelope", "open_grant"],
            event="proposal.awarded",
            description="Award a grant within the call's envelope.",
            applicant_visible=["amount", "grant_reference", "acceptance_period_days"],
        ),
        transition(
            "place_on_reserve", "evaluated", "reserve",
            roles=[FUND_MANAGER],
            guards=["call_takes_decisions", "full_application_stage"],
            event="proposal.placed_on_reserve",
            description="Keep on the reserve list in case money is freed.",
        ),
        transition(
            "reject", ["evaluated", "reserve"], "rejected",
            roles=[FUND_MANAGER],
            guards=["reasons_given"],
            effects=["attach_scores"],
            event="proposal.rejected",
            description="Not selected; reasons are required (the scores go with them).",
            applicant_visible=["reasons", "scores"],
        ),
        transition(
            "promote", "reserve", "awarded",
            roles=[FUND_MANAGER, SYSTEM],
            guards=["call_takes_decisions", "best_ranked_reserve", "award_amount_valid"],
            effects=["commit_envelope", "open_grant"],
            event="proposal.promoted",
            description="Money was freed: award a reserve proposal.",
            applicant_visible=["amount", "grant_reference", "acceptance_period_days"],
        ),
        transition(
            "decline", "awarded", "declined",
            roles=[APPLICANT],
            effects=["return_award", "propose_promotion"],
            event="proposal.award_declined",
            description="The applicant declines the award before signing the contract.",
        ),
        transition(
            "lapse", "awarded", "declined",
            roles=[SYSTEM],
            effects=["return_award", "propose_promotion"],
            event="proposal.award_lapsed",
            description="The contract was not signed within the acceptance period.",
        ),
        transition(
            "contract", "awarded", "contracted",
            roles=[SYSTEM],
            event="proposal.contracted",
            description="The grant contract was signed.",
        ),
        transition(
            "revoke_award", "awarded", "rejected",
            roles=[SYSTEM],
            effects=["propose_promotion"],
            event="proposal.award_revoked",
            description="The facility terminated the grant before its contract was signed.",
            applicant_visible=["reasons"],
        ),
        transition(
            "release_reserve", "reserve", "rejected",
            roles=[SYSTEM],
            effects=["attach_scores"],
            event="proposal.rejected",
            description="The call is finalised; the reserve list is released.",
            applicant_visible=["reasons", "reason_code", "scores"],
        ),
    ),
)  # fmt: skip
