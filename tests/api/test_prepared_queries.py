"""Prepared queries (schema/prepared.py, issue 8): a query document that strawberry's path parsed
and validated runs straight on graphql-core the next time, with the same answer, the same
errors (masked or not), the same limits; anything else keeps strawberry's path."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
import strawberry

from accessgraph.app import create_app
from accessgraph.resolvers import organizations
from accessgraph.schema import build_schema, prepared
from accessgraph.services import Services
from tests.conftest import Api, World, error_codes

TEAM = """query Team($first: Int) {
  users(first: $first) { totalCount edges { node { email role status viewerCanDelete } } }
}"""
ORGANIZATION = "{ organization { name } viewer { email } }"
AUDIT = "{ auditEvents { totalCount } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
PROJECTS_WITH_MEMBERS = """query($n: Int, $m: Int) {
  projects(first: $n) { nodes { key members(first: $m) { totalCount } } }
}"""
CREATE_TOKEN = (
    'mutation { createToken(input: {name: "ci", permission: READ_ONLY}) { errors { code } } }'
)


@pytest.fixture
def strawberry_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str | None]]:
    """The query text of each operation that took strawberry's own path."""
    runs: list[str | None] = []
    original = strawberry.Schema.execute

    async def counted(self: strawberry.Schema, query: str | None, *args: Any, **kw: Any) -> Any:
        runs.append(query)
        return await original(self, query, *args, **kw)

    monkeypatch.setattr(strawberry.Schema, "execute", counted)
    yield runs


async def test_a_repeated_query_is_prepared_and_answers_the_same(
    api: Api, world: World, strawberry_runs: list[str | None]
) -> None:
    first = await api(TEAM, {"first": 2}, as_=world.admin)
    again = await api(TEAM, {"first": 2}, as_=world.admin)
    other_page = await api(TEAM, {"first": 3}, as_=world.admin)
    assert not first.get("errors") and first == again, (first, again)
    assert len(other_page["data"]["users"]["edges"]) == 3
    assert strawberry_runs == [TEAM]  # only the first took strawberry's path


async def test_a_prepared_query_still_checks_each_callers_permission(
    api: Api, world: World, strawberry_runs: list[str | None]
) -> None:
    assert not (await api(AUDIT, as_=world.admin)).get("errors")
    refused = await api(AUDIT, as_=world.dev)
    assert error_codes(refused) == ["FORBIDDEN"]
    assert refused["errors"][0]["message"] != "Unexpected error."  # not masked
    assert error_codes(await api(AUDIT)) == ["UNAUTHENTICATED"]
    assert strawberry_runs == [AUDIT]


