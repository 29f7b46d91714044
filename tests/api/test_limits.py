"""Abuse limits: what one request may ask for is refused before anything runs (query cost,
depth, aliases, tokens, directives, body size), and a request that runs too long is cancelled
with its transaction rolled back. Each limit is configurable (ACCESSGRAPH_MAX_...)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from accessgraph.app import create_app
from accessgraph.services import Services
from accessgraph.settings import Limits, Settings
from tests.conftest import Actor, Api, StatementCounter, World, error_codes

LimitedApi = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
async def limited(services: Services) -> AsyncIterator[Callable[..., LimitedApi]]:
    """An app with other limits over the same services: `limited(max_query_cost=100)`."""
    clients: list[httpx.AsyncClient] = []

    def make(**limits: Any) -> LimitedApi:
        settings = replace(services.settings, limits=replace(Limits(), **limits))
        app = create_app(settings, services=services)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append(http)

        async def call(query: str, variables: Any = None, *, as_: Actor, **kw: Any) -> Any:
            return await http.post(
                "/graphql",
                json={"query": query, "variables": variables or {}},
                headers=as_.headers,
                **kw,
            )

        return call

    yield make
    for http in clients:
        await http.aclose()


def problem(body: dict[str, Any]) -> dict[str, Any]:
    [error] = body["errors"]
    extensions: dict[str, Any] = error["extensions"]
    return extensions


# --- query cost ------------------------------------------------------------------------------

PROJECTS_WITH_MEMBERS = """
query($n: Int, $m: Int) {
  projects(first: $n) { nodes { key members(first: $m) { totalCount } } }
}"""


@pytest.mark.parametrize(
    ("n", "m", "cost"),
    [(100, 99, 100 + 100 * 99), (100, 100, 100 + 100 * 100), (None, None, 50 + 50 * 50)],
)
async def test_query_cost_is_first_times_first_down_the_tree(
    api: Api, world: World, n: int | None, m: int | None, cost: int
) -> None:
    body = await api(PROJECTS_WITH_MEMBERS, {"n": n, "m": m}, as_=world.admin)
    if cost <= 10_000:
        assert not body.get("errors"), body
    else:
        assert body["data"] is None
        assert problem(body) == {"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": 10_000}


async def test_a_remembered_cost_follows_the_page_sizes(api: Api, world: World) -> None:
    """The same document (the parser cache's same object) costs what its variables ask."""
    for n, m, costly in [(100, 99, False), (100, 100, True), (100, 99, False), (None, 100, False)]:
        body = await api(PROJECTS_WITH_MEMBERS, {"n": n, "m": m}, as_=world.admin)
        assert (error_codes(body) == ["QUERY_TOO_COSTLY"]) is costly, (n, m, body)


async def test_costly_query_runs_nothing(
    api: Api, world: World, count_statements: StatementCounter
) -> None:
    count_statements.statements.clear()
    body = await api(PROJECTS_WITH_MEMBERS, {"n": 100, "m": 100}, as_=world.admin)
    assert error_codes(body) == ["QUERY_TOO_COSTLY"]
    # Only authentication ran: no resolver.
    assert not any(
        "FROM users ORDER" in s or "access_tokens" in s for s in count_statements.statements[1:]
    )


async def test_query_cost_counts_through_fragments_and_aliases(api: Api, world: World) -> None:
    query = """
    query {
      a: projects(first: 100) { nodes { ...M } }
      b: projects(first: 100) { nodes { ... on Project { members(first: 1) { totalCount } } } }
    }
    fragment M on Project { members(first: 98) { edges { roles } } }"""
    body = await api(query, as_=world.admin)
    assert problem(body)["cost"] == 100 + 100 * 98 + 100 + 100 * 1


async def test_query_cost_limit_is_configurable(
    world: World, limited: Callable[..., LimitedApi]
) -> None:
    call = limited(max_query_cost=100)
    ok = await call("{ users(first: 100) { nodes { email } } }", as_=world.admin)
    assert "errors" not in ok.json()
    body = (await call("{ users(first: 101) { nodes { email } } }", as_=world.admin)).json()
    assert problem(body) == {"code": "QUERY_TOO_COSTLY", "cost": 101, "limit": 100}


# --- depth, aliases, tokens, directives --------------------------------------------------------


async def test_depth_aliases_tokens_and_directives_are_capped(
    world: World, limited: Callable[..., LimitedApi]
) -> None:
    call = limited(max_depth=3, max_aliases=2, max_tokens=60, max_directives=2)
    deep = "{ viewer { tokens { nodes { createdBy { email } } } } }"
    body = (await call(deep, as_=world.admin)).json()
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    body = (
        await call("{ a: viewer { id } b: viewer { id } c: viewer { id } }", as_=world.admin)
    ).json()
    assert "aliases" in body["errors"][0]["message"].lower()
    body = (await call("{ viewer { " + "id " * 80 + "} }", as_=world.admin)).json()
    assert "token" in body["errors"][0]["message"].lower()
    directives = (
        "{ viewer { id @include(if: true) email @skip(if: false) role @include(if: true) } }"
    )
    body = (await call(directives, as_=world.admin)).json()
    assert problem(body) == {"code": "TOO_MANY_DIRECTIVES", "limit": 2}
    ok = "{ viewer { id @include(if: true) email @skip(if: false) } }"
    assert "errors" not in (await call(ok, as_=world.admin)).json()


async def test_batched_requests_are_refused(client: httpx.AsyncClient, world: World) -> None:
    """An array of operations in one body (batching) is not accepted: one request, one
    operation, one set of limits."""
    batch = [{"query": "{ viewer { id } }"}] * 2
    response = await client.post("/graphql", json=batch, headers=world.admin.headers)
    assert response.status_code == 400


# --- body size --------------------------------------------------------------------------------


async def test_body_over_the_limit_is_refused_with_413(
    world: World, limited: Callable[..., LimitedApi]
) -> None:
    call = limited(max_body_bytes=2_000)
    padding = " " * 2_100
    response = await call("{ viewer { id } }" + padding, as_=world.admin)
    assert response.status_code == 413
    assert problem(response.json())["code"] == "PAYLOAD_TOO_LARGE"


async def test_streamed_body_over_the_limit_is_refused(
    world: World, limited: Callable[..., LimitedApi], services: Services
) -> None:
    """No Content-Length (chunked): counted as it arrives."""
    settings = replace(services.settings, limits=replace(Limits(), max_body_bytes=2_000))
    app = create_app(settings, services=services)

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ viewer { id } }", "variables": {"x": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}}'

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        response = await http.post(
            "/graphql",
            content=chunks(),
            headers={**world.admin.headers, "content-type": "application/json"},
        )
    assert response.status_code == 413


