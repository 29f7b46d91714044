"""The SQLite adapter makes one trip to aiosqlite's thread per statement, none for a short read
outside a transaction (issue 8), and behaves as the stock one: rows, counts, constraint errors,
rollback of writes, bulk inserts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import col

from accessgraph import sqlite_driver
from accessgraph.models import User
from accessgraph.services import Services
from accessgraph.sqlite_driver import OneTripConnection
from tests.conftest import Api, StatementCounter, World, is_postgres

pytestmark = pytest.mark.skipif(is_postgres(), reason="the SQLite adapter")


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The name of each function run in aiosqlite's thread."""
    seen: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    yield seen


TEAM = "query { users(first: 5) { totalCount edges { node { email } } } }"
COUNT_TO = """
SELECT count(*) FROM (
  WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :top) SELECT i FROM n
)"""


async def test_a_request_makes_one_trip_per_statement(
    api: Api,
    world: World,
    trips: list[str],
    count_statements: StatementCounter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlite_driver, "INLINE_STEPS", 0)  # every read in aiosqlite's thread
    await api("query { viewer { id } }", as_=world.admin)  # connections opened, keys loaded
    trips.clear()
    count_statements.statements.clear()
    body = await api(TEAM, as_=world.admin)
    assert not body.get("errors"), body
    assert len(count_statements.statements) == 2  # the credential; the page with its count
    assert trips == ["_execute"] * 2, trips


async def test_short_reads_run_in_the_loops_thread(
    api: Api, world: World, trips: list[str], count_statements: StatementCounter
) -> None:
    await api("query { viewer { id } }", as_=world.admin)
    trips.clear()
    count_statements.statements.clear()
    body = await api(TEAM, as_=world.admin)
    assert body["data"]["users"]["totalCount"] == 3, body
    assert len(count_statements.statements) == 2
    assert trips == [], trips


async def _connected(services: Services, trips: list[str]) -> None:
    """A pooled connection opened (opening one takes trips of its own), trips forgotten."""
    async with services.db.session() as session:
        await session.execute(text("SELECT 1"))
    trips.clear()


@pytest.fixture
def inline_tries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Each read tried in the loop's thread: whether it finished there. Long reads forgotten."""
    tried: list[bool] = []
    original = sqlite_driver._execute_inline

    def recorded(conn: Any, operation: str, parameters: Any) -> Any:
        try:
            result = original(conn, operation, parameters)
        except sqlite_driver._TooLong:
            tried.append(False)
            raise
        tried.append(True)
        return result

    monkeypatch.setattr(sqlite_driver, "_execute_inline", recorded)
    monkeypatch.setattr(sqlite_driver, "_long_reads", {})
    yield tried


async def test_a_long_read_moves_to_aiosqlites_thread(
    services: Services, trips: list[str], inline_tries: list[bool]
) -> None:
    top = 200_000  # several steps per row: far past the budget
    await _connected(services, trips)
    inline_tries.clear()
    async with services.db.session() as session:
        assert await session.scalar(text(COUNT_TO), {"top": 10}) == 10
        assert (trips, inline_tries) == ([], [True])  # within the budget: no trip
        assert await session.scalar(text(COUNT_TO), {"top": top}) == top
        # Interrupted in the loop's thread, run again in aiosqlite's.
        assert (trips, inline_tries) == (["_execute"], [True, False])
        # The budget is the statement's own: the connection's next read runs inline.
        assert await session.scalar(text("SELECT 7")) == 7
        assert (trips, inline_tries) == (["_execute"], [True, False, True])


async def test_the_budget_is_per_run_of_a_repeated_read(
    services: Services, trips: list[str], inline_tries: list[bool]
) -> None:
    # ~1,800 steps a run; SQLite counts a cached statement's steps over all its runs, so a
    # budget handed to SQLite as is interrupted this read every dozen runs.
    await _connected(services, trips)
    inline_tries.clear()
    async with services.db.session() as session:
        for _ in range(40):
            assert await session.scalar(text(COUNT_TO), {"top": 100}) == 100
    assert inline_tries == [True] * 40
    assert trips == []


async def test_a_statement_known_to_be_long_goes_straight_to_the_thread(
    services: Services,
    trips: list[str],
    inline_tries: list[bool],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sqlite_driver, "LONG_RETRY_AFTER", 2)
    await _connected(services, trips)
    inline_tries.clear()
    async with services.db.session() as session:
        for top in (200_000, 200_001, 5):  # one shape: the last two skip the loop's thread
            assert await session.scalar(text(COUNT_TO), {"top": top}) == top
        assert inline_tries == [False]
        assert trips == ["_execute"] * 3
        # After LONG_RETRY_AFTER runs in the thread, the shape is tried inline again.
        assert await session.scalar(text(COUNT_TO), {"top": 5}) == 5
        assert inline_tries == [False, True]
        assert trips == ["_execute"] * 3


async def test_a_read_in_a_transaction_never_runs_inline(
    services: Services, trips: list[str]
) -> None:
    async with services.db.write() as session:
        trips.clear()
        assert await session.scalar(text(COUNT_TO), {"top": 10}) == 10
    assert trips[:1] == ["_execute"], trips  # the transaction's own connection and thread


