"""POSTs to /graphql skip Starlette's router (http_dispatch.GraphQLPosts, issue 8): every
request answers exactly as it does through the router, and only those POSTs skip it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from accessgraph.app import create_app
from accessgraph.http_dispatch import GraphQLPosts
from accessgraph.services import Services
from tests.conftest import World

Request = Callable[[httpx.AsyncClient, dict[str, str]], Awaitable[httpx.Response]]
VIEWER = {"query": "{ viewer { email } }"}

REQUESTS: dict[str, Request] = {
    "query": lambda c, h: c.post("/graphql", json=VIEWER, headers=h),
    "anonymous": lambda c, h: c.post("/graphql", json=VIEWER),
    "mutation": lambda c, h: c.post(
        "/graphql",
        json={
            "query": 'mutation { createToken(input: {name: "x", permission: READ_ONLY}) '
            "{ errors { code } } }"
        },
    ),
    "not json": lambda c, h: c.post(
        "/graphql", content=b"{ viewer", headers={**h, "content-type": "application/json"}
    ),
    "form": lambda c, h: c.post("/graphql", data={"query": "{ viewer { email } }"}, headers=h),
    "list body": lambda c, h: c.post("/graphql", json=[VIEWER], headers=h),
    "bad credential": lambda c, h: c.post(
        "/graphql", json=VIEWER, headers={"Authorization": "Bearer nope"}
    ),
    "trailing slash": lambda c, h: c.post("/graphql/", json=VIEWER, headers=h),
    "other method": lambda c, h: c.put("/graphql", json=VIEWER, headers=h),
    "get": lambda c, h: c.get("/graphql", params=VIEWER, headers=h),
    "healthz by post": lambda c, h: c.post("/healthz", json=VIEWER),
    "unknown path": lambda c, h: c.post("/graphqlx", json=VIEWER, headers=h),
}


def _dispatch(app: Starlette) -> GraphQLPosts:
    layer: Any = app.middleware_stack
    while not isinstance(layer, GraphQLPosts):
        layer = layer.app
    return layer


async def _answers(app: Starlette, world: World) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answers = {}
        for name, request in REQUESTS.items():
            response = await request(client, world.dev.headers)
            answers[name] = (response.status_code, response.headers.multi_items(), response.text)
        return answers


async def test_every_request_answers_as_through_the_router(
    services: Services, world: World
) -> None:
    app = create_app(services.settings, services=services)
    direct = await _answers(app, world)
    assert direct["query"][0] == 200 and "dev@acme.test" in direct["query"][2]
    assert direct["trailing slash"][0] == 307 and direct["other method"][0] == 405
    _dispatch(app).path = "/nowhere"  # every request through the router
    assert await _answers(app, world) == direct


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_only_posts_to_the_path_skip_the_router(
    services: Services, world: World, method: str
) -> None:
    app = create_app(services.settings, services=services)
    await _answers(app, world)  # builds the middleware stack
    dispatch, routed = _dispatch(app), []
    router = dispatch.app

    async def counting(scope: Any, receive: Any, send: Any) -> None:
        routed.append(scope["path"])
        await router(scope, receive, send)

    dispatch.app = counting
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.request(
            method,
            "/graphql",
            **({"json": VIEWER} if method == "POST" else {"params": VIEWER}),
            headers=world.dev.headers,
        )
        assert response.status_code == 200 and "dev@acme.test" in response.text
        assert routed == ([] if method == "POST" else ["/graphql"])
    # Under a root path the router strips it: such a request goes through the router.
    transport = httpx.ASGITransport(app=app, root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/api/graphql", json=VIEWER, headers=world.dev.headers)
    assert response.status_code == 200 and "dev@acme.test" in response.text
    assert routed[-1] == "/api/graphql"
