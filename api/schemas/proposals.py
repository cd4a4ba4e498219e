from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, Field

from api.schemas.common import (
    Comment,
    CountryCode,
    InputModel,
    Marker,
    Money,
    Name,
    OutputModel,
    Paragraph,
    StrictBool,
    UtcDateTime,
)
from facility.reference_data import Priority

Justification = Annotated[Paragraph, Field(max_length=3_000)]


def _unique(values: list[Priority]) -> list[Priority]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


class CountryShareIn(InputModel):
    country: CountryCode
    share: Decimal = Field(gt=0, le=100, decimal_places=2, description="Percent of the budget")


def _shares_valid(shares: list[CountryShareIn]) -> list[CountryShareIn]:
    countries = [s.country for s in shares]
    if len(set(countries)) != len(countries):
        raise ValueError("each country may appear once")
    if shares and sum(s.share for s in shares) != 100:
        raise ValueError("country shares must add up to 100")
    return shares


class IndicatorIn(InputModel):
    code: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,19}$")]
    name: Name
    unit: Name | None = None
    baseline: Annotated[Decimal, Field(ge=-(10**12), le=10**12, decimal_places=4)] | None = None
    target: Annotated[Decimal, Field(ge=-(10**12), le=10**12, decimal_places=4)]
    sex_disaggregated: StrictBool = Field(
        description="Values are reported separately for women and men"
    )


class OutcomeIn(InputModel):
    statement: Paragraph
    indicators: list[IndicatorIn] = Field(max_length=20)


def _indicator_codes_unique(logframe: LogframeIn) -> LogframeIn:
    codes = [i.code for o in logframe.outcomes for i in o.indicators]
    if len(set(codes)) != len(codes):
        raise ValueError("indicator codes must be unique within the logframe")
    return logframe


class LogframeIn(InputModel):
    objective: Paragraph
    outcomes: list[OutcomeIn] = Field(max_length=20)


