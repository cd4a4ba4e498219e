"""RFC 9457 problem details for every error the API returns.

Each problem has a ``type`` (``/problems/<slug>``, documented at that path), a ``title``, the
HTTP ``status``, a ``detail`` for this occurrence, the ``instance`` path, and, for invalid
input, ``errors``: one entry per failure with its location and a JSON Pointer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from facility import errors as domain
from facility.lifecycle import TransitionRefused

log = logging.getLogger("facility.api")

PROBLEM_JSON = "application/problem+json"

STATUS_BY_ERROR: dict[type[domain.DomainError], int] = {
    domain.NotFound: 404,
    domain.Forbidden: 403,
    domain.Unauthenticated: 401,
    domain.Conflict: 409,
    domain.PreconditionRequired: 428,
    domain.PreconditionFailed: 412,
    domain.PayloadTooLarge: 413,
    domain.UnsupportedMediaType: 415,
    domain.InvalidInput: 422,
}

# Human descriptions served at /problems/<slug>.
PROBLEM_TYPES: dict[str, str] = {
    "validation-error": "The request is well-formed JSON but breaks a rule; see `errors`.",
    "transition-refused": "The workflow transition's conditions are not met; `errors` lists "
    "every unmet condition, located in the subject (e.g. the proposal).",
    "idempotency-key-reused": "The Idempotency-Key was already used with a different body.",
    "not-found": "No such resource, or not one you may see.",
    "forbidden": "Your role may not do this.",
    "unauthenticated": "A valid bearer token is required (POST /api/v1/auth/token).",
    "conflict": "The request conflicts with the resource's current state.",
    "precondition-required": "Send If-Match with the ETag you last read.",
    "precondition-failed": "The resource changed since you read it; fetch it again.",
    "payload-too-large": "The request body or the uploaded file exceeds its size limit.",
    "unsupported-media-type": "Only PDF, DOCX, XLSX, ODT and ODS files, checked by content.",
    "declaration-required": "Declare impartiality and confidentiality for this assignment first.",
    "http-error": "A generic HTTP error (unknown route, method not allowed...).",
    "service-busy": "The database is busy; retry after the indicated delay.",
    "internal-error": "An unexpected error; it has been logged.",
}


class ProblemError(BaseModel):
    model_config = ConfigDict(extra="allow")
    location: str
    field: str
    pointer: str
    detail: str
    code: str


class Problem(BaseModel):
    """Schema of every error response (application/problem+json)."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemError] | None = None


def problem_response(
    request: Request,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = list(errors)
    # Extension members never overwrite the standard ones.
    body.update({k: v for k, v in extra.items() if v is not None and k not in body})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _error_entry(
    loc: Sequence[str | int], detail: str, code: str, default_location: str
) -> dict[str, Any]:
    parts = list(loc)
    location = default_location
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        location = str(parts.pop(0))
    pointer = "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return {
        "location": location,
        "field": ".".join(str(p) for p in parts),
        "pointer": pointer if parts else "",
        "detail": detail,
        "code": code,
    }


# Transition bodies are unions keyed by "trigger": pydantic puts the tag in the error location,
# but clients think of the body's own fields, so it is taken out again (only there).
TAGGED_BODY_SUFFIX = "/transitions"


