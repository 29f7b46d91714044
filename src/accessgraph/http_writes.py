"""uvicorn's httptools protocol, sending a response's head with its body (issue 8).

uvicorn writes a response's status line and headers when the app starts the response, and the
body when the app sends it: two `send` calls and two TCP segments per response, where one does.
Here the connection's transport holds a response's head until the next write, which the app
makes in the same step of the event loop (Starlette sends the start and the whole body one after
the other), and sends both at once. A head that nothing follows in that step (a streamed
response, `100 Continue`) goes out at the loop's next step, and before any close of the
connection, so the bytes and their order on the wire are unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

PROTOCOL = "accessgraph.http_writes:HttpProtocol"  # uvicorn's `http` option
# A body this long goes out on its own after the head: joining them would copy it.
JOIN_AT_MOST = 64 * 1024


class HeadWithBody:
    """A transport's proxy that holds a response's head until the bytes that follow it."""

    __slots__ = ("_flush", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush: asyncio.Handle | None = None

    def __getattr__(self, name: str) -> Any:  # everything else is the transport's own
        return getattr(self._transport, name)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._release()
            if len(data) <= JOIN_AT_MOST:
                self._transport.write(held + data)
                return
            self._transport.write(held)
            self._transport.write(data)
        elif data[:9] == b"HTTP/1.1 " and data[-4:] == b"\r\n\r\n":  # a response's head
            self._held = bytes(data)
            self._flush = self._loop.call_soon(self.send_held)
        else:
            self._transport.write(data)

    def send_held(self) -> None:
        """Send the held head, if any (what follows it did not come in the same step)."""
        held = self._held
        if held is not None:
            self._release()
            self._transport.write(held)

    def _release(self) -> None:
        self._held = None
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None

    def writelines(self, lines: Any) -> None:
        self.write(b"".join(lines))

    def write_eof(self) -> None:
        self.send_held()
        self._transport.write_eof()

    def close(self) -> None:
        self.send_held()
        self._transport.close()

    def abort(self) -> None:
        self._release()
        self._transport.abort()


class HttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, HeadWithBody(transport, self.loop)))