async def test_an_inline_reads_error_is_the_drivers(services: Services, trips: list[str]) -> None:
    await _connected(services, trips)
    async with services.db.session() as session:
        with pytest.raises(OperationalError, match="no such table"):
            await session.execute(text("SELECT * FROM no_such_table"))
    assert trips == []
    async with services.db.session() as session:  # the connection is still good
        assert await session.scalar(text(COUNT_TO), {"top": 3}) == 3


async def test_rows_counts_and_errors_are_the_drivers(world: World, services: Services) -> None:
    async with services.db.session() as session:
        assert (await session.execute(text("SELECT 1, 'a' UNION ALL SELECT 2, 'b'"))).all() == [
            (1, "a"),
            (2, "b"),
        ]
        result = await session.execute(text("SELECT 1 AS one, 2 AS two"))
        assert list(result.keys()) == ["one", "two"]
    async with services.db.write() as session:
        changed = await session.execute(
            update(User).where(col(User.org_id) == world.org).values(first_name="Same")
        )
        assert changed.rowcount == 3  # world's admin and two developers  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError):
        async with services.db.write() as session:
            await session.execute(
                update(User)
                .where(col(User.id) == world.dev.user_pk)
                .values(email_normalized=world.admin.email)
            )


async def test_a_bulk_insert_and_its_rollback(world: World, services: Services) -> None:
    rows = [
        {
            "org_id": world.org,
            "email": f"bulk{i}@acme.test",
            "email_normalized": f"bulk{i}@acme.test",
            "role": "DEVELOPER",
            "status": "ACTIVE",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
        }
        for i in range(3)
    ]

    async def insert_then_fail() -> None:
        async with services.db.write() as session:
            await session.execute(insert(User), rows)
            assert await session.scalar(
                select(col(User.id)).where(col(User.email) == "bulk2@acme.test")
            )
            raise RuntimeError("fails after the insert")

    with pytest.raises(RuntimeError):
        await insert_then_fail()
    async with services.db.session() as session:
        assert not await session.scalar(select(col(User.id)).where(col(User.email).like("bulk%")))
    async with services.db.write() as session:
        await session.execute(insert(User), rows)
    async with services.db.session() as session:
        found = (
            await session.execute(select(col(User.email)).where(col(User.email).like("bulk%")))
        ).all()
    assert len(found) == 3


async def test_the_engine_uses_the_one_trip_adapter(services: Services) -> None:
    async with services.db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.dbapi_connection, OneTripConnection)


@pytest.fixture
def held_reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[threading.Event, list[int]]]:
    """SELECTs on the user table outside a transaction wait in aiosqlite's thread until the
    event is set; the list records how many such reads ran at once, each time one started."""
    release = threading.Event()
    running: list[int] = []
    active = [0]
    lock = threading.Lock()
    original = sqlite_driver._execute
    monkeypatch.setattr(sqlite_driver, "INLINE_STEPS", 0)  # reads go to aiosqlite's thread

    def held(conn: Any, operation: str, parameters: Any, many: bool) -> Any:
        read = operation.lstrip().upper().startswith("SELECT") and "FROM users" in operation
        if read and not conn.in_transaction:
            with lock:
                active[0] += 1
                running.append(active[0])
            try:
                release.wait(10)
            finally:
                with lock:
                    active[0] -= 1
        return original(conn, operation, parameters, many)

    monkeypatch.setattr(sqlite_driver, "_execute", held)
    yield release, running
    release.set()


async def _read_user(services: Services, user_pk: int | None) -> Any:
    async with services.db.session() as session:
        return await session.scalar(select(col(User.email)).where(col(User.id) == user_pk))


async def test_reads_in_flight_are_bounded(
    world: World, services: Services, held_reads: tuple[threading.Event, list[int]]
) -> None:
    release, running = held_reads
    reads = [asyncio.create_task(_read_user(services, world.dev.user_pk)) for _ in range(6)]
    await asyncio.sleep(0.2)
    assert max(running) == sqlite_driver.READS_IN_FLIGHT
    release.set()
    assert await asyncio.gather(*reads) == [world.dev.email] * 6
    assert max(running) == sqlite_driver.READS_IN_FLIGHT


async def test_a_write_is_never_held_back_by_reads(
    world: World, services: Services, held_reads: tuple[threading.Event, list[int]]
) -> None:
    release, _ = held_reads
    reads = [asyncio.create_task(_read_user(services, world.dev.user_pk)) for _ in range(4)]
    await asyncio.sleep(0.2)  # both read slots are taken, and the reads hold them

    async def rename() -> None:
        async with services.db.write() as session:
            await session.execute(
                update(User).where(col(User.id) == world.dev.user_pk).values(first_name="W")
            )
            # A read inside the write's transaction is not held back either.
            await session.scalar(
                select(col(User.first_name)).where(col(User.id) == world.dev.user_pk)
            )

    await asyncio.wait_for(rename(), timeout=5)
    assert not any(read.done() for read in reads)
    release.set()
    await asyncio.gather(*reads)
