"""The life of a grant, from the award to closure; and of its reports and payments."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from workflows.definition import APPLICANT, FUND_MANAGER, SYSTEM, State, Workflow, transition
from workflows.guards import GuardContext, GuardRegistry, Refusal

guards = GuardRegistry()


@guards.register
def reason_given(ctx: GuardContext) -> Iterator[Refusal]:
    if not str(ctx.payload.get("reason") or "").strip():
        yield Refusal("reason_required", "A reason is required", ("reason",))


@guards.register
def signature_date_valid(ctx: GuardContext) -> Iterator[Refusal]:
    signed: date | None = ctx.payload.get("signed_on")
    awarded: date = ctx.subject["created_at"].date()
    if signed is None:
        yield Refusal("required", "signed_on is required", ("signed_on",))
    elif signed > ctx.now.date():
        yield Refusal("signature_in_future", "The signature date cannot be in the future",
                      ("signed_on",))  # fmt: skip
    elif signed < awarded:
        yield Refusal("signature_before_award", "The contract cannot be signed before the award",
                      ("signed_on",))  # fmt: skip


@guards.register
def final_report_approved(ctx: GuardContext) -> Iterator[Refusal]:
    if ctx.facts["final_report_status"] != "approved":
        yield Refusal(
            "final_report_not_approved",
            f"The final report is {ctx.facts['final_report_status']}, not approved",
        )


@guards.register
def balance_settled(ctx: GuardContext) -> Iterator[Refusal]:
    for payment in ctx.facts["payments"]:
        if payment["status"] not in ("paid", "waived", "cancelled"):
            yield Refusal(
                "payment_outstanding",
                f"Payment {payment['sequence']} ({payment['kind']}, {payment['amount']}) is "
                f"{payment['status']}: pay it or waive it with a reason",
            )


GRANT = Workflow(
    name="grant",
    description="A grant awarded to a proposal: contract, implementation, closure.",
    initial="contracting",
    states=(
        State("contracting", "Awarded; the contract is being signed. The applicant may still "
                             "decline."),
        State("active", "Signed: the action runs, reports fall due, payments are made."),
        State("suspended", "Implementation suspended by the facility."),
        State("closing", "The action ended; the final report and balance are being settled."),
        State("closed", "Final report approved and balance settled.", terminal=True),
        State("terminated", "Ended early; unspent money returned to the call's envelope.",
              terminal=True),
    ),
    transitions=(
        transition(
            "sign_contract", "contracting", "active",
            roles=[FUND_MANAGER],
            guards=["signature_date_valid"],
            effects=["record_signature", "schedule_reports", "schedule_payments", "contract_award"],
            event="grant.contract_signed",
            description="Record the signature; the reporting and payment schedules start.",
            applicant_visible=["signed_on"],
        ),
        transition(
            "suspend", "active", "suspended",
            roles=[FUND_MANAGER],
            guards=["reason_given"],
            event="grant.suspended",
            description="Suspend implementation; a reason is required.",
            applicant_visible=["reason"],
        ),
        transition(
            "resume", "suspended", "active",
            roles=[FUND_MANAGER],
            event="grant.resumed",
            description="Resume implementation.",
        ),
        transition(
            "start_closure", "active", "closing",
            roles=[FUND_MANAGER],
            event="grant.closure_started",
            description="The action has ended; settle the final report and balance.",
        ),
        transition(
            "close", "closing", "closed",
            roles=[FUND_MANAGER],
            guards=["final_report_approved", "balance_settled"],
            effects=["release_waived_balance", "cancel_open_schedules"],
            event="grant.closed",
            description="Close the grant: final report approved and balance paid or waived.",
        ),
        transition(
            "terminate", ["contracting", "active", "suspended"], "terminated",
            roles=[FUND_MANAGER, SYSTEM],
            guards=["reason_given"],
            effects=["release_unspent", "cancel_open_schedules", "revoke_unsigned_award"],
            event="grant.terminated",
            description="End the grant early; unspent money returns to the envelope.",
            applicant_visible=["reason", "reason_code"],
        ),
    ),
)  # fmt: skip


@guards.register
def report_complete(ctx: GuardContext) -> Iterator[Refusal]:
    """The domain layer checks the report against the logframe and hands over the gaps."""
    for problem in ctx.facts.get("report_problems", ()):
        yield Refusal(problem["code"], problem["detail"], tuple(problem["loc"]))


@guards.register
def grant_running(ctx: GuardContext) -> Iterator[Refusal]:
    status = ctx.facts.get("grant_status")
    if status not in ("active", "suspended", "closing"):
        yield Refusal("grant_not_running", f"The grant is {status}")


REPORT = Workflow(
    name="report",
    description="An interim or final report of a grant.",
    initial="due",
    states=(
        State("due", "Scheduled; the grantee prepares it (overdue after its due date).",
              editable=True),
        State("submitted", "Submitted; the fund manager reviews it."),
        State("revision_requested", "Sent back to the grantee with the changes needed.",
              editable=True),
        State("approved", "Accepted.", terminal=True),
        State("cancelled", "No longer required (the grant was terminated).", terminal=True),
    ),
    transitions=(
        transition(
            "submit", ["due", "revision_requested"], "submitted",
            roles=[APPLICANT],
            guards=["grant_running", "report_complete"],
            effects=["stamp_report_submission"],
            event="report.submitted",
            description="Submit the report (progress per indicator, spending, narrative).",
        ),
        transition(
            "approve", "submitted", "approved",
            roles=[FUND_MANAGER],
            effects=["stamp_report_approval", "unlock_payments"],
            event="report.approved",
            description="Accept the report; an interim report may unlock the next instalment.",
        ),
        transition(
            "request_revision", "submitted", "revision_requested",
            roles=[FUND_MANAGER],
            guards=["reason_given"],
            event="report.revision_requested",
            description="Send the report back with what must change.",
            applicant_visible=["reason"],
        ),
        transition(
            "cancel", ["due", "submitted", "revision_requested"], "cancelled",
            roles=[SYSTEM],
            event="report.cancelled",
            description="No longer required: the grant ended early or was closed.",
        ),
    ),
)  # fmt: skip


@guards.register
def payment_amount_valid(ctx: GuardContext) -> Iterator[Refusal]:
    amount = ctx.payload.get("amount")
    if amount is not None and amount > ctx.subject["amount"]:
        yield Refusal(
            "amount_above_schedule",
            f"The payment cannot exceed its scheduled amount {ctx.subject['amount']}",
            ("amount",),
        )


@guards.register
def paid_on_valid(ctx: GuardContext) -> Iterator[Refusal]:
    paid_on: date | None = ctx.payload.get("paid_on")
    signed_on: date | None = ctx.facts.get("signed_on")
    if paid_on is None:
        yield Refusal("required", "paid_on is required", ("paid_on",))
    elif paid_on > ctx.now.date():
        yield Refusal("payment_in_future", "A payment cannot be dated in the future", ("paid_on",))
    elif signed_on is not None and paid_on < signed_on:
        yield Refusal("payment_before_signature", "A payment cannot precede the contract",
                      ("paid_on",))  # fmt: skip


@guards.register
def partial_payment_explained(ctx: GuardContext) -> Iterator[Refusal]:
    """Paying less than scheduled gives money back at closure: say why, for the record."""
    amount = ctx.payload.get("amount")
    explained = bool(str(ctx.payload.get("reason") or "").strip())
    if amount is not None and amount < ctx.subject["amount"] and not explained:
        yield Refusal(
            "reason_required",
            f"Paying less than the scheduled {ctx.subject['amount']} needs a reason",
            ("reason",),
        )


@guards.register
def only_the_balance_is_waived(ctx: GuardContext) -> Iterator[Refusal]:
    if ctx.subject["kind"] != "balance":
        yield Refusal("not_a_balance", "Only the balance can be waived")


PAYMENT = Workflow(
    name="payment",
    description="One payment of a grant's schedule.",
    initial="scheduled",
    states=(
        State("scheduled", "Planned; waits for its condition (a signature, an approved report)."),
        State("due", "Its condition is met; the facility pays it."),
        State("paid", "Paid: the date and amount are recorded.", terminal=True),
        State("waived", "Not paid, with a reason (the balance only).", terminal=True),
        State("cancelled", "No longer owed (the grant ended early or was settled).",
              terminal=True),
    ),
    transitions=(
        transition(
            "fall_due", "scheduled", "due",
            roles=[SYSTEM],
            event="payment.due",
            description="Its condition is met.",
        ),
        transition(
            "pay", "due", "paid",
            roles=[FUND_MANAGER],
            guards=["payment_amount_valid", "paid_on_valid", "partial_payment_explained"],
            effects=["record_payment"],
            event="payment.paid",
            description="Record the payment (date and amount); never above the grant.",
            applicant_visible=["amount", "paid_on", "reason"],
        ),
        transition(
            "waive", ["scheduled", "due"], "waived",
            roles=[FUND_MANAGER],
            guards=["only_the_balance_is_waived", "reason_given"],
            event="payment.waived",
            description="Waive the balance with a reason.",
            applicant_visible=["reason"],
        ),
        transition(
            "cancel", ["scheduled", "due"], "cancelled",
            roles=[SYSTEM],
            event="payment.cancelled",
            description="No longer owed.",
        ),
    ),
)  # fmt: skip