def _pydantic_entries(errors: Iterable[Any], body: Any, path: str) -> list[dict[str, Any]]:
    entries = []
    tag = body.get("trigger") if isinstance(body, dict) else None
    strip_tag = path.endswith(TAGGED_BODY_SUFFIX) and isinstance(tag, str)
    for err in errors:
        # Never echo the input back: it may be huge, binary or hostile.
        loc = [p for p in err.get("loc", ()) if p is not None and p != "[key]"]
        kind = str(err.get("type"))
        if strip_tag and len(loc) >= 2 and loc[0] == "body" and loc[1] == tag:
            del loc[1]
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            loc.append(str((err.get("ctx") or {}).get("discriminator", "")).strip("'"))
        if kind == "json_invalid":
            loc = ["body"]  # the document itself; the position is in the message
        entries.append(_error_entry(loc, str(err.get("msg", "invalid")), kind, "body"))
    return entries


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def install(app: FastAPI) -> None:
    @app.exception_handler(domain.DomainError)
    async def _domain(request: Request, exc: domain.DomainError) -> JSONResponse:
        status = next((code for cls, code in STATUS_BY_ERROR.items() if isinstance(exc, cls)), 400)
        errors = None
        if isinstance(exc, domain.InvalidInput):
            where = "subject" if isinstance(exc, TransitionRefused) else "body"
            errors = [_error_entry(e.loc, e.detail, e.code, where) for e in exc.errors]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return problem_response(
            request, status=status, slug=exc.slug, title=exc.title, detail=exc.detail,
            errors=errors, headers=headers, **_json_safe(exc.extra),
        )  # fmt: skip

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        entries = _pydantic_entries(exc.errors(), exc.body, request.url.path)
        return problem_response(
            request, status=422, slug="validation-error", title="The request is not valid",
            detail=f"{len(entries)} problem(s) with the request", errors=entries,
        )  # fmt: skip

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:  # the body limit, counted while the body streams in
            return problem_response(
                request, status=413, slug="payload-too-large", title="The request is too large",
                detail=str(exc.detail),
            )  # fmt: skip
        return problem_response(
            request, status=exc.status_code, slug="http-error", title=str(exc.detail),
            detail=str(exc.detail), headers=getattr(exc, "headers", None),
        )  # fmt: skip

    @app.exception_handler(StaleDataError)
    async def _stale(request: Request, exc: StaleDataError) -> JSONResponse:
        return problem_response(
            request, status=409, slug="conflict", title="Conflicts with the current state",
            detail="The resource was changed concurrently; reload it and try again",
        )  # fmt: skip

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        """Database errors the domain checks did not anticipate, answered by their SQLSTATE
        class: 22 bad data (422), 23 a constraint (409), 40 a deadlock or serialisation
        failure (503, retry), 53/57/08 unavailable (503); anything else is a 500."""
        state = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", "") or "")
        if isinstance(exc, IntegrityError) or state.startswith("23"):
            log.info("integrity error mapped to 409: %s", exc.orig)
            return problem_response(
                request, status=409, slug="conflict", title="Conflicts with the current state",
                detail="The request conflicts with data written at the same time; retry",
            )  # fmt: skip
        if isinstance(exc, DataError) or state.startswith("22"):
            log.warning("data error reached the database: %s", exc.orig)
            return problem_response(
                request, status=422, slug="validation-error", title="The request is not valid",
                detail="A value is outside what can be stored",
            )  # fmt: skip
        if isinstance(exc, OperationalError) or state[:2] in ("40", "53", "57", "08"):
            log.error("database busy or unavailable: %s", exc.orig)
            return problem_response(
                request, status=503, slug="service-busy", title="The database is busy",
                detail="Please retry shortly", headers={"Retry-After": "2"},
            )  # fmt: skip
        log.exception("database error on %s %s", request.method, request.url.path)
        return problem_response(
            request, status=500, slug="internal-error", title="Internal error",
            detail="An unexpected error occurred; it has been logged",
        )  # fmt: skip

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            request, status=500, slug="internal-error", title="Internal error",
            detail="An unexpected error occurred; it has been logged",
        )  # fmt: skip


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries declaring problem bodies for the given statuses (and
    always 422: any parameter can be malformed, and it is a problem too)."""
    statuses = tuple(sorted({*statuses, 422}))
    described = {
        400: "Bad request", 401: "Not authenticated", 403: "Not allowed for your role",
        404: "Not found (or not yours)", 409: "Conflicts with the current state",
        412: "Stale If-Match", 413: "Too large", 415: "Unsupported file type",
        422: "Invalid input (errors lists every failure)", 428: "If-Match required",
    }  # fmt: skip
    return {
        s: {
            "description": described.get(s, "Error"),
            "model": Problem,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }
