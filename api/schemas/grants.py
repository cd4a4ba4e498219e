from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from api.schemas.common import Comment, InputModel, LongText, Money, OutputModel, Paragraph
from api.schemas.proposals import CountryShareOut

Reason = Annotated[Paragraph, Field(description="Shown to the grantee")]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("1000000000000"), decimal_places=2)]


class AwardPlanRowOut(OutputModel):
    rank: int
    proposal_id: uuid.UUID
    reference: str | None
    title: str | None
    status: str
    total: Decimal
    requested_amount: Decimal
    action: Literal["award", "reserve", "promote", "keep_on_reserve", "none"]
    remaining_after: Decimal


class AwardPlanOut(OutputModel):
    call_id: uuid.UUID
    currency: str
    budget_envelope: Decimal
    remaining_envelope: Decimal
    rows: list[AwardPlanRowOut]


class GrantOut(OutputModel):
    id: uuid.UUID
    reference: str = Field(description="Grant agreement reference")
    proposal_id: uuid.UUID
    call_id: uuid.UUID
    organisation_id: uuid.UUID
    title: str
    status: str
    amount: Decimal
    currency: str
    duration_months: int
    planned_start: date
    planned_end: date
    start_date: date | None
    end_date: date | None
    signed_on: date | None
    priorities: list[str]
    countries: list[CountryShareOut]
    gender_marker: int
    climate_adaptation_marker: int
    climate_mitigation_marker: int
    paid_total: Decimal
    released_amount: Decimal = Field(description="Returned to the call's envelope")
    termination_reason: str | None
    closed_at: datetime | None
    version: int
    available_transitions: list[str]


class _TransitionIn(InputModel):
    comment: Comment | None = None


class SignContractIn(_TransitionIn):
    trigger: Literal["sign_contract"]
    signed_on: date


class SuspendIn(_TransitionIn):
    trigger: Literal["suspend"]
    reason: Reason


class ResumeIn(_TransitionIn):
    trigger: Literal["resume"]


class StartClosureIn(_TransitionIn):
    trigger: Literal["start_closure"]


class CloseIn(_TransitionIn):
    trigger: Literal["close"]


class TerminateIn(_TransitionIn):
    trigger: Literal["terminate"]
    reason: Reason


GrantTransitionIn = Annotated[
    SignContractIn | SuspendIn | ResumeIn | StartClosureIn | CloseIn | TerminateIn,
    Field(discriminator="trigger"),
]


class IndicatorProgressIn(InputModel):
    code: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,19}$")]
    value: Annotated[Decimal, Field(ge=-(10**12), le=10**12, decimal_places=4)]
    women: Annotated[Decimal, Field(ge=0, le=10**12, decimal_places=4)] | None = None
    men: Annotated[Decimal, Field(ge=0, le=10**12, decimal_places=4)] | None = None
    comment: Comment | None = None


class ReportIn(InputModel):
    """The whole draft (PUT replaces it)."""

    narrative: LongText | None = None
    spent_to_date: Amount | None = Field(default=None, description="Cumulative spending")
    indicator_progress: list[IndicatorProgressIn] = Field(default_factory=list, max_length=400)


class IndicatorProgressOut(OutputModel):
    code: str
    value: Decimal
    women: Decimal | None
    men: Decimal | None
    comment: str | None


class ReportAttachmentOut(OutputModel):
    id: uuid.UUID
    kind: str
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class ReportOut(OutputModel):
    id: uuid.UUID
    grant_id: uuid.UUID
    kind: str
    sequence: int
    status: str
    period_start: date
    period_end: date
    due_on: date
    overdue: bool
    narrative: str | None
    spent_to_date: Decimal | None
    indicator_progress: list[IndicatorProgressOut]
    submitted_at: datetime | None
    approved_at: datetime | None
    attachments: list[ReportAttachmentOut]
    version: int
    available_transitions: list[str]


class SubmitReportIn(_TransitionIn):
    trigger: Literal["submit"]


class ApproveReportIn(_TransitionIn):
    trigger: Literal["approve"]


class RequestRevisionIn(_TransitionIn):
    trigger: Literal["request_revision"]
    reason: Reason


ReportTransitionIn = Annotated[
    SubmitReportIn | ApproveReportIn | RequestRevisionIn, Field(discriminator="trigger")
]


class PaymentOut(OutputModel):
    id: uuid.UUID
    grant_id: uuid.UUID
    kind: str
    sequence: int
    status: str
    amount: Decimal = Field(description="Scheduled amount")
    unlocked_by_report: int | None = Field(description="The report whose approval makes it due")
    due_on: date | None
    paid_on: date | None
    paid_amount: Decimal | None
    waiver_reason: str | None
    available_transitions: list[str]


class PayIn(_TransitionIn):
    trigger: Literal["pay"]
    paid_on: date
    amount: Money | None = Field(default=None, description="Default: the scheduled amount")
    reason: Reason | None = Field(
        default=None, description="Required when paying less than scheduled"
    )


class WaiveIn(_TransitionIn):
    trigger: Literal["waive"]
    reason: Reason


PaymentTransitionIn = Annotated[PayIn | WaiveIn, Field(discriminator="trigger")]
