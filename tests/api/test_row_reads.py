"""A `RowRead` on the driver gives what SQLAlchemy's session gives, and takes SQLAlchemy's way
when the driver fails (issue 8: the credential's read on every request)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import bindparam, event, inspect, join, update
from sqlalchemy.pool.base import _ConnectionFairy
from sqlmodel import col

from accessgraph import row_reads, sqlite_driver
from accessgraph.models import AccessToken, Organization, TeamRole, User
from accessgraph.resolvers.tokens import TokenRow
from accessgraph.services import Services
from tests.conftest import StatementCounter, World, is_postgres


def user_row(*, direct: bool = True) -> row_reads.RowRead:
    read = row_reads.RowRead(
        User,
        col(Organization.access_version),
        col(Organization.name),
        source=join(User, Organization, col(Organization.id) == col(User.org_id)),
        where=col(User.id) == bindparam("user_id"),
    )
    read.direct = direct
    return read


def columns(instance: Any) -> dict[str, Any]:
    return {c.key: getattr(instance, c.key) for c in inspect(type(instance)).column_attrs}


async def _with_every_kind_of_value(services: Services, user_pk: int) -> None:
    """A JSON list, an enum, a timezone-aware datetime and a NULL on the row."""
    async with services.db.write() as session:
        await session.execute(
            update(User)
            .where(col(User.id) == user_pk)
            .values(
                account_permissions=["MANAGE_TEAM"],
                last_login_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
                first_name=None,
            )
        )


async def test_a_row_read_on_the_driver_is_the_sessions_row(
    services: Services, world: World
) -> None:
    assert world.admin.user_pk is not None
    await _with_every_kind_of_value(services, world.admin.user_pk)
    direct = await user_row().one(services.db, user_id=world.admin.user_pk)
    via_session = await user_row(direct=False).one(services.db, user_id=world.admin.user_pk)
    assert direct is not None and via_session is not None
    user, version, name = direct
    assert columns(user) == columns(via_session[0])
    assert (version, name) == (via_session[1], via_session[2]) == (version, "Acme")
    assert user.role is TeamRole.ADMIN
    assert user.account_permissions == ["MANAGE_TEAM"]
    assert user.last_login_at == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    assert user.first_name is None
    # As a closed session leaves what it read: detached, its identity known, nothing pending.
    state = inspect(user)
    assert state.detached and state.key == inspect(via_session[0]).key
    assert not state.modified and not state.expired_attributes


async def test_a_row_read_of_no_row_is_none(services: Services, world: World) -> None:
    assert await user_row().one(services.db, user_id=999_999) is None


async def test_a_row_read_is_counted_as_a_statement(
    services: Services, world: World, count_statements: StatementCounter
) -> None:
    await user_row().one(services.db, user_id=world.admin.user_pk)
    assert len(count_statements.statements) == 1
    assert "FROM users JOIN organizations" in count_statements.statements[0]


@pytest.fixture
def invalidated(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Each pooled connection invalidated (not to be lent again)."""
    seen: list[object] = []
    original = _ConnectionFairy.invalidate

    def recording(self: _ConnectionFairy, *args: Any, **kwargs: Any) -> None:
        seen.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(_ConnectionFairy, "invalidate", recording)
    yield seen


async def test_a_driver_error_takes_sqlalchemys_way_and_drops_the_connection(
    services: Services, world: World, monkeypatch: pytest.MonkeyPatch, invalidated: list[object]
) -> None:
    async def broken(*_: Any, **__: Any) -> Any:
        raise ConnectionResetError("the connection went away")

    monkeypatch.setattr(services.db, "loop_reader", None)  # SQLite: the pooled way
    if is_postgres():
        import asyncpg

        monkeypatch.setattr(asyncpg.Connection, "fetch", broken)
    else:
        monkeypatch.setattr(sqlite_driver, "read", broken)
    row = await user_row().one(services.db, user_id=world.admin.user_pk)
    assert row is not None and row[0].email == "admin@acme.test"
    assert len(invalidated) == 1


