"""The attack surface at the HTTP edge (issue 7): CSRF (JSON-only POST, GET queries without
cookie credentials, none in production), security headers, CORS off unless configured, and
production mode (introspection and GraphiQL for signed-in callers, no "Did you mean")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest

from accessgraph.app import create_app
from accessgraph.auth.backend import SESSION_COOKIE
from accessgraph.services import Services
from tests.conftest import World, database_state

CREATE_GROUP = 'mutation { createGroup(input: {name: "CSRF"}) { group { id } errors { code } } }'
VIEWER = "{ viewer { email } }"
INTROSPECTION = "{ __schema { queryType { name } } }"

Client = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def app_client(services: Services) -> AsyncIterator[Client]:
    """A client of an app built with other settings over the same services."""
    clients: list[httpx.AsyncClient] = []

    def make(**changes: Any) -> httpx.AsyncClient:
        app = create_app(replace(services.settings, **changes), services=services)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
        clients.append(http)
        return http

    yield make
    for http in clients:
        await http.aclose()


def session_cookie(world: World) -> dict[str, str]:
    """Headers carrying the admin's session token as the console's cookie, no Authorization."""
    token = world.admin.headers["Authorization"].removeprefix("Bearer ")
    return {"cookie": f"{SESSION_COOKIE}={token}"}


# --- CSRF -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_post_that_is_not_json_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, world: World, services: Services, content_type: str
) -> None:
    """What a form or a `fetch` in no-cors mode on another site can send, with the cookie."""
    before = await database_state(services)
    response = await client.post(
        "/graphql",
        content=f'{{"query": "{CREATE_GROUP.replace(chr(34), chr(92) + chr(34))}"}}',
        headers={"content-type": content_type, **session_cookie(world)},
    )
    assert response.status_code == 415
    assert await database_state(services) == before


async def test_get_query_never_uses_the_session_cookie(
    client: httpx.AsyncClient, world: World
) -> None:
    with_cookie = await client.get(
        "/graphql", params={"query": VIEWER}, headers=session_cookie(world)
    )
    assert with_cookie.json()["data"] == {"viewer": None}  # ran as nobody
    with_header = await client.get(
        "/graphql", params={"query": VIEWER}, headers=world.admin.headers
    )
    assert with_header.json()["data"] == {"viewer": {"email": "admin@acme.test"}}
    posted = await client.post("/graphql", json={"query": VIEWER}, headers=session_cookie(world))
    assert posted.json()["data"] == {"viewer": {"email": "admin@acme.test"}}


async def test_mutation_over_get_is_refused(
    client: httpx.AsyncClient, world: World, services: Services
) -> None:
    before = await database_state(services)
    response = await client.get(
        "/graphql", params={"query": CREATE_GROUP}, headers=world.admin.headers
    )
    assert response.status_code in (400, 405)
    assert await database_state(services) == before


# --- headers and CORS -------------------------------------------------------------------------


async def test_every_response_carries_security_headers(client: httpx.AsyncClient) -> None:
    for response in (
        await client.post("/graphql", json={"query": "{ __typename }"}),
        await client.get("/healthz"),
    ):
        headers = response.headers
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "strict-transport-security" not in headers  # http://console.test


async def test_graphiql_page_has_its_own_policy(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-eval" not in csp


async def test_https_public_url_adds_hsts(app_client: Client) -> None:
    http = app_client(public_url="https://access.example.com")
    response = await http.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=31536000")


async def test_cors_is_off_unless_origins_are_listed(
    client: httpx.AsyncClient, app_client: Client
) -> None:
    preflight = {
        "origin": "https://console.example.com",
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
    }
    response = await client.options("/graphql", headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    http = app_client(cors_origins=("https://console.example.com",))
    allowed = await http.options("/graphql", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://console.example.com"
    assert "access-control-allow-credentials" not in allowed.headers
    other = await http.options(
        "/graphql", headers={**preflight, "origin": "https://evil.example.net"}
    )
    assert "access-control-allow-origin" not in other.headers


# --- production mode --------------------------------------------------------------------------


async def test_production_introspection_is_for_signed_in_callers(
    app_client: Client, world: World
) -> None:
    http = app_client(env="production")
    anonymous = (await http.post("/graphql", json={"query": INTROSPECTION})).json()
    assert anonymous["data"] is None
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    fragment = '{ ...F } fragment F on Query { __type(name: "User") { name } }'
    hidden = (await http.post("/graphql", json={"query": fragment})).json()
    assert hidden["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    signed_in = await http.post(
        "/graphql", json={"query": INTROSPECTION}, headers=world.admin.headers
    )
    assert signed_in.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    typename = (await http.post("/graphql", json={"query": "{ __typename }"})).json()
    assert typename["data"] == {"__typename": "Query"}


async def test_production_errors_suggest_nothing(app_client: Client, world: World) -> None:
    http = app_client(env="production")
    for query in ("{ viewr { id } }", "{ users(frist: 1) { totalCount } }", "{ viewer { emial } }"):
        body = (
            await http.post("/graphql", json={"query": query}, headers=world.admin.headers)
        ).json()
        assert body["errors"], body
        assert all("Did you mean" not in e["message"] for e in body["errors"]), body
    development = await app_client().post(
        "/graphql", json={"query": "{ viewr { id } }"}, headers=world.admin.headers
    )
    assert "Did you mean" in development.json()["errors"][0]["message"]


async def test_production_refuses_get_queries_and_anonymous_graphiql(
    app_client: Client, world: World
) -> None:
    http = app_client(env="production")
    response = await http.get("/graphql", params={"query": VIEWER}, headers=world.admin.headers)
    assert response.status_code in (400, 405)
    page = await http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 401
    signed_in = await http.get("/graphql", headers={"accept": "text/html", **session_cookie(world)})
    assert signed_in.status_code in (200, 503)  # 503: assets not built in this checkout