# --- time ----------------------------------------------------------------------------------------


async def test_slow_request_is_cancelled_with_timeout(
    world: World, limited: Callable[..., LimitedApi], monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessgraph.resolvers import users

    real = users.list_users

    async def slow(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(5)
        return await real(*args, **kwargs)

    monkeypatch.setattr(users, "list_users", slow)
    call = limited(request_timeout_seconds=0.2)
    response = await call("{ users { totalCount } }", as_=world.admin)
    assert response.status_code == 503
    assert problem(response.json())["code"] == "TIMEOUT"


async def test_timed_out_mutation_changes_nothing(
    world: World,
    limited: Callable[..., LimitedApi],
    monkeypatch: pytest.MonkeyPatch,
    services: Services,
) -> None:
    """Cancelled inside its transaction (after the insert, before the commit): rolled back."""
    from accessgraph.resolvers import groups

    real = groups.bump

    async def slow_bump(*args: Any, **kwargs: Any) -> Any:
        await asyncio.sleep(5)
        return await real(*args, **kwargs)

    monkeypatch.setattr(groups, "bump", slow_bump)
    call = limited(request_timeout_seconds=0.3)
    response = await call(
        'mutation { createGroup(input: {name: "Late"}) { group { id } errors { code } } }',
        as_=world.admin,
    )
    assert problem(response.json())["code"] == "TIMEOUT"
    async with services.db.session() as session:
        assert (await session.execute(text("SELECT count(*) FROM groups"))).scalar() == 0


def test_limits_come_from_the_environment(tmp_path: Any) -> None:
    env = {
        "ACCESSGRAPH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
        "ACCESSGRAPH_MAX_QUERY_COST": "500",
        "ACCESSGRAPH_MAX_BODY_BYTES": "4096",
        "ACCESSGRAPH_REQUEST_TIMEOUT_SECONDS": "2.5",
    }
    limits = Settings.from_env(env).limits
    assert (limits.max_query_cost, limits.max_body_bytes) == (500, 4096)
    assert limits.request_timeout_seconds == 2.5 and limits.max_depth == 12


async def test_a_page_size_sent_as_a_float_costs_what_it_asks(api: Api, world: World) -> None:
    # graphql-core takes 100.0 for an Int; the cost must too (it counted 50, the default).
    body = await api(PROJECTS_WITH_MEMBERS, {"n": 100.0, "m": 100.0}, as_=world.admin)
    assert problem(body) == {"code": "QUERY_TOO_COSTLY", "cost": 100 + 100 * 100, "limit": 10_000}
    assert not (await api(PROJECTS_WITH_MEMBERS, {"n": 100.0, "m": 99.0}, as_=world.admin)).get(
        "errors"
    )
