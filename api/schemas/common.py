"""Shared field types. Input models forbid unknown fields; strings refuse control characters
(PostgreSQL rejects NUL bytes, and none of them belong in a title)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

from facility.reference_data import IATI_ORGANISATION_TYPES, ISO_COUNTRIES

_ALLOWED_CONTROL = {"\n", "\r", "\t"}


def _is_control(ch: str) -> bool:
    code = ord(ch)
    return (code < 32 and ch not in _ALLOWED_CONTROL) or 127 <= code <= 159  # C0, DEL, C1


def _no_control_characters(value: str) -> str:
    if any(_is_control(ch) for ch in value):
        raise ValueError("control characters (such as NUL) are not allowed")
    return value


def _single_line(value: str) -> str:
    if any(ch in value for ch in "\n\r\u2028\u2029"):
        raise ValueError("must be a single line")
    return value


def _utc(value: datetime) -> datetime:
    try:
        converted = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise ValueError("the time is out of range") from exc
    if not 1970 <= converted.year <= 2200:
        raise ValueError("the time must fall between 1970 and 2200")
    return converted


def _country(value: str) -> str:
    if value not in ISO_COUNTRIES:
        raise ValueError("not an ISO 3166-1 alpha-2 country code (upper case, e.g. KG)")
    return value


def _org_type(value: int) -> int:
    if value not in IATI_ORGANISATION_TYPES:
        raise ValueError(
            "not an IATI organisation type code ("
            + ", ".join(map(str, IATI_ORGANISATION_TYPES))
            + ")"
        )
    return value


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("values must be unique")
    return values


Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
    AfterValidator(_no_control_characters),
    AfterValidator(_single_line),
]
PersonName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
    AfterValidator(_no_control_characters),
    AfterValidator(_single_line),
]
RegistrationNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(_no_control_characters),
    AfterValidator(_single_line),
]
Paragraph = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000),
    AfterValidator(_no_control_characters),
]
LongText = Annotated[
    str,
    StringConstraints(max_length=20_000),
    AfterValidator(_no_control_characters),
]
Comment = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=5_000),
    AfterValidator(_no_control_characters),
]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Reference = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9-]{1,38}[A-Z0-9]$")]
CountryCode = Annotated[str, AfterValidator(_country)]
OrganisationType = Annotated[int, Strict(), AfterValidator(_org_type)]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


Money = Annotated[
    Decimal, Field(gt=0, le=Decimal("1000000000000"), decimal_places=2), AfterValidator(_cents)
]
Percent = Annotated[Decimal, Field(ge=0, le=100, decimal_places=2), AfterValidator(_cents)]
# Integers and booleans are strict: "12", 12.0 or true are not taken for 12, nor "no" for false.
StrictBool = Annotated[bool, Strict()]
Marker = Annotated[
    int, Strict(), Field(ge=0, le=2, description="0 not targeted, 1 significant, 2 principal")
]
UniqueSlugs = Annotated[list[Slug], Field(max_length=30), AfterValidator(_unique)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=254,
        pattern=r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$",
    ),
]
Language = Annotated[str, StringConstraints(pattern=r"^(en|ru)$")]
# A time with an explicit offset, normalised to UTC on the way in.
UtcDateTime = Annotated[AwareDatetime, AfterValidator(_utc)]


class InputModel(BaseModel):
    """Base of every request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_max_length=20_000)


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as `cursor` to get the next page; null on the last page"
    )


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (ValueError, TypeError):
        return None
