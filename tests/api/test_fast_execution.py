"""Issue 8: the console's pages answer byte for byte the same through the executor's fast path
for plain fields (schema/execution.py) as through graphql-core's own path."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from accessgraph.app import GraphQLView
from accessgraph.models import TokenPermission
from accessgraph.schema.execution import Executor
from tests.conftest import Actor, Factory, World

PAGES = {
    "team": """{ users(first: 50) { totalCount edges { cursor node {
        id firstName lastName fullName email role status lastLoginAt createdAt accountPermissions
        viewerCanUpdateRole viewerCanDelete viewerCanResendInvitation __typename
      } } pageInfo { hasNextPage endCursor } } }""",
    "tokens with creators": """{ tokens(first: 50) { totalCount nodes {
        id name permission username status createdAt expiresAt lastUsedAt revokedAt
        createdBy { id email role } viewerCanRevoke viewerCanDelete } } }""",
    "nested": """{ users(first: 20) { edges { node { email ...T } } } }
      fragment T on User { tokens { name status permission createdBy { email } } }""",
    "viewer and organization": "{ viewer { id email role status } organization { id name } }",
    "forbidden field": "{ viewer { email } auditEvents(first: 5) { totalCount } }",
}


def _view(client: httpx.AsyncClient) -> GraphQLView:
    app: Any = client._transport.app  # type: ignore[attr-defined]
    for route in app.routes:
        if getattr(route, "path", None) == "/graphql":
            assert isinstance(route.endpoint, GraphQLView)
            return route.endpoint
    raise AssertionError("no /graphql route")


@pytest.mark.parametrize("document", PAGES.values(), ids=PAGES.keys())
@pytest.mark.parametrize("who", ["admin", "dev"])
async def test_page_answers_the_same_on_both_paths(
    client: httpx.AsyncClient,
    factory: Factory,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    document: str,
    who: str,
) -> None:
    for actor in (world.admin, world.dev, world.dev2):
        await factory.token(actor, TokenPermission.READ_ONLY, name="ro")
        await factory.token(actor, TokenPermission.READ_WRITE, name="rw")
    caller: Actor = getattr(world, who)
    view = _view(client)
    assert view.schema.execution_context_class is Executor  # type: ignore[attr-defined]

    async def answer() -> str:
        response = await client.post("/graphql", json={"query": document}, headers=caller.headers)
        assert response.status_code == 200
        return response.text

    fast = await answer()
    monkeypatch.setattr(
        view.schema, "execution_context_class", StrawberryGraphQLCoreExecutionContext
    )
    assert await answer() == fast
    assert '"Unexpected error."' not in fast


NESTED = {
    "edges": "{ users(first: %d) { edges { node { email tokens { name status } } } } }",
    "nodes, in a fragment": """{ users(first: %d) { nodes { ...T } } }
      fragment T on User { email ... on User { tokens { name } } }""",
}


@pytest.mark.parametrize("document", NESTED.values(), ids=NESTED.keys())
async def test_a_users_tokens_take_no_task_per_user(
    client: httpx.AsyncClient, factory: Factory, world: World, document: str
) -> None:
    """Issue 8: the page loads its users' tokens with the page, so each user's `tokens` field
    is complete when it runs (execution.started), and the tasks of a request do not grow with
    its rows."""
    for n in range(12):
        member = await factory.member(world.org, f"member{n}@acme.test")
        await factory.token(member, TokenPermission.READ_ONLY, name=f"ro{n}")
    loop = asyncio.get_running_loop()
    default = loop.get_task_factory()
    created: list[object] = []

    def counting(running: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> Any:
        created.append(coro)
        if default is not None:
            return default(running, coro, **kwargs)
        return asyncio.Task(coro, loop=running, **kwargs)

    tasks = {}
    loop.set_task_factory(counting)
    try:
        for first in (2, 12):
            created.clear()
            response = await client.post(
                "/graphql", json={"query": document % first}, headers=world.admin.headers
            )
            body = response.json()
            assert not body.get("errors"), body
            tasks[first] = len(created)
    finally:
        loop.set_task_factory(default)
    users = body["data"]["users"]
    nodes = [edge["node"] for edge in users["edges"]] if "edges" in users else users["nodes"]
    assert len(nodes) == 12 and sum(len(node["tokens"]) for node in nodes) >= 8
    assert tasks[12] == tasks[2], tasks


async def test_a_failed_read_of_a_pages_tokens_is_reported_at_tokens(
    client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's tokens read with the page fails as their own read did: at `tokens`."""
    from accessgraph.resolvers import loaders

    async def fails(self: Any, owner_ids: Any) -> Any:
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(loaders._Sources, "load_tokens_by_owner", fails)
    response = await client.post(
        "/graphql",
        json={"query": NESTED["edges"] % 5},
        headers=world.admin.headers,
    )
    body = response.json()
    assert [error["path"][-1] for error in body["errors"]] == ["tokens"], body
