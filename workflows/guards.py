"""Guards: pure functions of a snapshot that say why a transition may not happen (if it may not).

A guard returns every refusal it finds, not just the first, so a user fixes everything in
one go. Guards read plain data handed over by the domain layer; they never do I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str
    # Path of the offending field in the subject (e.g. ("requested_amount",)), if any.
    field: tuple[str | int, ...] = ()


@dataclass(frozen=True)
class GuardContext:
    subject: Mapping[str, Any]
    role: str
    now: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, Any] = field(default_factory=dict)


Guard = Callable[[GuardContext], Iterable[Refusal]]


class GuardRegistry(dict[str, Guard]):
    """Name → guard. Definitions refer to guards by name; validation checks they exist."""

    def register(self, fn: Guard) -> Guard:
        if fn.__name__ in self:
            raise ValueError(f"guard {fn.__name__!r} registered twice")
        self[fn.__name__] = fn
        return fn
