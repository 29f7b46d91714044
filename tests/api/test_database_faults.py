"""Issue 7: the database goes away (stopped, or the connection dropped mid-request). The
service answers cleanly (SERVICE_UNAVAILABLE, `/healthz` 503, no stack trace), writes nothing
half-way, and recovers without a restart when the database is back.

PostgreSQL only (SQLite lives in the process). The outage is a TCP proxy between one app
instance and the test database that the test cuts and restores: the database itself, which
other tests share, is never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from accessgraph.app import create_app
from accessgraph.services import Services
from tests.conftest import World, is_postgres

pytestmark = pytest.mark.skipif(not is_postgres(), reason="needs PostgreSQL")

VIEWER = "{ viewer { email } }"
CREATE_GROUP = 'mutation { createGroup(input: {name: "Outage"}) { group { id } errors { code } } }'


class Proxy:
    """127.0.0.1:<port> -> PostgreSQL, until cut."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.writers):
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, upstream_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@pytest.fixture
async def proxied(services: Services) -> AsyncIterator[tuple[Proxy, httpx.AsyncClient]]:
    url = make_url(services.settings.database_url)
    proxy = Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    other = Services.build(
        replace(services.settings, database_url=through),
        clock=services.clock,
        mailer=services.mailer,
    )
    app = create_app(other.settings, services=other)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://proxied") as http:
        yield proxy, http
    with contextlib.suppress(Exception):
        await proxy.cut()
    await other.db.dispose()


def _unavailable(response: httpx.Response) -> None:
    body = response.json()
    codes = [e["extensions"]["code"] for e in body["errors"]]
    assert "SERVICE_UNAVAILABLE" in codes, body
    assert "Traceback" not in response.text and "asyncpg" not in response.text


async def _groups(services: Services) -> int:
    async with services.db.session() as session:
        return int((await session.execute(text("SELECT count(*) FROM groups"))).scalar() or 0)


async def test_outage_answers_cleanly_and_recovery_needs_no_restart(
    proxied: tuple[Proxy, httpx.AsyncClient], world: World, services: Services
) -> None:
    proxy, http = proxied
    assert (await http.get("/healthz")).status_code == 200
    ok = await http.post("/graphql", json={"query": VIEWER}, headers=world.admin.headers)
    assert ok.json()["data"]["viewer"]["email"] == "admin@acme.test"

    await proxy.cut()
    assert (await http.get("/healthz")).status_code == 503
    during = await http.post("/graphql", json={"query": VIEWER}, headers=world.admin.headers)
    assert during.status_code == 503
    _unavailable(during)
    write = await http.post("/graphql", json={"query": CREATE_GROUP}, headers=world.admin.headers)
    assert write.status_code == 503
    assert await _groups(services) == 0

    await proxy.start()  # the database is back, on the same address
    assert (await http.get("/healthz")).status_code == 200
    again = await http.post("/graphql", json={"query": VIEWER}, headers=world.admin.headers)
    assert again.json()["data"]["viewer"]["email"] == "admin@acme.test"


async def test_connection_dropped_mid_transaction_writes_nothing(
    proxied: tuple[Proxy, httpx.AsyncClient],
    world: World,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The group row is inserted, then the connection drops before the commit."""
    from accessgraph.resolvers import groups

    proxy, http = proxied
    real_bump = groups.bump
    paused = asyncio.Event()

    async def bump_after_the_cut(*args: Any, **kwargs: Any) -> Any:
        paused.set()
        await asyncio.sleep(0.3)
        return await real_bump(*args, **kwargs)

    monkeypatch.setattr(groups, "bump", bump_after_the_cut)

    async def cut_when_paused() -> None:
        await paused.wait()
        await proxy.cut()

    response, _ = await asyncio.gather(
        http.post("/graphql", json={"query": CREATE_GROUP}, headers=world.admin.headers),
        cut_when_paused(),
    )
    _unavailable(response)
    assert await _groups(services) == 0
    monkeypatch.setattr(groups, "bump", real_bump)
    await proxy.start()
    body = (
        await http.post("/graphql", json={"query": CREATE_GROUP}, headers=world.admin.headers)
    ).json()
    assert body["data"]["createGroup"]["errors"] == []
    assert await _groups(services) == 1
