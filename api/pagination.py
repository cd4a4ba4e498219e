"""Cursor pagination: opaque cursors, capped page size."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from api.deps import ServicesDep
from api.schemas.common import decode_cursor, encode_cursor
from facility.errors import FieldError, InvalidInput


@dataclass(frozen=True)
class PageParams:
    limit: int
    after: uuid.UUID | None


def page_params(
    svc: ServicesDep,
    limit: Annotated[int | None, Query(ge=1, le=500, description="Page size (capped)")] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="From next_cursor")] = None,
) -> PageParams:
    size = min(limit or svc.settings.page_size_default, svc.settings.page_size_max)
    after = None
    if cursor is not None:
        after = decode_cursor(cursor)
        if after is None:
            raise InvalidInput([FieldError(("query", "cursor"), "Not a cursor from this API")])
    return PageParams(limit=size, after=after)


Pagination = Annotated[PageParams, Depends(page_params)]


def next_cursor(ids: list[uuid.UUID], limit: int) -> str | None:
    """Rows are fetched with limit + 1: a full extra row means there is a next page."""
    return encode_cursor(ids[limit - 1]) if len(ids) > limit else None


def check_statuses(values: list[str] | None, known: tuple[str, ...]) -> None:
    for i, value in enumerate(values or []):
        if value not in known:
            raise InvalidInput(
                [FieldError(("query", "status", i), f"Unknown status; one of {', '.join(known)}")]
            )
