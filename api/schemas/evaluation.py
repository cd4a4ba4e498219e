from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from api.schemas.common import (
    Comment,
    CountryCode,
    InputModel,
    Marker,
    Name,
    OutputModel,
    Paragraph,
    StrictBool,
    UtcDateTime,
)
from facility.reference_data import Priority

CriterionId = Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._-]{0,9}$")]
SectionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2}$", description="ISO 639-1")]
Recommendation = Literal["recommended", "recommended_with_changes", "not_recommended"]


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


class AffiliationIn(InputModel):
    name: Name
    country: CountryCode
    registration_number: Name


class EvaluatorProfileIn(InputModel):
    expertise: Annotated[list[Priority], Field(max_length=6), AfterValidator(_unique)] = Field(
        default_factory=list, description="Istanbul priorities the evaluator is expert in"
    )
    languages: Annotated[list[LanguageCode], Field(max_length=20), AfterValidator(_unique)] = Field(
        default_factory=list
    )
    countries: Annotated[list[CountryCode], Field(max_length=20), AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Nationality and residence: never assigned to applicants from these",
    )
    affiliations: list[AffiliationIn] = Field(
        default_factory=list, max_length=50,
        description="Organisations the evaluator works or worked for",
    )  # fmt: skip


class AffiliationOut(OutputModel):
    name: str
    country: str
    registration_number: str


class EvaluatorProfileOut(OutputModel):
    user_id: uuid.UUID
    expertise: list[str]
    languages: list[str]
    countries: list[str]
    affiliations: list[AffiliationOut]
    updated_at: datetime


class EvaluatorOut(OutputModel):
    id: uuid.UUID
    full_name: str
    email: str
    is_active: bool
    profile: EvaluatorProfileOut | None
    open_assignments: int


class AssignIn(InputModel):
    evaluator_id: uuid.UUID
    due_at: UtcDateTime | None = Field(default=None, description="Default: the call's period")
    justification: Comment | None = Field(
        default=None, description="Required to override a conflict rule; recorded"
    )


class DeclarationIn(InputModel):
    conflict_of_interest: StrictBool
    statement: Annotated[Paragraph, Field(description="Impartiality and confidentiality")]


class AssignmentTransitionIn(InputModel):
    trigger: Literal["withdraw"]
    comment: Comment | None = None


class EvaluationIn(InputModel):
    """The whole draft (PUT replaces it). Scores are integers within each criterion's range;
    subtotals and totals are computed by the facility."""

    scores: Annotated[
        dict[CriterionId, Annotated[int, Field(ge=0, le=100, strict=True)]], Field(max_length=100)
    ] = Field(default_factory=dict)
    section_comments: Annotated[dict[SectionId, Paragraph], Field(max_length=20)] = Field(
        default_factory=dict
    )
    gender_marker: Marker | None = None
    gender_justification: Paragraph | None = None
    climate_adaptation_marker: Marker | None = None
    climate_adaptation_justification: Paragraph | None = None
    climate_mitigation_marker: Marker | None = None
    climate_mitigation_justification: Paragraph | None = None
    primary_priority_confirmed: StrictBool | None = None
    strengths: Paragraph | None = None
    weaknesses: Paragraph | None = None
    recommendation: Recommendation | None = None


class EvaluationOut(OutputModel):
    assignment_id: uuid.UUID
    status: str = Field(description="The assignment's status")
    scores: dict[str, int]
    section_comments: dict[str, str]
    gender_marker: int | None
    gender_justification: str | None
    climate_adaptation_marker: int | None
    climate_adaptation_justification: str | None
    climate_mitigation_marker: int | None
    climate_mitigation_justification: str | None
    primary_priority_confirmed: bool | None
    strengths: str | None
    weaknesses: str | None
    recommendation: str | None
    section_scores: dict[str, Decimal] = Field(description="Computed: Σ score × weight")
    total: Decimal | None
    submitted_at: datetime | None
    missing: list[str] = Field(description="What submit would still refuse")


class EvaluatorRefOut(OutputModel):
    id: uuid.UUID
    full_name: str


class AssignmentOut(OutputModel):
    """An evaluator's view: no content of the proposal before the declaration."""

    id: uuid.UUID
    proposal_id: uuid.UUID
    proposal_reference: str | None
    proposal_title: str | None = Field(description="Shown once the declaration is made")
    call_id: uuid.UUID
    call_reference: str
    stage: str
    status: str
    is_arbitration: bool
    due_at: datetime
    overdue: bool
    declared_at: datetime | None
    submitted_at: datetime | None
    available_transitions: list[str]


class AssignmentStaffOut(OutputModel):
    id: uuid.UUID
    proposal_id: uuid.UUID
    evaluator: EvaluatorRefOut
    stage: str
    status: str
    is_arbitration: bool
    due_at: datetime
    overdue: bool
    created_at: datetime
    assigned_by_id: uuid.UUID | None
    override_justification: str | None
    declared_at: datetime | None
    conflict_of_interest: bool | None
    declaration_statement: str | None
    submitted_at: datetime | None


class AutoAssignOut(OutputModel):
    created: list[AssignmentStaffOut]
    unfilled: dict[str, int] = Field(description="Proposal id → places no eligible evaluator took")


class StaffEvaluationOut(OutputModel):
    assignment: AssignmentStaffOut
    evaluation: EvaluationOut | None


class ResultOut(OutputModel):
    stage: str
    section_scores: dict[str, Decimal]
    total: Decimal
    spread: Decimal
    evaluations_count: int
    gender_marker: int
    climate_adaptation_marker: int
    climate_mitigation_marker: int
    passed: bool
    reasons: list[str]
    computed_at: datetime


class RankingRowOut(OutputModel):
    rank: int
    proposal_id: uuid.UUID
    reference: str | None
    title: str | None
    organisation_id: uuid.UUID
    status: str
    section_scores: dict[str, Decimal]
    total: Decimal
    gender_marker: int
    climate_adaptation_marker: int
    climate_mitigation_marker: int
    requested_amount: Decimal
    cumulative_requested: Decimal
    within_cut: bool
    submitted_at: datetime


class RankingOut(OutputModel):
    call_id: uuid.UUID
    stage: str
    currency: str
    budget_envelope: Decimal
    cut_percent: int
    cut_amount: Decimal = Field(description="Cumulative requests above this are below the cut")
    cut_after_rank: int | None = Field(description="Last rank inside the cut")
    rows: list[RankingRowOut]
