"""Which event sends which message to whom: the catalogue, as data.

Every message kind has a folder in ``email_templates/`` (subject, plain text, HTML; English
and Russian). Applicants receive only what the workflow lets them read of an event (its
applicant-visible payload); evaluators never receive proposal content before they declare.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

APPLICANT = "applicant"  # every active user of the applicant (grantee) organisation
FUND_MANAGERS = "fund_managers"  # every active fund manager
EVALUATOR = "evaluator"  # the evaluator of the assignment

Condition = Callable[[dict[str, Any]], bool]


def _concept_note(ctx: dict[str, Any]) -> bool:
    return ctx.get("stage") == "concept_note"


def _full_application(ctx: dict[str, Any]) -> bool:
    return ctx.get("stage") != "concept_note"


def _terminated_by_the_facility(ctx: dict[str, Any]) -> bool:
    """A decline, a lapse or a revocation before signature ends the grant too, but has its
    own message."""
    return ctx.get("payload", {}).get("reason_code") not in (
        "award_declined",
        "award_lapsed",
        "award_revoked",
    )


@dataclass(frozen=True)
class Rule:
    event: str
    message: str
    recipients: str
    description: str
    # Decided on the message's context (the subject's facts, the event's payload).
    when: Condition | None = None


@dataclass(frozen=True)
class Reminder:
    message: str
    recipients: str
    description: str


RULES: tuple[Rule, ...] = (
    Rule("proposal.submitted", "proposal_received", APPLICANT,
         "Receipt of a submission: reference, time and SHA-256 of the content"),
    Rule("proposal.ineligible", "proposal_ineligible", APPLICANT,
         "The proposal failed screening; the reasons"),
    Rule("assignment.created", "evaluation_assigned", EVALUATOR,
         "A proposal to evaluate, with its due date (no content before the declaration)"),
    Rule("proposal.arbitration_requested", "arbitration_requested", FUND_MANAGERS,
         "The evaluators' scores diverged; a further evaluator arbitrates"),
    Rule("proposal.shortlisted", "shortlisted", APPLICANT,
         "The concept note is shortlisted"),
    Rule("proposal.invited_full_application", "invited_full_application", APPLICANT,
         "Invitation to submit a full application, with its deadline"),
    Rule("proposal.rejected", "not_shortlisted", APPLICANT,
         "The concept note is not shortlisted; reasons and scores", _concept_note),
    Rule("proposal.rejected", "rejected", APPLICANT,
         "The proposal is not selected; reasons and score breakdown by section",
         _full_application),
    Rule("proposal.awarded", "awarded", APPLICANT,
         "Award letter: amount, acceptance period, next steps"),
    Rule("proposal.placed_on_reserve", "placed_on_reserve", APPLICANT,
         "The proposal is on the reserve list"),
    Rule("proposal.promoted", "promoted_from_reserve", APPLICANT,
         "Money was freed: the proposal is awarded from the reserve list"),
    Rule("proposal.award_declined", "award_declined", FUND_MANAGERS,
         "An applicant declined an award; money returned to the envelope"),
    Rule("proposal.award_lapsed", "award_lapsed", APPLICANT,
         "The award offer lapsed: the contract was not signed in time"),
    Rule("proposal.award_lapsed", "award_lapsed", FUND_MANAGERS,
         "An award offer lapsed; money returned to the envelope"),
    Rule("proposal.award_revoked", "award_revoked", APPLICANT,
         "The facility withdrew an award before its contract was signed; the reasons"),
    Rule("call.promotion_proposed", "promotion_proposed", FUND_MANAGERS,
         "A reserve proposal now fits the envelope and can be promoted"),
    Rule("grant.contract_signed", "contract_signed", APPLICANT,
         "The contract is signed; the reporting and payment schedules start"),
    Rule("report.revision_requested", "revision_requested", APPLICANT,
         "A report is sent back with the changes needed"),
    Rule("report.approved", "report_approved", APPLICANT, "A report is approved"),
    Rule("payment.paid", "payment_made", APPLICANT, "A payment was made: amount and date"),
    Rule("grant.closed", "grant_closed", APPLICANT, "The grant is closed"),
    Rule("grant.suspended", "grant_suspended", APPLICANT, "Implementation suspended; the reason"),
    Rule("grant.resumed", "grant_resumed", APPLICANT, "Implementation resumed"),
    Rule("grant.terminated", "grant_terminated", APPLICANT,
         "The grant is terminated; the reason", _terminated_by_the_facility),
    Rule("payment.waived", "balance_waived", APPLICANT, "The balance is waived; the reason"),
)  # fmt: skip

REMINDERS: tuple[Reminder, ...] = (
    Reminder("evaluation_reminder", EVALUATOR, "3 days before an evaluation is due"),
    Reminder("evaluation_overdue", EVALUATOR, "Once, when an evaluation is overdue"),
    Reminder("report_due_soon", APPLICANT, "14 days before a report is due, and on the due date"),
    Reminder("report_overdue", APPLICANT, "Weekly while a report is overdue"),
)

MESSAGE_KINDS: tuple[str, ...] = tuple(
    dict.fromkeys([r.message for r in RULES] + [r.message for r in REMINDERS])
)


def rules_for(event: str) -> list[Rule]:
    return [r for r in RULES if r.event == event]
