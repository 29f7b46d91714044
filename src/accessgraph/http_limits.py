"""Request limits at the HTTP edge: body size and time.

A body over the limit is refused with 413 before the GraphQL layer parses a byte of it (by its
Content-Length, or while it streams in when it has none). A request still running after the
timeout is cancelled: its transaction rolls back (each mutation is one transaction), and the
client gets a GraphQL error with code TIMEOUT (HTTP 503, so proxies and clients may retry).
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("accessgraph.limits")

TIMEOUT = "TIMEOUT"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


class BodyTooLarge(Exception):
    pass


class RequestLimits:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_body_bytes:
            await _error(send, 413, PAYLOAD_TOO_LARGE, self._too_large())
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            async with asyncio.timeout(self.timeout_seconds):
                await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _error(send, 413, PAYLOAD_TOO_LARGE, self._too_large())
        except TimeoutError:
            log.warning("request cancelled after %ss: %s", self.timeout_seconds, scope["path"])
            if not started:
                message = f"The request ran past {self.timeout_seconds:g} s and was cancelled."
                await _error(send, 503, TIMEOUT, message)

    def _too_large(self) -> str:
        return f"The request body is larger than {self.max_body_bytes:,} bytes."


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _error(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps(
        {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    )
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
