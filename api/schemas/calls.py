from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field

from api.schemas.common import (
    Comment,
    CountryCode,
    InputModel,
    LongText,
    Money,
    Name,
    OrganisationType,
    OutputModel,
    Percent,
    Reference,
    Slug,
    StrictBool,
    UniqueSlugs,
    UtcDateTime,
)
from facility.reference_data import Priority

Points = Annotated[Decimal, Field(ge=0, le=100_000, decimal_places=2)]


def _unique_list(values: list[Any]) -> list[Any]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


class GridSectionIn(InputModel):
    id: Slug
    label: Name
    threshold: Points | None = Field(
        default=None, description="Minimum section subtotal; below it the proposal is rejected"
    )


class GridCriterionIn(InputModel):
    id: Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,9}$")]
    label: Name
    section: Slug
    min_score: int = Field(default=1, ge=0, le=100, strict=True)
    max_score: int = Field(ge=1, le=100, strict=True)
    weight: Decimal = Field(default=Decimal(1), gt=0, le=100, decimal_places=2)


class ChecklistItemIn(InputModel):
    id: Slug
    label: Name
    mandatory: StrictBool = Field(
        default=True, description="A failed mandatory item blocks passing"
    )


def _unique_ids(items: list[ChecklistItemIn]) -> list[ChecklistItemIn]:
    if len({i.id for i in items}) != len(items):
        raise ValueError("checklist item ids must be unique")
    return items


Checklist = Annotated[list[ChecklistItemIn], Field(max_length=30), AfterValidator(_unique_ids)]
EvaluationDays = Annotated[int, Field(ge=1, le=90, strict=True)]
AcceptanceDays = Annotated[int, Field(ge=1, le=180, strict=True)]


class GridIn(InputModel):
    sections: list[GridSectionIn] = Field(min_length=1, max_length=20)
    criteria: list[GridCriterionIn] = Field(min_length=1, max_length=100)
    pass_mark: Points


Countries = Annotated[
    list[CountryCode], Field(min_length=1, max_length=60), AfterValidator(_unique_list)
]
OrgTypes = Annotated[
    list[OrganisationType], Field(min_length=1, max_length=20), AfterValidator(_unique_list)
]
Priorities = Annotated[
    list[Priority], Field(min_length=1, max_length=6), AfterValidator(_unique_list)
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")]
Months = Annotated[int, Field(ge=1, le=120, strict=True)]


class CallCreateIn(InputModel):
    reference: Reference = Field(description="Short unique code, prefix of proposal references")
    title: Name
    description: LongText = ""
    mode: Literal["fixed_deadline", "rolling"] = "fixed_deadline"
    stages: Literal["single", "two_stage"] = "single"
    currency: Currency = "EUR"
    budget_envelope: Money
    min_grant: Money
    max_grant: Money
    min_duration_months: Months
    max_duration_months: Months
    min_cofinancing_pct: Percent = Decimal(0)
    opens_at: UtcDateTime
    closes_at: UtcDateTime | None = None
    eligible_countries: Countries
    eligible_org_types: OrgTypes
    priorities: Priorities
    concept_note_grid: GridIn | None = None
    evaluation_grid: GridIn
    evaluators_per_proposal: int = Field(default=2, ge=2, le=9, strict=True)
    divergence_threshold_pct: Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)] = Field(
        description="Largest allowed spread between evaluators' weighted totals, in percent of "
        "the grid's maximum, before a further evaluator arbitrates"
    )
    required_attachment_kinds: UniqueSlugs = Field(default_factory=list)
    concept_note_attachment_kinds: UniqueSlugs = Field(default_factory=list)
    screening_checklist: Checklist = Field(
        default_factory=list, description="Manual screening items, e.g. a signed declaration"
    )
    evaluation_period_days: EvaluationDays = Field(
        default=14, description="Days an evaluator has from assignment to submission"
    )
    auto_promote: StrictBool = Field(
        default=False, description="Promote the best reserve proposal when money is freed"
    )
    acceptance_period_days: AcceptanceDays = Field(
        default=30, description="Days to sign the contract before an award offer lapses"
    )


