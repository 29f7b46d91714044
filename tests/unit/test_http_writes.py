"""A response's head goes out with its body (issue 8, http_writes.py): one write where uvicorn
makes two, the same bytes in the same order, and nothing held past the loop's next step or a
close."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from accessgraph.http_writes import JOIN_AT_MOST, HeadWithBody, HttpProtocol

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class Recorded:
    """A transport that records what is written to it, and its other calls."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.calls: list[str] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.calls.append("close")

    def abort(self) -> None:
        self.calls.append("abort")

    def write_eof(self) -> None:
        self.calls.append("write_eof")

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


async def _proxied() -> tuple[Recorded, Any]:
    recorded = Recorded()
    return recorded, HeadWithBody(recorded, asyncio.get_running_loop())  # type: ignore[arg-type]


async def test_a_head_goes_out_with_its_body_in_one_write() -> None:
    recorded, proxy = await _proxied()
    proxy.write(HEAD)
    assert recorded.writes == []
    proxy.write(memoryview(b"hello"))
    assert recorded.writes == [HEAD + b"hello"]
    await asyncio.sleep(0)  # the flush that was due is cancelled: nothing more
    assert recorded.writes == [HEAD + b"hello"]


async def test_a_head_alone_goes_out_at_the_next_step() -> None:
    recorded, proxy = await _proxied()
    proxy.write(HEAD)  # a streamed response: its body comes later
    await asyncio.sleep(0)
    assert recorded.writes == [HEAD]
    proxy.write(b"chunk")
    assert recorded.writes == [HEAD, b"chunk"]


async def test_other_writes_go_out_at_once_in_order() -> None:
    recorded, proxy = await _proxied()
    proxy.write(b"not a head\r\n\r\n")
    proxy.write(b"HTTP/1.1 but not ending a head")
    assert recorded.writes == [b"not a head\r\n\r\n", b"HTTP/1.1 but not ending a head"]


@pytest.mark.parametrize("ending", ["close", "write_eof"])
async def test_a_held_head_goes_out_before_the_connection_ends(ending: str) -> None:
    recorded, proxy = await _proxied()
    proxy.write(HEAD)
    getattr(proxy, ending)()
    assert recorded.writes == [HEAD] and recorded.calls == [ending]
    await asyncio.sleep(0)
    assert recorded.writes == [HEAD]  # once


async def test_an_abort_drops_a_held_head_as_it_drops_unsent_bytes() -> None:
    recorded, proxy = await _proxied()
    proxy.write(HEAD)
    proxy.abort()
    await asyncio.sleep(0)
    assert recorded.writes == [] and recorded.calls == ["abort"]


async def test_everything_else_is_the_transport_s() -> None:
    _, proxy = await _proxied()
    assert proxy.get_extra_info("peername") == ("127.0.0.1", 1)


async def test_a_long_body_goes_out_after_its_head_uncopied() -> None:
    recorded, proxy = await _proxied()
    body = b"x" * (JOIN_AT_MOST + 1)
    proxy.write(HEAD)
    proxy.write(body)
    assert recorded.writes == [HEAD, body]


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Five bytes at once; at /stream, in two chunks with a wait between."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/upload":
        message = await receive()  # the body, which a client expecting 100 waits to send
        body = message.get("body", b"")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})
        return
    streamed = scope["path"] == "/stream"
    headers = [] if streamed else [(b"content-length", b"5")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    if streamed:
        await send({"type": "http.response.body", "body": b"hel", "more_body": True})
        await asyncio.sleep(0.01)
    await send({"type": "http.response.body", "body": b"lo" if streamed else b"hello"})


@contextlib.asynccontextmanager
async def _served(port: int, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[bytes]]:
    """`_app` served by uvicorn with the protocol; yields what reaches the socket's transport."""
    sent: list[bytes] = []
    original_init = HeadWithBody.__init__

    def counting_init(self: HeadWithBody, transport: Any, loop: Any) -> None:
        class Counting:
            def __getattr__(self, name: str) -> Any:
                return getattr(transport, name)

            def write(self, data: Any) -> None:
                sent.append(bytes(data))
                transport.write(data)

        original_init(self, Counting(), loop)  # type: ignore[arg-type]

    monkeypatch.setattr(HeadWithBody, "__init__", counting_init)
    server = uvicorn.Server(uvicorn.Config(_app, port=port, http=HttpProtocol, log_level="error"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # up to 5 s
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield sent
    finally:
        server.should_exit = True
        await serving


async def test_a_served_response_is_one_write(
    unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two plain responses on one keep-alive connection and a streamed one, each whole."""
    base = f"http://127.0.0.1:{unused_tcp_port}"
    async with _served(unused_tcp_port, monkeypatch) as sent, httpx.AsyncClient() as client:
        for path in ("/", "/", "/stream"):
            response = await client.get(base + path)
            assert (response.status_code, response.content) == (200, b"hello")
    # One write per plain response (uvicorn alone: two); the streamed one's head goes with
    # its first chunk, the last chunk with the end.
    assert len(sent) == 1 + 1 + 2
    assert sent[0].startswith(b"HTTP/1.1 200 OK\r\n") and sent[0].endswith(b"\r\n\r\nhello")


async def _exchange(port: int, request: bytes, then: bytes = b"") -> bytes:
    """`request` on a raw connection (and `then`, once something came back); all it got."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    received = await asyncio.wait_for(reader.read(65536), 5)
    if then:
        writer.write(then)
        received += await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    await writer.wait_closed()
    return received


async def test_a_head_request_gets_its_head(
    unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _served(unused_tcp_port, monkeypatch):
        received = await _exchange(
            unused_tcp_port, b"HEAD / HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n"
        )
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(b"\r\n\r\n") and b"hello" not in received


async def test_a_client_expecting_100_gets_it_before_sending_its_body(
    unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with _served(unused_tcp_port, monkeypatch):
        received = await _exchange(
            unused_tcp_port,
            b"POST /upload HTTP/1.1\r\nhost: t\r\ncontent-length: 4\r\n"
            b"expect: 100-continue\r\nconnection: close\r\n\r\n",
            then=b"ping",
        )
    assert received.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    assert received.endswith(b"\r\n\r\n4\r\nping\r\n0\r\n\r\n")  # chunked
