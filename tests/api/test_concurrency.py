"""R4 under concurrency: two admins acting at once can never leave zero active admins.

Two app instances (separate engines and pools, as two servers would be) share one database;
each round fires the conflicting requests together. On PostgreSQL the organization row lock
serializes them; on SQLite, BEGIN IMMEDIATE does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import OperationalError
from sqlmodel import col

from accessgraph.app import create_app
from accessgraph.auth.backend import CredentialBackend
from accessgraph.models import AccessToken, TeamRole, User, UserStatus
from accessgraph.services import Services
from tests.conftest import Actor, Api, Factory, StatementCounter, World

DEMOTE = """
mutation($id: ID!) { updateUserRole(input: {userId: $id, role: DEVELOPER}) { user { role } errors { code } } }"""
DELETE = "mutation($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId errors { code } } }"
ROUNDS = 8


@pytest.fixture
async def second_client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    other = Services.build(services.settings, clock=services.clock, mailer=services.mailer)
    transport = httpx.ASGITransport(app=create_app(other.settings, services=other))
    async with httpx.AsyncClient(transport=transport, base_url="http://second") as http:
        yield http
    await other.db.dispose()


async def _active_admins(services: Services, org: int) -> int:
    async with services.db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(
                col(User.org_id) == org,
                col(User.role) == TeamRole.ADMIN,
                col(User.status) == UserStatus.ACTIVE,
                col(User.deleted_at).is_(None),
            )
        )
    return int(count or 0)


async def _post(
    http: httpx.AsyncClient, actor: Actor, query: str, target: Actor
) -> dict[str, object]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": {"id": target.id}}, headers=actor.headers
    )
    if response.status_code == 401:  # the actor was deleted by the other request first
        return {"unauthenticated": True}
    body: dict[str, object] = response.json()
    return body


@pytest.mark.parametrize("query", [DEMOTE, DELETE], ids=["demote", "delete"])
async def test_two_admins_removing_each_other_leave_one_admin(
    client: httpx.AsyncClient,
    second_client: httpx.AsyncClient,
    factory: Factory,
    services: Services,
    query: str,
) -> None:
    for round_no in range(ROUNDS):
        org = await factory.org(f"Race {round_no}")
        a = await factory.member(org, f"a{round_no}@race.test", TeamRole.ADMIN)
        b = await factory.member(org, f"b{round_no}@race.test", TeamRole.ADMIN)
        results = await asyncio.gather(
            _post(client, a, query, b), _post(second_client, b, query, a)
        )
        assert await _active_admins(services, org) == 1, (round_no, results)
        # Exactly one wins; the other is refused as LAST_ADMIN, or (if it was authenticated
        # after losing) as FORBIDDEN or UNAUTHENTICATED.
        succeeded = [r for r in results if "'errors': []" in str(r)]
        assert len(succeeded) == 1, results


async def test_concurrent_demotions_of_many_admins_keep_one(
    client: httpx.AsyncClient,
    second_client: httpx.AsyncClient,
    factory: Factory,
    services: Services,
    world: World,
) -> None:
    admins = [world.admin] + [
        await factory.member(world.org, f"admin{i}@acme.test", TeamRole.ADMIN) for i in range(5)
    ]
    clients = [client, second_client]
    await asyncio.gather(
        *(
            _post(clients[i % 2], admins[i], DEMOTE, admins[(i + 1) % len(admins)])
            for i in range(len(admins))
        )
    )
    assert await _active_admins(services, world.org) >= 1


async def test_token_burst_with_stale_last_used_is_answered_and_writes_once(
    client: httpx.AsyncClient,
    factory: Factory,
    services: Services,
    world: World,
    later: object,
    count_statements: StatementCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # More simultaneous requests than the pool has connections, all due a lastUsedAt write:
    # authentication must never hold one connection while waiting for another.
    token = await factory.token(world.dev)
    later(minutes=5)  # type: ignore[operator]
    write = services.db.write

    @asynccontextmanager
    async def slow_write() -> AsyncIterator[Any]:
        await asyncio.sleep(0.05)  # the burst's other requests arrive meanwhile
        async with write() as session:
            yield session

    monkeypatch.setattr(services.db, "write", slow_write)
    requests = [
        client.post("/graphql", json={"query": "{ viewer { email } }"}, headers=token.headers)
        for _ in range(40)
    ]
    responses = await asyncio.wait_for(asyncio.gather(*requests), timeout=20)
    assert [r.status_code for r in responses] == [200] * 40
    assert all(r.json()["data"]["viewer"]["email"] == "dev@acme.test" for r in responses)
    async with services.db.session() as session:
        row = await session.get(AccessToken, token.extra["token_pk"])
    assert row is not None
    assert row.last_used_at == services.clock.now()
    # One write for the burst, not one attempt per request (each a write transaction queued
    # behind SQLite's write lock: seconds, once a minute, at 32 requests in flight).
    updates = [s for s in count_statements.statements if s.startswith("UPDATE access_tokens")]
    assert len(updates) == 1


async def test_a_failed_last_used_write_is_tried_again_by_the_next_request(
    api: Api,
    factory: Factory,
    services: Services,
    world: World,
    later: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = await factory.token(world.dev)
    later(minutes=5)
    original = CredentialBackend._write_last_used

    async def unavailable(*_: Any) -> None:
        raise OperationalError("UPDATE", {}, Exception("database is locked"))

    monkeypatch.setattr(CredentialBackend, "_write_last_used", unavailable)
    with pytest.raises(OperationalError):  # answered 503; the test transport re-raises
        await api("{ viewer { email } }", as_=token)
    monkeypatch.setattr(CredentialBackend, "_write_last_used", original)
    body = await api("{ viewer { email } }", as_=token)
    assert body["data"]["viewer"]["email"] == "dev@acme.test"
    async with services.db.session() as session:
        row = await session.get(AccessToken, token.extra["token_pk"])
    assert row is not None and row.last_used_at == services.clock.now()


async def test_a_new_token_on_a_deleted_tokens_id_records_its_use(
    api: Api, factory: Factory, services: Services, world: World
) -> None:
    # This process remembers when it last wrote each token's lastUsedAt; SQLite may give a
    # deleted token's id to the next token, whose first use must still be recorded.
    first = await factory.token(world.dev)
    await api("{ viewer { email } }", as_=first)
    async with services.db.write() as session:
        await session.execute(
            delete(AccessToken).where(col(AccessToken.id) == first.extra["token_pk"])
        )
    second = await factory.token(world.dev)
    await api("{ viewer { email } }", as_=second)
    async with services.db.session() as session:
        row = await session.get(AccessToken, second.extra["token_pk"])
    assert row is not None and row.last_used_at == services.clock.now()
