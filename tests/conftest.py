"""Test harness: a fresh database per test, the real ASGI app over httpx, and factories.

The database is SQLite by default; set ACCESSGRAPH_TEST_DATABASE_URL to a
postgresql+asyncpg:// URL to run the same suite on PostgreSQL. Migrations run once per session
into a template (SQLite: a file copied per test; PostgreSQL: tables truncated per test), so
every test starts from the schema Alembic builds, empty.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from accessgraph.app import create_app
from accessgraph.auth.passwords import hash_password
from accessgraph.auth.principal import Principal
from accessgraph.clock import FrozenClock
from accessgraph.mail import MailDeliveryError, OutgoingEmail
from accessgraph.migrate import upgrade
from accessgraph.models import (
    Organization,
    SubscriptionMember,
    SubscriptionRole,
    TeamRole,
    TokenPermission,
    User,
    UserStatus,
)
from accessgraph.resolvers import sessions, subscriptions, tokens
from accessgraph.schema.base import from_global_id, to_global_id
from accessgraph.services import Services
from accessgraph.settings import Settings

PASSWORD = "correct horse battery staple"
_PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: argon2 costs ~0.1 s by design
START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TEST_DB_URL = os.environ.get("ACCESSGRAPH_TEST_DATABASE_URL", "")
TABLES = [
    "signing_keys",
    "rate_limit_counters",
    "device_alert_subscriptions",
    "device_engine_settings",
    "device_monitors",
    "device_commands",
    "device_updates",
    "device_events",
    "devices",
    "device_groups",
    "project_global_roles",
    "project_members",
    "project_roles",
    "global_role_settings",
    "projects",
    "target_grants",
    "target_resource_sets",
    "permission_targets",
    "resources",
    "group_members",
    "groups",
    "audit_events",
    "outbox_emails",
    "login_sessions",
    "invitations",
    "usage_notifications",
    "subscription_members",
    "access_tokens",
    "subscriptions",
    "users",
    "organizations",
]


def is_postgres() -> bool:
    return TEST_DB_URL.startswith("postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not is_postgres():
        skip = pytest.mark.skip(reason="needs PostgreSQL (set ACCESSGRAPH_TEST_DATABASE_URL)")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


# --- database -------------------------------------------------------------------------------


def _scratch_url(base_url: str) -> str | None:
    """A fresh PostgreSQL database for this test session, so parallel runs never collide;
    None if the server refuses CREATE DATABASE (then the given database is used as is)."""
    name = f"accessgraph_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def create() -> None:
        engine = create_async_engine(base_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    try:
        asyncio.run(create())
    except Exception:
        return None
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


def _drop_scratch(base_url: str, scratch_url: str) -> None:
    async def drop() -> None:
        engine = create_async_engine(base_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                name = make_url(scratch_url).database
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        finally:
            await engine.dispose()

    asyncio.run(drop())


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    scratch = _scratch_url(TEST_DB_URL)
    yield scratch or TEST_DB_URL
    if scratch:
        _drop_scratch(TEST_DB_URL, scratch)


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    """Migrate once: a template SQLite file, or the session's PostgreSQL database from scratch."""
    if is_postgres():
        url: str = request.getfixturevalue("pg_url")

        async def reset() -> None:
            engine = create_async_engine(url, poolclass=NullPool)
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
            await engine.dispose()

        asyncio.run(reset())
        upgrade(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return str(path)


@pytest.fixture
async def database_url(template_db: str, tmp_path: Path) -> AsyncIterator[str]:
    if is_postgres():
        engine = create_async_engine(template_db, poolclass=NullPool)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        await engine.dispose()
        yield template_db
    else:
        path = tmp_path / "test.db"
        shutil.copyfile(template_db, path)
        yield f"sqlite+aiosqlite:///{path}"


# --- the app --------------------------------------------------------------------------------


class RecordingMailer:
    """Captures emails; `fail = True` makes delivery fail like an unreachable SMTP server."""

    delivers = True

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.fail = False

    async def send(self, message: OutgoingEmail) -> None:
        if self.fail:
            raise MailDeliveryError("connection refused")
        self.sent.append(message)

    def last_secret(self, to: str) -> str:
        for message in reversed(self.sent):
            if message.to == to:
                return message.body.split("token=", 1)[1].split()[0]
        raise AssertionError(f"no email to {to}")


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-signing-key-" + "x" * 40,
        public_url="http://console.test",
        invitation_ttl_hours=24,
    )