async def test_a_prepared_querys_unexpected_error_is_masked_and_logged(
    api: Api,
    world: World,
    strawberry_runs: list[str | None],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await api(ORGANIZATION, as_=world.admin)  # learned

    async def broken(*_args: object) -> None:
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(organizations, "get_organization", broken)
    with caplog.at_level(logging.ERROR, logger="accessgraph.graphql"):
        body = await api(ORGANIZATION, as_=world.admin)
    assert strawberry_runs == [ORGANIZATION]
    assert body["data"] == {"organization": None, "viewer": {"email": "admin@acme.test"}}
    assert body["errors"][0]["message"] == "Unexpected error."
    assert body["errors"][0]["path"] == ["organization"]
    assert "SELECT" not in str(body)
    assert any("SELECT secret" in str(record.exc_info) for record in caplog.records)


async def test_a_prepared_query_over_the_cost_limit_is_refused(
    api: Api, world: World, strawberry_runs: list[str | None]
) -> None:
    # The cost follows each request's page sizes: learned within the limit, then over it.
    within = await api(PROJECTS_WITH_MEMBERS, {"n": 100, "m": 99}, as_=world.admin)
    assert not within.get("errors"), within
    over = await api(PROJECTS_WITH_MEMBERS, {"n": 100, "m": 100}, as_=world.admin)
    assert over["data"] is None and error_codes(over) == ["QUERY_TOO_COSTLY"]
    assert over["errors"][0]["extensions"]["cost"] == 100 + 100 * 100
    assert not (await api(PROJECTS_WITH_MEMBERS, {"n": 100, "m": 99}, as_=world.admin)).get(
        "errors"
    )
    # Learned once; refused by strawberry's own limiter, which the over-limit request took.
    assert strawberry_runs == [PROJECTS_WITH_MEMBERS, PROJECTS_WITH_MEMBERS]


async def test_bad_variables_of_a_prepared_query_are_the_same_error(api: Api, world: World) -> None:
    await api(TEAM, {"first": 1}, as_=world.admin)
    first = await api(TEAM.replace("Team(", "Team2("), {"first": "many"}, as_=world.admin)
    again = await api(TEAM, {"first": "many"}, as_=world.admin)
    assert first["errors"][0]["message"] == again["errors"][0]["message"]
    assert again["data"] is None and "Int" in again["errors"][0]["message"]


async def test_mutations_never_take_the_prepared_path(
    api: Api, world: World, strawberry_runs: list[str | None]
) -> None:
    for _ in range(2):
        assert not (await api(CREATE_TOKEN, as_=world.admin)).get("errors")
    assert strawberry_runs == [CREATE_TOKEN, CREATE_TOKEN]


async def test_an_invalid_document_is_never_prepared(
    api: Api, world: World, strawberry_runs: list[str | None]
) -> None:
    for _ in range(2):
        body = await api("{ viewer { emial } }", as_=world.admin)
        assert body["data"] is None and "emial" in body["errors"][0]["message"]
    assert len(strawberry_runs) == 2


@pytest.fixture
async def production(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(replace(services.settings, env="production"), services=services)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        yield http


async def test_introspection_is_never_prepared(
    production: httpx.AsyncClient, world: World, strawberry_runs: list[str | None]
) -> None:
    # Signed in first (allowed), then anonymous (refused in production): decided each time.
    signed_in = await production.post(
        "/graphql", json={"query": INTROSPECTION}, headers=world.admin.headers
    )
    assert signed_in.json()["data"] == {"__schema": {"queryType": {"name": "Query"}}}
    anonymous = (await production.post("/graphql", json={"query": INTROSPECTION})).json()
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert strawberry_runs == [INTROSPECTION, INTROSPECTION]


async def test_get_runs_a_prepared_query_and_never_a_mutation(
    client: httpx.AsyncClient, world: World, strawberry_runs: list[str | None]
) -> None:
    for _ in range(2):
        response = await client.get(
            "/graphql", params={"query": ORGANIZATION}, headers=world.admin.headers
        )
        assert response.json()["data"]["viewer"] == {"email": "admin@acme.test"}
    assert strawberry_runs == [ORGANIZATION]
    for _ in range(2):
        refused = await client.get(
            "/graphql", params={"query": CREATE_TOKEN}, headers=world.admin.headers
        )
        assert refused.status_code in (400, 405)


def _extension_names(schema: strawberry.Schema) -> list[str]:
    made = [e() if isinstance(e, Callable) else e for e in schema.extensions]  # type: ignore[arg-type]
    return [type(e).__name__ for e in made]


def test_the_prepared_path_knows_every_schema_extension() -> None:
    # Each extension here is replayed by schema/prepared.py (or only matters before execution,
    # which a prepared document passed once and for all). A new one needs a decision there.
    expected = [
        "AddValidationRules",
        "MaxTokensLimiter",
        "ParserCache",
        "ValidationCache",
        "QueryCostLimiter",
        "MaskErrorsKeepingOutages",
        "Learner",
    ]
    assert _extension_names(build_schema()) == expected
    production = _extension_names(build_schema(production=True))
    assert production == [*expected[:5], "IntrospectionForMembers", *expected[5:]]


async def test_a_prepared_answer_is_strawberrys_answer_byte_for_byte(
    client: httpx.AsyncClient, world: World, strawberry_runs: list[str | None]
) -> None:
    request = {"query": TEAM, "variables": {"first": 2}, "operationName": "Team"}
    first = await client.post("/graphql", json=request, headers=world.admin.headers)
    again = await client.post("/graphql", json=request, headers=world.admin.headers)
    assert strawberry_runs == [TEAM]
    assert (again.status_code, again.content) == (first.status_code, first.content)
    assert again.headers["content-type"] == first.headers["content-type"] == "application/json"
    assert again.headers["content-security-policy"] == first.headers["content-security-policy"]


async def test_only_a_plain_json_post_takes_the_prepared_way(
    client: httpx.AsyncClient, world: World, strawberry_runs: list[str | None]
) -> None:
    headers = world.admin.headers
    await client.post("/graphql", json={"query": ORGANIZATION}, headers=headers)  # learned
    with_extensions = {"query": ORGANIZATION, "extensions": {"persistedQuery": None}}
    assert (await client.post("/graphql", json=with_extensions, headers=headers)).status_code == 200
    batch = await client.post("/graphql", json=[{"query": ORGANIZATION}], headers=headers)
    assert batch.status_code == 400  # no batching, as before
    as_text = await client.post(
        "/graphql",
        content=orjson.dumps({"query": ORGANIZATION}),
        headers={**headers, "content-type": "text/plain"},
    )
    assert as_text.status_code == 415  # CSRF: a POST must be JSON
    broken = await client.post(
        "/graphql", content=b'{"query": ', headers={**headers, "content-type": "application/json"}
    )
    assert broken.status_code == 400
    # The request with extensions and the batch took strawberry's path, as the first did.
    assert strawberry_runs.count(ORGANIZATION) == 2


async def test_an_error_past_graphql_core_is_masked_on_the_prepared_path(
    api: Api,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await api(ORGANIZATION, as_=world.admin)  # learned

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(prepared, "execute", broken)
    with caplog.at_level(logging.ERROR, logger="accessgraph.graphql"):
        body = await api(ORGANIZATION, as_=world.admin)  # 200, as strawberry's path answers
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == ["Unexpected error."]
    assert any("SELECT secret" in str(record.exc_info) for record in caplog.records)


async def test_a_huge_number_in_the_variables_is_read_as_strawberry_reads_it(
    api: Api, world: World, strawberry_runs: list[str | None]
) -> None:
    await api(TEAM, {"first": 1}, as_=world.admin)  # learned
    huge = {"first": 123456789012345678901234567890}
    prepared_answer = await api(TEAM, huge, as_=world.admin)
    strawberrys = await api(TEAM.replace("Team(", "Fresh("), huge, as_=world.admin)
    assert prepared_answer["errors"][0]["message"] == strawberrys["errors"][0]["message"]
    assert "non 32-bit" in prepared_answer["errors"][0]["message"]
