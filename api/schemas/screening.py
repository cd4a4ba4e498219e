from __future__ import annotations

from datetime import datetime

from pydantic import Field

from api.schemas.common import Comment, InputModel, OutputModel, Slug, StrictBool


class ChecklistResultIn(InputModel):
    id: Slug
    passed: StrictBool
    note: Comment | None = Field(default=None, description="Required when the item failed")


class ScreeningIn(InputModel):
    items: list[ChecklistResultIn] = Field(max_length=30)


class AutomaticCheckOut(OutputModel):
    id: str
    label: str
    passed: StrictBool
    details: list[str]


class ChecklistItemResultOut(OutputModel):
    id: str
    label: str
    mandatory: bool
    passed: bool | None
    note: str | None


class ScreeningOut(OutputModel):
    proposal_id: str
    stage: str
    status: str = Field(description="The proposal's status")
    automatic_checks: list[AutomaticCheckOut]
    checklist: list[ChecklistItemResultOut]
    started_at: datetime
    updated_at: datetime
    outcome: str | None
    decided_at: datetime | None
    blocking: list[str] = Field(description="What prevents pass_screening now")