@pytest.fixture
async def services(
    settings: Settings, clock: FrozenClock, mailer: RecordingMailer
) -> AsyncIterator[Services]:
    built = Services.build(settings, clock=clock, mailer=mailer)
    yield built
    await built.db.dispose()


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services.settings, services=services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


# --- actors and the GraphQL helper ------------------------------------------------------------


@dataclass
class Actor:
    """Someone calling the API: the headers they send, and who they are."""

    name: str
    headers: dict[str, str]
    user_pk: int | None = None
    email: str = ""
    org_pk: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        assert self.user_pk is not None
        return to_global_id("User", self.user_pk)


ANONYMOUS = Actor("anonymous", {})


class Api:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        as_: Actor = ANONYMOUS,
        expect_status: int = 200,
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=as_.headers
        )
        assert response.status_code == expect_status, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


class Factory:
    """Builds organizations, users, sessions and tokens straight through the use cases."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def org(self, name: str = "Acme") -> int:
        async with self.services.db.write() as session:
            org = Organization(name=name, created_at=self.services.clock.now())
            session.add(org)
            await session.flush()
            assert org.id is not None
            return org.id

    async def user(
        self,
        org_pk: int,
        email: str,
        role: TeamRole = TeamRole.DEVELOPER,
        status: UserStatus = UserStatus.ACTIVE,
        *,
        first: str | None = "Test",
        last: str | None = None,
    ) -> int:
        async with self.services.db.write() as session:
            user = User(
                org_id=org_pk,
                email=email,
                email_normalized=email.casefold(),
                first_name=first,
                last_name=last or email.split("@")[0],
                role=role,
                status=status,
                password_hash=_PASSWORD_HASH if status == UserStatus.ACTIVE else None,
                created_at=self.services.clock.now(),
            )
            session.add(user)
            await session.flush()
            assert user.id is not None
            return user.id

    async def session_actor(self, name: str, user_pk: int) -> Actor:
        async with self.services.db.session() as session:
            user = await session.get(User, user_pk)
        assert user is not None
        result = await sessions._start_session(self.services, user)
        return Actor(
            name, {"Authorization": f"Bearer {result.token}"}, user_pk, user.email, user.org_id
        )

    async def member(
        self, org_pk: int, email: str, role: TeamRole = TeamRole.DEVELOPER, name: str | None = None
    ) -> Actor:
        return await self.session_actor(name or email, await self.user(org_pk, email, role))

    async def token(
        self,
        owner: Actor,
        permission: TokenPermission = TokenPermission.READ_WRITE,
        name: str = "automation",
        expires_at: datetime | None = None,
    ) -> Actor:
        async with self.services.db.session() as session:
            user = await session.get(User, owner.user_pk)
        assert user is not None
        principal = Principal(org_id=user.org_id, user_id=user.id, role=user.role, email=user.email)
        row, value = await tokens.create_token(
            self.services, principal, tokens.CreateTokenInput(name, permission, expires_at)
        )
        assert row.id is not None
        return Actor(
            f"{owner.name}'s {permission.value} token",
            {"Authorization": f"Bearer {value}"},
            owner.user_pk,
            owner.email,
            owner.org_pk,
            extra={
                "token_pk": row.id,
                "value": value,
                "username": row.username,
                "token_id": to_global_id("Token", row.id),
            },
        )

    async def subscription(
        self, org_name: str, primary_admin: Actor, name: str = "Acme Cloud"
    ) -> str:
        """A subscription created by the operator use case; returns its global ID."""
        row = await subscriptions.create_subscription(
            self.services,
            subscriptions.CreateSubscriptionInput(org_name, name, primary_admin.email),
        )
        assert row.id is not None
        return to_global_id("BillingSubscription", row.id)

    async def subscription_member(
        self, subscription_id: str, member: Actor, role: SubscriptionRole
    ) -> None:
        """Adds a membership row directly (any role but PRIMARY_ADMIN, as the API allows)."""
        assert role != SubscriptionRole.PRIMARY_ADMIN and member.user_pk is not None
        pk = from_global_id(subscription_id, "BillingSubscription")
        assert pk is not None
        async with self.services.db.write() as session:
            session.add(
                SubscriptionMember(
                    subscription_id=pk,
                    user_id=member.user_pk,
                    role=role,
                    created_at=self.services.clock.now(),
                )
            )


@pytest.fixture
def factory(services: Services) -> Factory:
    return Factory(services)


@dataclass
class World:
    """Two organizations. Acme: an admin and two developers. Globex: an admin."""

    org: int
    admin: Actor
    dev: Actor
    dev2: Actor
    other_org: int
    other_admin: Actor


@pytest.fixture
async def world(factory: Factory) -> World:
    acme = await factory.org("Acme")
    globex = await factory.org("Globex")
    return World(
        org=acme,
        admin=await factory.member(acme, "admin@acme.test", TeamRole.ADMIN, "admin"),
        dev=await factory.member(acme, "dev@acme.test", TeamRole.DEVELOPER, "developer"),
        dev2=await factory.member(acme, "dev2@acme.test", TeamRole.DEVELOPER, "developer 2"),
        other_org=globex,
        other_admin=await factory.member(
            globex, "admin@globex.test", TeamRole.ADMIN, "other org admin"
        ),
    )


# --- SQL statements per request (STYLE 6) ------------------------------------------------------

_NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip().upper().startswith(_NOT_COUNTED):
            self.statements.append(statement)


@pytest.fixture
def count_statements(services: Services) -> Iterator[StatementCounter]:
    counter = StatementCounter()
    engine = services.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine, "before_cursor_execute", counter)


# --- assertions -----------------------------------------------------------------------------


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code", "") for e in body.get("errors") or []]


def assert_no_permission(body: dict[str, Any], field_name: str) -> None:
    """A FORBIDDEN top-level error at `field_name`, whose value is null."""
    assert body["data"] is not None and body["data"].get(field_name) is None, body
    errors = [e for e in body.get("errors", []) if e.get("path", [None])[0] == field_name]
    assert errors and errors[0]["extensions"]["code"] == "FORBIDDEN", body


def assert_unauthenticated(body: dict[str, Any], field_name: str) -> None:
    assert body["data"] is None or body["data"].get(field_name) is None, body
    assert "UNAUTHENTICATED" in error_codes(body), body


def payload(body: dict[str, Any], field_name: str) -> dict[str, Any]:
    """The payload of a mutation that ran (no top-level error)."""
    assert not body.get("errors"), body
    result: dict[str, Any] = body["data"][field_name]
    return result


def user_error_codes(body: dict[str, Any], field_name: str) -> list[str]:
    return [e["code"] for e in payload(body, field_name)["errors"]]


@pytest.fixture
def later(clock: FrozenClock) -> Iterator[Any]:
    def move(**delta: float) -> None:
        clock.advance(timedelta(**delta))

    yield move


@pytest.fixture
def advance(later: Any, factory: Factory, world: World) -> Any:
    """Move the clock; the world's admin and developer sign in again (sessions last 12 h)."""

    async def move(**delta: float) -> None:
        later(**delta)
        world.admin = await factory.session_actor("admin", world.admin.user_pk or 0)
        world.dev = await factory.session_actor("developer", world.dev.user_pk or 0)

    return move


async def database_state(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """Everything an operation could change, to prove that a refused one changed nothing
    (lastUsedAt excepted: every token use may touch it)."""
    queries = {
        "organizations": "SELECT id, name FROM organizations ORDER BY id",
        "users": "SELECT id, org_id, email, role, status, password_hash, deleted_at FROM users ORDER BY id",
        "tokens": "SELECT id, owner_id, name, permission, revoked_at FROM access_tokens ORDER BY id",
        "sessions": "SELECT id, revoked_at FROM login_sessions ORDER BY id",
        "invitations": "SELECT id, used_at, superseded_at FROM invitations ORDER BY id",
        "audit": "SELECT id FROM audit_events ORDER BY id",
        "outbox": "SELECT id FROM outbox_emails ORDER BY id",
    }
    async with services.db.session() as session:
        return {
            name: [tuple(row) for row in (await session.execute(text(sql))).all()]
            for name, sql in queries.items()
        }
