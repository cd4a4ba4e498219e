"""Uploads in, stored files out: shared by proposal and report attachments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from fastapi import UploadFile
from fastapi.responses import FileResponse

from api.problems import responses
from facility.attachments.storage import ContentStore

CHUNK = 1024 * 1024


class StoredFile(Protocol):
    sha256: str
    media_type: str
    filename: str


async def chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(CHUNK):
        yield chunk


def download(store: ContentStore, stored: StoredFile) -> FileResponse:
    """The file as an attachment, never rendered inline, never cached by intermediaries."""
    return FileResponse(
        store.path_for(stored.sha256),
        media_type=stored.media_type,
        filename=stored.filename,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )


DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/octet-stream": {}}},
    **responses(401, 403, 404),
}