class ProposalFieldsIn(InputModel):
    """The applicant's content. Every field is optional while drafting; submission checks
    completeness and lists everything missing at once."""

    title: Name | None = None
    summary: Annotated[Paragraph, Field(max_length=5_000)] | None = None
    primary_priority: Priority | None = Field(
        default=None, description="Exactly one Istanbul priority, within the call's scope"
    )
    secondary_priorities: (
        Annotated[list[Priority], Field(max_length=5), AfterValidator(_unique)] | None
    ) = None
    country_shares: (
        Annotated[list[CountryShareIn], Field(max_length=10), AfterValidator(_shares_valid)] | None
    ) = None
    requested_amount: Money | None = None
    total_budget: Money | None = None
    duration_months: Annotated[int, Field(ge=1, le=120, strict=True)] | None = None
    planned_start: Annotated[date, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))] | None = None
    gender_marker: Marker | None = None
    gender_justification: Justification | None = None
    climate_adaptation_marker: Marker | None = None
    climate_adaptation_justification: Justification | None = None
    climate_mitigation_marker: Marker | None = None
    climate_mitigation_justification: Justification | None = None
    logframe: Annotated[LogframeIn, AfterValidator(_indicator_codes_unique)] | None = None

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, as storable data (JSON types; money and dates typed)."""
        data = self.model_dump(mode="json", include=self.model_fields_set)
        for name in ("secondary_priorities", "country_shares"):
            if name in data and data[name] is None:
                data[name] = []
        for name in ("requested_amount", "total_budget", "planned_start"):
            if name in data:
                data[name] = getattr(self, name)
        if self.country_shares:  # "60", 60 and "60.0" are the same share: store one form
            data["country_shares"] = [
                {"country": s.country, "share": str(s.share.quantize(Decimal("0.01")))}
                for s in self.country_shares
            ]
        return data


class _TransitionIn(InputModel):
    comment: Comment | None = Field(default=None, description="Note for the audit trail")


class SubmitIn(_TransitionIn):
    trigger: Literal["submit"]


class WithdrawIn(_TransitionIn):
    trigger: Literal["withdraw"]


Reasons = Annotated[
    list[Paragraph],
    Field(min_length=1, max_length=20, description="Shown to the applicant"),
]


class StartScreeningIn(_TransitionIn):
    trigger: Literal["start_screening"]


class PassScreeningIn(_TransitionIn):
    trigger: Literal["pass_screening"]


class FailScreeningIn(_TransitionIn):
    trigger: Literal["fail_screening"]
    reasons: Reasons


class ShortlistIn(_TransitionIn):
    trigger: Literal["shortlist"]


class InviteFullApplicationIn(_TransitionIn):
    trigger: Literal["invite_full_application"]
    full_application_due_at: UtcDateTime = Field(description="Deadline of the full application")


class RejectIn(_TransitionIn):
    trigger: Literal["reject"]
    reasons: Reasons


class AwardIn(_TransitionIn):
    trigger: Literal["award"]
    amount: Money | None = Field(
        default=None, description="At most the requested amount (the default)"
    )


class PlaceOnReserveIn(_TransitionIn):
    trigger: Literal["place_on_reserve"]


class PromoteIn(_TransitionIn):
    trigger: Literal["promote"]
    amount: Money | None = Field(default=None, description="Default: the requested amount")


class DeclineIn(_TransitionIn):
    trigger: Literal["decline"]


ProposalTransitionIn = Annotated[
    SubmitIn
    | WithdrawIn
    | StartScreeningIn
    | PassScreeningIn
    | FailScreeningIn
    | ShortlistIn
    | InviteFullApplicationIn
    | RejectIn
    | AwardIn
    | PlaceOnReserveIn
    | PromoteIn
    | DeclineIn,
    Field(discriminator="trigger"),
]

# Triggers a client can fire through the API (the rest are the facility's own).
PROPOSAL_TRIGGERS = frozenset(
    get_args(m.model_fields["trigger"].annotation)[0]
    for m in get_args(get_args(ProposalTransitionIn)[0])
)


class CountryShareOut(OutputModel):
    country: str
    share: Decimal


class IndicatorOut(OutputModel):
    code: str
    name: str
    unit: str | None
    baseline: Decimal | None
    target: Decimal
    sex_disaggregated: bool


class OutcomeOut(OutputModel):
    statement: str
    indicators: list[IndicatorOut]


class LogframeOut(OutputModel):
    objective: str
    outcomes: list[OutcomeOut]


class ReceiptOut(OutputModel):
    reference: str
    stage: str
    submitted_at: datetime
    content_hash: str = Field(description="SHA-256 of the canonical submitted content")


class AttachmentOut(OutputModel):
    id: uuid.UUID
    kind: str
    stage: str
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class ProposalOut(OutputModel):
    id: uuid.UUID
    call_id: uuid.UUID
    organisation_id: uuid.UUID
    stage: str
    status: str
    editable: bool
    version: int
    reference: str | None
    title: str | None
    summary: str | None
    primary_priority: str | None
    secondary_priorities: list[str]
    country_shares: list[CountryShareOut]
    requested_amount: Decimal | None
    total_budget: Decimal | None
    cofinancing_pct: Decimal | None = Field(description="Derived: share of the total not requested")
    duration_months: int | None
    planned_start: date | None
    gender_marker: int | None
    gender_justification: str | None
    climate_adaptation_marker: int | None
    climate_adaptation_justification: str | None
    climate_mitigation_marker: int | None
    climate_mitigation_justification: str | None
    logframe: LogframeOut | None
    receipt: ReceiptOut | None
    attachments: list[AttachmentOut]
    available_transitions: list[str]
    full_application_due_at: datetime | None
    concept_note_amount: Decimal | None
    created_at: datetime
    updated_at: datetime


class ProposalSummaryOut(OutputModel):
    id: uuid.UUID
    call_id: uuid.UUID
    organisation_id: uuid.UUID
    stage: str
    status: str
    reference: str | None
    title: str | None
    primary_priority: str | None
    requested_amount: Decimal | None
    submitted_at: datetime | None
    updated_at: datetime


class SubmissionOut(OutputModel):
    stage: str
    reference: str
    submitted_at: datetime
    content_hash: str
    content: dict[str, Any]


class HistoryActorOut(OutputModel):
    role: str
    id: uuid.UUID | None = Field(description="Hidden from applicants for facility staff")


class HistoryEntryOut(OutputModel):
    id: int
    event: str
    trigger: str | None
    from_state: str | None
    to_state: str | None
    occurred_at: datetime
    actor: HistoryActorOut
    comment: str | None
    payload: dict[str, Any]