async def test_a_key_matching_two_rows_is_an_error(services: Services, world: World) -> None:
    by_org = row_reads.RowRead(
        User, source=User.__table__, where=col(User.org_id) == bindparam("org_id")
    )
    with pytest.raises(LookupError):
        await by_org.one(services.db, org_id=world.org)


async def test_a_connection_the_pool_has_no_room_for_is_closed_cleanly(
    services: Services,
    world: World,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every pooled connection lent (no transaction: giving one back awaits nothing): the read
    # opens an overflow one and awaits it, the others come back meanwhile, so the pool is full
    # when the read gives its connection back and closes it, which awaits the driver: that
    # must happen in a greenlet.
    monkeypatch.setattr(services.db, "loop_reader", None)  # SQLite: the pooled way
    engine = services.db.engine
    held = [await engine.connect() for _ in range(engine.pool.size())]  # type: ignore[attr-defined]

    async def give_back() -> None:
        for connection in held:
            await connection.close()

    row, _ = await asyncio.gather(
        user_row().one(services.db, user_id=world.admin.user_pk), give_back()
    )
    assert row is not None
    assert "Exception closing connection" not in caplog.text
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


# --- Connections kept between reads (db.ReadConnections) ------------------------------------


@pytest.fixture
def pooled(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The database with reads on pooled connections (SQLite: not on the loop's own)."""
    monkeypatch.setattr(services.db, "loop_reader", None)
    yield services.db


async def test_a_reads_connection_is_kept_for_the_next_read(
    pooled: Any, world: World, checkouts: list[object]
) -> None:
    for _ in range(3):
        row = await user_row().one(pooled, user_id=world.admin.user_pk)
        assert row is not None and row[0].email == "admin@acme.test"
    assert len(checkouts) == 1
    assert pooled.engine.pool.checkedout() == 1  # kept: still lent, as far as the pool knows
    await pooled.read_connections.release()
    assert pooled.engine.pool.checkedout() == 0


async def test_a_connection_is_kept_for_a_while_only(
    pooled: Any, world: World, checkouts: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessgraph import db

    await user_row().one(pooled, user_id=world.admin.user_pk)
    monkeypatch.setattr(db, "READS_KEPT_FOR", 0.0)  # every kept connection is past its time
    await user_row().one(pooled, user_id=world.admin.user_pk)
    assert len(checkouts) == 2  # the kept one went back to the pool, another was borrowed
    assert pooled.engine.pool.checkedout() == 0  # and this one too


async def test_no_connection_is_kept_while_the_pool_is_busy(
    pooled: Any, world: World, checkouts: list[object]
) -> None:
    engine = pooled.engine
    busy = [await engine.connect() for _ in range(engine.pool.size() // 2)]
    try:
        for _ in range(2):
            assert await user_row().one(pooled, user_id=world.admin.user_pk) is not None
        assert len(checkouts) == len(busy) + 2  # each read borrowed from the pool
        assert engine.pool.checkedout() == len(busy)  # and gave back
    finally:
        for connection in busy:
            await connection.close()


async def test_a_kept_connection_that_fails_is_dropped(
    pooled: Any,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
    invalidated: list[object],
    checkouts: list[object],
) -> None:
    await user_row().one(pooled, user_id=world.admin.user_pk)  # kept
    failures = [ConnectionResetError("the server restarted")]

    async def fails_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await original(*args, **kwargs)

    if is_postgres():
        import asyncpg

        original = asyncpg.Connection.fetch
        monkeypatch.setattr(asyncpg.Connection, "fetch", fails_once)
    else:
        original = sqlite_driver.read
        monkeypatch.setattr(sqlite_driver, "read", fails_once)
    row = await user_row().one(pooled, user_id=world.admin.user_pk)
    assert row is not None and row[0].email == "admin@acme.test"  # SQLAlchemy's way
    assert len(invalidated) == 1
    assert pooled.engine.pool.checkedout() == 0  # not kept
    assert await user_row().one(pooled, user_id=world.admin.user_pk) is not None
    assert len(checkouts) == 3  # the failed one's replacement came from the pool


@pytest.fixture
def slow_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each read on the driver yields to the loop first (so reads overlap); the driver
    connection each used, by id."""
    used: list[int] = []
    if is_postgres():
        import asyncpg

        original = asyncpg.Connection.fetch

        async def fetch(self: Any, *args: Any, **kwargs: Any) -> Any:
            used.append(id(self))
            await asyncio.sleep(0.01)
            return await original(self, *args, **kwargs)

        monkeypatch.setattr(asyncpg.Connection, "fetch", fetch)
    else:
        reading = sqlite_driver.read

        async def read(connection: Any, *args: Any) -> Any:
            used.append(id(connection))
            await asyncio.sleep(0.01)
            return await reading(connection, *args)

        monkeypatch.setattr(sqlite_driver, "read", read)
    return used


async def _two_reads_at_once(db: Any, world: World) -> None:
    rows = await asyncio.gather(*(user_row().one(db, user_id=world.admin.user_pk) for _ in "ab"))
    assert all(row is not None for row in rows)


async def test_reads_at_once_take_a_connection_each(
    pooled: Any, world: World, slow_reads: list[int]
) -> None:
    await user_row().one(pooled, user_id=world.admin.user_pk)  # one kept
    slow_reads.clear()
    await _two_reads_at_once(pooled, world)
    assert len(set(slow_reads)) == 2
    assert pooled.engine.pool.checkedout() == 2  # both kept now


async def test_a_connection_kept_past_its_time_goes_back_though_newer_ones_serve(
    pooled: Any, world: World, slow_reads: list[int]
) -> None:
    await _two_reads_at_once(pooled, world)
    assert pooled.engine.pool.checkedout() == 2
    kept = pooled.read_connections._idle
    kept[0] = (kept[0][0], kept[0][1] - 3600)  # the older one left the pool an hour ago
    await user_row().one(pooled, user_id=world.admin.user_pk)
    assert pooled.engine.pool.checkedout() == 1


async def test_kept_connections_go_back_when_the_pool_is_wanted(pooled: Any, world: World) -> None:
    await _two_reads_at_once(pooled, world)
    engine = pooled.engine
    busy = [await engine.connect() for _ in range(engine.pool.size() // 2)]
    try:
        assert await user_row().one(pooled, user_id=world.admin.user_pk) is not None
        assert engine.pool.checkedout() == len(busy)  # none kept any more
    finally:
        for connection in busy:
            await connection.close()


async def test_disposing_gives_kept_connections_back(
    services: Services, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accessgraph.db import Database

    database = Database(services.db.url)
    loop_reader = database.loop_reader
    monkeypatch.setattr(database, "loop_reader", None)  # SQLite: the pooled way
    pool: Any = database.engine.pool  # disposing replaces the engine's pool
    try:
        assert await user_row().one(database, user_id=world.admin.user_pk) is not None
        assert pool.checkedout() == 1
        await database.dispose()
        assert pool.checkedout() == 0
        # A read that ends after the release keeps nothing.
        connection, since = await database.read_connections.borrow()
        await database.read_connections.give_back(connection, since)
        assert database.engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        await database.engine.dispose()
    finally:
        if loop_reader is not None:
            loop_reader.close()


# --- SQLite: the event loop's own connection ---------------------------------------------------

sqlite_only = pytest.mark.skipif(is_postgres(), reason="SQLite's loop reader")


@pytest.fixture
def checkouts(services: Services) -> Iterator[list[object]]:
    seen: list[object] = []

    def record(*args: Any) -> None:
        seen.append(args)

    event.listen(services.db.engine.sync_engine, "checkout", record)
    yield seen
    event.remove(services.db.engine.sync_engine, "checkout", record)


@sqlite_only
async def test_a_read_by_key_takes_no_pooled_connection_on_sqlite(
    services: Services, world: World, checkouts: list[object]
) -> None:
    await user_row().one(services.db, user_id=world.admin.user_pk)  # the connection opened
    checkouts.clear()
    row = await user_row().one(services.db, user_id=world.admin.user_pk)
    assert row is not None and row[0].email == "admin@acme.test"
    assert checkouts == []


@sqlite_only
async def test_a_loop_read_that_fails_takes_the_pools_way(
    services: Services, world: World, checkouts: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    original = sqlite_driver._read_inline
    failures = [sqlite3.OperationalError("database is locked")]

    def once_busy(connection: Any, operation: str, parameters: Any) -> Any:
        if failures:
            raise failures.pop()
        return original(connection, operation, parameters)

    monkeypatch.setattr(sqlite_driver, "_read_inline", once_busy)
    row = await user_row().one(services.db, user_id=world.admin.user_pk)
    assert row is not None and row[0].email == "admin@acme.test"
    assert len(checkouts) == 1  # the pool's connection, after the loop's connection gave up


@sqlite_only
async def test_a_loop_read_past_its_budget_takes_the_pools_way(
    services: Services, world: World, checkouts: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_driver, "INLINE_STEPS", 0)  # nothing fits in the loop
    row = await user_row().one(services.db, user_id=world.admin.user_pk)
    assert row is not None and row[0].email == "admin@acme.test"
    assert len(checkouts) == 1


@sqlite_only
async def test_the_loops_connection_never_writes(services: Services, world: World) -> None:
    reader = services.db.loop_reader
    assert reader is not None
    assert reader.read("DELETE FROM users", ()) is None  # refused: query_only
    assert await user_row().one(services.db, user_id=world.admin.user_pk) is not None


async def test_a_cancelled_read_does_not_lend_its_connection_again(
    services: Services, world: World, monkeypatch: pytest.MonkeyPatch, invalidated: list[object]
) -> None:
    async def cancelled(*_: Any, **__: Any) -> Any:
        raise asyncio.CancelledError  # the request's timeout, mid-statement

    monkeypatch.setattr(services.db, "loop_reader", None)  # SQLite: the pooled way
    if is_postgres():
        import asyncpg

        monkeypatch.setattr(asyncpg.Connection, "fetch", cancelled)
    else:
        monkeypatch.setattr(sqlite_driver, "read", cancelled)
    with pytest.raises(asyncio.CancelledError):
        await user_row().one(services.db, user_id=world.admin.user_pk)
    assert len(invalidated) == 1


# --- Many rows: lists, the statement's own values, and no value kept from an earlier read ------


def users_of_org(*, direct: bool = True) -> row_reads.RowsRead:
    """Users of an organization among some ids, at most `limit` (SQLite binds `OFFSET 0` too)."""
    read = row_reads.RowsRead(
        User,
        col(User.email),
        shape=lambda selected: (
            selected.where(
                col(User.org_id) == bindparam("org_id"),
                col(User.id).in_(bindparam("user_ids", expanding=True)),
            )
            .order_by(col(User.id))
            .limit(bindparam("limit"))
        ),
        lists=("user_ids",),
    )
    read.direct = direct
    return read


async def test_a_read_of_many_rows_is_the_sessions_rows(services: Services, world: World) -> None:
    acme = [world.admin.user_pk, world.dev.user_pk, world.dev2.user_pk]
    read, via_session = users_of_org(), users_of_org(direct=False)
    params = {"org_id": world.org, "user_ids": acme, "limit": 10}
    rows = await read.all(services.db, **params)
    expected = await via_session.all(services.db, **params)
    assert [columns(user) for user, _ in rows] == [columns(user) for user, _ in expected]
    assert [email for _, email in rows] == ["admin@acme.test", "dev@acme.test", "dev2@acme.test"]
    assert all(inspect(user).detached for user, _ in rows)


async def test_each_read_binds_its_own_values(services: Services, world: World) -> None:
    """Compiled once per size of the list, never with an earlier read's values: the same
    shape of read for another organization, other ids and another limit answers for those."""
    read = users_of_org()
    everyone = [
        world.admin.user_pk,
        world.dev.user_pk,
        world.dev2.user_pk,
        world.other_admin.user_pk,
    ]

    async def emails(org_id: int, user_ids: list[int | None], limit: int) -> list[str]:
        rows = await read.all(services.db, org_id=org_id, user_ids=user_ids, limit=limit)
        return [email for _, email in rows]

    assert await emails(world.org, everyone, 10) == [
        "admin@acme.test",
        "dev@acme.test",
        "dev2@acme.test",
    ]
    assert await emails(world.other_org, everyone, 10) == ["admin@globex.test"]
    assert await emails(world.org, everyone, 1) == ["admin@acme.test"]
    # The same length of list with other ids, then other lengths (none at all included).
    assert await emails(world.org, [world.dev2.user_pk, -1, -2, -3], 10) == ["dev2@acme.test"]
    assert await emails(world.org, [world.dev.user_pk], 10) == ["dev@acme.test"]
    assert await emails(world.org, [], 10) == []
    # Three ids are sent as four (the last repeated): the same answer.
    three = [world.dev2.user_pk, world.admin.user_pk, world.other_admin.user_pk]
    assert await emails(world.org, three, 10) == ["admin@acme.test", "dev2@acme.test"]
    assert await emails(world.other_org, three, 10) == ["admin@globex.test"]


@pytest.mark.parametrize("kind", ["literal", "undeclared list"])
async def test_a_read_that_would_write_a_callers_value_into_its_sql_is_refused(
    services: Services, world: World, kind: str
) -> None:
    """A value rendered into the SQL (`literal_execute`) would be the first caller's for every
    later caller; an expanding parameter not named in `lists` never runs on the driver."""
    if kind == "literal":
        org = bindparam("org_id", literal_execute=True)
        read = row_reads.RowsRead(
            User,
            shape=lambda selected: selected.where(
                col(User.org_id) == org,
                col(User.id).in_(bindparam("user_ids", expanding=True)),
            ),
            lists=("user_ids",),
        )
    else:
        read = row_reads.RowsRead(
            User,
            shape=lambda selected: selected.where(
                col(User.id).in_(bindparam("user_ids", expanding=True))
            ),
        )
    with pytest.raises(ValueError, match="parameters"):
        await read.all(services.db, org_id=world.org, user_ids=[world.admin.user_pk])


async def test_too_many_sizes_of_a_list_take_sqlalchemys_way(
    services: Services, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(row_reads, "SIZES_KEPT", 2)
    read = users_of_org()
    for n in range(1, 5):
        ids = [world.admin.user_pk] + [-i for i in range(1, n)]
        rows = await read.all(services.db, org_id=world.org, user_ids=ids, limit=5)
        assert [email for _, email in rows] == ["admin@acme.test"]
    assert len(next(iter(read._compiled.values()))) == 2


async def test_an_instance_made_from_plain_values_is_the_sessions(
    services: Services, world: World
) -> None:
    """`detached`: what a page read as plain values makes when a field needs the model."""
    async with services.db.session() as session:
        loaded = await session.get(User, world.dev.user_pk)
    assert loaded is not None
    made = row_reads.detached(User, columns(loaded))
    assert type(made) is User and columns(made) == columns(loaded)
    state = inspect(made)
    assert state.detached and state.key == inspect(loaded).key
    assert not state.modified and not state.expired_attributes


def test_a_user_row_holds_every_column_of_the_user() -> None:
    """A `UserRow` (the team page's) makes the model's instance from its values: all of them."""
    from accessgraph.resolvers.users import UserRow

    assert set(UserRow._fields) == {c.key for c in inspect(User).column_attrs}


def test_a_token_row_holds_every_column_of_the_token() -> None:
    """A `TokenRow` makes the model's instance (for the policy) from its values: all of them."""
    assert set(TokenRow._fields) == {c.key for c in inspect(AccessToken).column_attrs}


async def test_an_instance_read_on_the_driver_can_be_changed_in_a_session(
    services: Services, world: World
) -> None:
    """A page's instance is a real detached one: a session takes it back (by its identity,
    no second copy) and writes a change of it, and pydantic's own state is there."""
    found = await user_row().one(services.db, user_id=world.dev.user_pk)
    assert found is not None
    user = found[0]
    assert user.__pydantic_fields_set__ == set() and user.__pydantic_extra__ is None
    assert user.model_dump()["email"] == user.email
    async with services.db.write() as session:
        session.add(user)
        assert await session.get(User, world.dev.user_pk) is user
        user.first_name = "Changed"
    async with services.db.session() as session:
        again = await session.get(User, world.dev.user_pk)
    assert again is not None and again.first_name == "Changed"
