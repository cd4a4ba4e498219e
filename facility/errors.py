"""Domain errors. The API maps each to an RFC 9457 problem; the domain never speaks HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with the input, located by a path into the request body."""

    loc: tuple[str | int, ...]
    detail: str
    code: str = "invalid"


class DomainError(Exception):
    """Base class: ``slug`` names the problem type, ``title`` is its short human summary."""

    slug = "domain-error"
    title = "The request cannot be carried out"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    slug = "not-found"
    title = "Not found"


class Forbidden(DomainError):
    slug = "forbidden"
    title = "Not allowed for your role"


class DeclarationRequired(Forbidden):
    slug = "declaration-required"
    title = "Declare impartiality and confidentiality first"


class Unauthenticated(DomainError):
    slug = "unauthenticated"
    title = "Authentication required"


class Conflict(DomainError):
    slug = "conflict"
    title = "Conflicts with the current state"


class PreconditionRequired(DomainError):
    slug = "precondition-required"
    title = "If-Match header required"


class PreconditionFailed(DomainError):
    slug = "precondition-failed"
    title = "The resource has changed since you read it"


class PayloadTooLarge(DomainError):
    slug = "payload-too-large"
    title = "Payload too large"


class UnsupportedMediaType(DomainError):
    slug = "unsupported-media-type"
    title = "Unsupported file type"


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a domain rule; lists every failure at once."""

    slug = "validation-error"
    title = "The request body is not valid"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        self.errors = list(errors)
        super().__init__(detail or "; ".join(e.detail for e in self.errors[:5]))
