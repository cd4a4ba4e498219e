from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import (
    CountryCode,
    Email,
    InputModel,
    Language,
    Name,
    OrganisationType,
    OutputModel,
    PersonName,
    RegistrationNumber,
    StrictBool,
)


class OrganisationIn(InputModel):
    name: Name
    iati_type: OrganisationType = Field(description="IATI OrganisationType code, e.g. 22")
    country: CountryCode
    registration_number: RegistrationNumber


class RegisterIn(InputModel):
    email: Email
    password: str = Field(min_length=1, max_length=128)
    full_name: PersonName
    preferred_language: Language = "en"
    organisation: OrganisationIn


class StaffUserIn(InputModel):
    email: Email
    password: str = Field(min_length=1, max_length=128)
    full_name: PersonName
    role: Literal["evaluator", "fund_manager", "admin"]
    preferred_language: Language = "en"


class UserStatusIn(InputModel):
    is_active: StrictBool


class MeUpdateIn(InputModel):
    full_name: PersonName | None = None
    preferred_language: Language | None = None
    reminders_opt_out: StrictBool | None = Field(
        default=None, description="Stop reminders (decisions are always sent)"
    )


class OrganisationOut(OutputModel):
    id: uuid.UUID
    name: str
    iati_type: int
    country: str
    registration_number: str


class UserOut(OutputModel):
    id: uuid.UUID
    email: str
    full_name: str
    role: str
    is_active: StrictBool
    preferred_language: str
    reminders_opt_out: bool
    organisation: OrganisationOut | None
    created_at: datetime


class TokenOut(OutputModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int = Field(description="Seconds until the token expires")
