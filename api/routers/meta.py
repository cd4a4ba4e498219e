from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from sqlalchemy import text

from api.deps import Session
from api.problems import PROBLEM_TYPES
from facility.errors import NotFound

router = APIRouter(tags=["meta"])


@router.get("/health", summary="Liveness and database reachability")
async def health(session: Session) -> dict[str, str]:
    await session.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/problems/{slug}", response_class=PlainTextResponse, include_in_schema=False)
async def problem_type(slug: str) -> str:
    if slug not in PROBLEM_TYPES:
        raise NotFound("No such problem type")
    return f"{slug}: {PROBLEM_TYPES[slug]}\n"
