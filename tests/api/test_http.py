"""The HTTP surface: /healthz, GET rules, GraphiQL, error masking (API.md "HTTP", "Errors")."""

from __future__ import annotations

import logging

import httpx
import pytest

from accessgraph.resolvers import organizations
from tests.conftest import Api, World, error_codes

ORGANIZATION = "{ organization { name } viewer { email } }"


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_get_allows_queries(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(
        "/graphql", params={"query": "{ viewer { email } }"}, headers=world.admin.headers
    )
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["email"] == "admin@acme.test"


async def test_get_never_runs_mutations(client: httpx.AsyncClient, world: World) -> None:
    query = 'mutation { createToken(input: {name: "x", permission: READ_ONLY}) { secret } }'
    response = await client.get("/graphql", params={"query": query}, headers=world.admin.headers)
    assert response.status_code in (400, 405)
    tokens = await client.post(
        "/graphql", json={"query": "{ tokens { totalCount } }"}, headers=world.admin.headers
    )
    assert tokens.json()["data"]["tokens"]["totalCount"] == 0


async def test_browser_get_serves_graphiql_or_build_hint(client: httpx.AsyncClient) -> None:
    response = await client.get("/graphql", headers={"Accept": "text/html"})
    assert response.headers["content-type"].startswith("text/html")
    if response.status_code == 200:
        assert "/static/graphiql/" in response.text
        assert "https://" not in response.text  # nothing from a CDN
    else:
        assert response.status_code == 503 and "make install" in response.text


async def test_anonymous_protected_field_is_unauthenticated_and_rest_answers(api: Api) -> None:
    body = await api(ORGANIZATION)
    assert body["data"] == {"organization": None, "viewer": None}
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["path"] == ["organization"]


async def test_unexpected_error_is_masked_and_logged(
    api: Api, world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*_args: object) -> None:
        raise RuntimeError("SELECT secret FROM internals -- stack detail")

    monkeypatch.setattr(organizations, "get_organization", broken)
    with caplog.at_level(logging.ERROR, logger="accessgraph.graphql"):
        body = await api(ORGANIZATION, as_=world.admin)
    assert body["data"] == {"organization": None, "viewer": {"email": "admin@acme.test"}}
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "SELECT" not in str(body) and "Traceback" not in str(body)
    assert (
        "extensions" not in body["errors"][0] or "exception" not in body["errors"][0]["extensions"]
    )
    assert any("SELECT secret" in str(r.exc_info) for r in caplog.records)


async def test_forbidden_and_validation_errors_are_not_masked(api: Api, world: World) -> None:
    body = await api("{ auditEvents { totalCount } }", as_=world.dev)
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["message"] != "Unexpected error."
    body = await api("{ users { noSuchField } }", as_=world.dev)
    assert "noSuchField" in body["errors"][0]["message"]


async def test_page_size_over_100_is_an_error_not_a_truncation(api: Api, world: World) -> None:
    body = await api("{ users(first: 101) { totalCount } }", as_=world.admin)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["data"]["users"] is None