NOT_NULLABLE = frozenset(CallCreateIn.model_fields) - {"closes_at", "concept_note_grid"}


class CallUpdateIn(InputModel):
    """Only the fields sent change. ``null`` clears closes_at or concept_note_grid only."""

    reference: Reference | None = None
    title: Name | None = None
    description: LongText | None = None
    mode: Literal["fixed_deadline", "rolling"] | None = None
    stages: Literal["single", "two_stage"] | None = None
    currency: Currency | None = None
    budget_envelope: Money | None = None
    min_grant: Money | None = None
    max_grant: Money | None = None
    min_duration_months: Months | None = None
    max_duration_months: Months | None = None
    min_cofinancing_pct: Percent | None = None
    opens_at: UtcDateTime | None = None
    closes_at: UtcDateTime | None = None
    eligible_countries: Countries | None = None
    eligible_org_types: OrgTypes | None = None
    priorities: Priorities | None = None
    concept_note_grid: GridIn | None = None
    evaluation_grid: GridIn | None = None
    evaluators_per_proposal: int | None = Field(default=None, ge=2, le=9, strict=True)
    divergence_threshold_pct: Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)] | None = (
        None
    )
    required_attachment_kinds: UniqueSlugs | None = None
    concept_note_attachment_kinds: UniqueSlugs | None = None
    screening_checklist: Checklist | None = None
    evaluation_period_days: EvaluationDays | None = None
    auto_promote: StrictBool | None = None
    acceptance_period_days: AcceptanceDays | None = None


class _TransitionIn(InputModel):
    comment: Comment | None = Field(default=None, description="Internal note for the audit trail")


class PublishIn(_TransitionIn):
    trigger: Literal["publish"]


class ExtendDeadlineIn(_TransitionIn):
    trigger: Literal["extend_deadline"]
    closes_at: UtcDateTime = Field(description="The new deadline; only later than the current")


class CloseIn(_TransitionIn):
    trigger: Literal["close"]


class FinaliseIn(_TransitionIn):
    trigger: Literal["finalise"]


class CancelIn(_TransitionIn):
    trigger: Literal["cancel"]
    reason: Annotated[Comment, Field(min_length=1)]


CallTransitionIn = Annotated[
    PublishIn | ExtendDeadlineIn | CloseIn | FinaliseIn | CancelIn,
    Field(discriminator="trigger"),
]


class ChecklistItemOut(OutputModel):
    id: str
    label: str
    mandatory: bool


class GridSectionOut(OutputModel):
    id: str
    label: str
    threshold: Decimal | None
    max_points: Decimal


class GridCriterionOut(OutputModel):
    id: str
    label: str
    section: str
    min_score: int
    max_score: int
    weight: Decimal


class GridOut(OutputModel):
    sections: list[GridSectionOut]
    criteria: list[GridCriterionOut]
    pass_mark: Decimal
    max_points: Decimal


class CallOut(OutputModel):
    id: uuid.UUID
    reference: str
    title: str
    description: str
    status: str
    mode: str
    stages: str
    currency: str
    budget_envelope: Decimal
    min_grant: Decimal
    max_grant: Decimal
    min_duration_months: int
    max_duration_months: int
    min_cofinancing_pct: Decimal
    opens_at: datetime
    closes_at: datetime | None
    accepting_submissions: bool = Field(
        description="Published, opened, and the deadline (if any) not passed"
    )
    eligible_countries: list[str]
    eligible_org_types: list[int]
    priorities: list[str]
    concept_note_grid: GridOut | None
    evaluation_grid: GridOut
    evaluators_per_proposal: int
    divergence_threshold_pct: Decimal
    required_attachment_kinds: list[str]
    concept_note_attachment_kinds: list[str]
    screening_checklist: list[ChecklistItemOut]
    evaluation_period_days: int
    auto_promote: bool
    acceptance_period_days: int
    committed_amount: Decimal = Field(description="Sum of active awards")
    remaining_envelope: Decimal
    closed_reason: str | None
    published_at: datetime | None
    version: int
    available_transitions: list[str] = Field(description="Triggers you may fire now")
