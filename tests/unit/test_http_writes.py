"""A response's head goes out with its body (issue 8, http_writes.py): one write where uvicorn
makes two, the same bytes in the same order, and nothing held past the loop's next step or a
close."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import uvicorn

from accessgraph.http_writes import HeadWithBody, HttpProtocol

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


async def test_a_served_response_is_one_write(
    unused_tcp_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through uvicorn with the protocol: two plain responses on one keep-alive connection and
    a streamed one, each answered whole, and what reaches the socket's transport."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        streamed = scope["path"] == "/stream"
        headers = [] if streamed else [(b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if streamed:
            await send({"type": "http.response.body", "body": b"hel", "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"lo" if streamed else b"hello"})

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
    config = uvicorn.Config(app, port=unused_tcp_port, http=HttpProtocol, log_level="error")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # up to 5 s
            if server.started:
                break
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{unused_tcp_port}") as client:
            for path in ("/", "/", "/stream"):
                response = await client.get(path)
                assert (response.status_code, response.content) == (200, b"hello")
    finally:
        server.should_exit = True
        await serving
    # One write per plain response (uvicorn alone: two); the streamed one's head goes with
    # its first chunk, the last chunk with the end.
    assert len(sent) == 1 + 1 + 2
    assert sent[0].startswith(b"HTTP/1.1 200 OK\r\n") and sent[0].endswith(b"\r\n\r\nhello")
