"""Request bodies are refused past a size limit, as problem details, before they fill memory
or disk. File uploads get the attachment limit (plus room for the multipart envelope); every
other body the much smaller JSON limit.

A pure ASGI middleware rather than FastAPI's ``max_body_size``: Starlette answers an
announced oversize body with a plain-text 413, and clients of this API expect
``application/problem+json`` for every error.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response

MULTIPART_OVERHEAD = 64 * 1024


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds the {limit} bytes this endpoint accepts")


class BodyLimit:
    def __init__(
        self, app: ASGIApp, *, default: int, uploads: int, upload_routes: Iterable[BaseRoute]
    ) -> None:
        self.app = app
        self.default = default
        self.uploads = uploads
        self.upload_routes = list(upload_routes)

    def limit_for(self, scope: Scope) -> int:
        for route in self.upload_routes:
            if route.matches(scope)[0] is Match.FULL:
                return self.uploads
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope)
        announced = _content_length(scope)
        if announced is not None and announced > limit:
            # Refused before a byte of the body is read; the client may stop sending.
            error = BodyTooLarge(limit)
            response = problem_response(
                Request(scope), status=413, slug="payload-too-large",
                title="The request is too large", detail=str(error.detail),
                headers={"Connection": "close"},
            )  # fmt: skip
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            # Content-Length may be absent (chunked) or understate the body: count what comes.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)  # answered by the HTTPException handler
            return message

        await self.app(scope, counted, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
