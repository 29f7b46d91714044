"""The async engine and session factories, owned by the app's lifespan (no import-time engine).

Writes that check an invariant across rows (the last active admin, R4) must not interleave:
on PostgreSQL they lock the organization's row (`lock_organization`); on SQLite every write
transaction starts with BEGIN IMMEDIATE, which serializes writers, while reads stay deferred.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import PoolProxiedConnection, QueuePool
from sqlalchemy.util import greenlet_spawn
from sqlmodel import col

from accessgraph import pg_timestamps, sqlite_driver
from accessgraph.json_reads import read_json
from accessgraph.models import Organization

_IMMEDIATE = "accessgraph_write"
_READ_ONLY = "accessgraph_read"
POOL_SIZE = 32
POOL_OVERFLOW = 8
# Direct reads (see ReadConnections): connections kept between them, and for how long.
READS_KEEP = 8
READS_KEPT_FOR = 60.0  # seconds; then the pool has it back (its recycling, its events)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        # JSON columns are read with `read_json` (SQLite's result processor, asyncpg's codec).
        kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": read_json}
        # Connections kept for reuse: with fewer than the requests in flight, the extra ones
        # were opened and closed per request (on SQLite a thread and the PRAGMAs each time:
        # +20% CPU per team page at 16 connections). And opening one takes several turns of
        # the event loop, each a turn of every request in flight: at 32 connections of load a
        # pool that kept 20 opened one every few hundred requests, and those requests took
        # ~250 ms instead of ~40. POOL_SIZE kept, at most POOL_SIZE + POOL_OVERFLOW open per
        # worker (40: two workers stay within PostgreSQL's default 100 connections).
        kwargs.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
        if self.is_sqlite:
            # Short reads run in the loop's thread (sqlite_driver.INLINE_STEPS) on a connection
            # aiosqlite opened in its own; SQLAlchemy lends a connection to one user at a time.
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
            if make_url(url).get_driver_name() == "aiosqlite":
                kwargs["module"] = sqlite_driver.dbapi()
        else:
            # No pre-ping: it would add a statement to every checkout; recycle instead.
            kwargs["pool_recycle"] = 1800
        asyncpg = make_url(url).get_driver_name() == "asyncpg"
        if asyncpg:
            kwargs["connect_args"] = {"server_settings": pg_timestamps.SERVER_SETTINGS}
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        if asyncpg:
            pg_timestamps.read_timestamps_as_text(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # Reads run without a transaction of their own: each statement sees one committed
        # state, as under PostgreSQL's READ COMMITTED anyway, and a read is one statement on
        # the wire instead of BEGIN, the statement and ROLLBACK (on SQLite each of those is
        # several hand-offs to aiosqlite's thread: ~0.3 ms of CPU per read session).
        reads = self.engine.execution_options(
            **({_READ_ONLY: True} if self.is_sqlite else {"isolation_level": "AUTOCOMMIT"})
        )
        self._reads = async_sessionmaker(reads, expire_on_commit=False)
        # SQLite on a file: short reads by key on the event loop's own connection (see
        # sqlite_driver.LoopReader); None elsewhere (PostgreSQL, in-memory, URL options).
        self.loop_reader = _loop_reader(url) if self.is_sqlite else None
        self.read_connections = ReadConnections(self.engine)

    def session(self) -> AsyncSession:
        """A session for reads (no transaction: each statement sees the latest committed state;
        every write goes through `write`); the caller closes it."""
        return self._reads()

    def snapshot(self) -> AsyncSession:
        """A session for reads that belong together (one transaction; a server-side cursor on
        PostgreSQL needs one); the caller closes it."""
        return self._sessions()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One write transaction: committed on success, rolled back on any exception."""
        async with self._sessions() as session, session.begin():
            if self.is_sqlite:
                # The first connection use emits BEGIN; the option makes it BEGIN IMMEDIATE.
                await session.connection(execution_options={_IMMEDIATE: True})
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")

    async def dispose(self) -> None:
        if self.loop_reader is not None:
            self.loop_reader.close()
        await self.read_connections.release()
        await self.engine.dispose()


class ReadConnections:
    """Pooled connections for reads on the driver (`row_reads`), kept between them.

    Borrowing from SQLAlchemy's pool and giving back runs its checkout, reset and return in a
    greenlet each way: ~25 µs of CPU a read on PostgreSQL, a twentieth of a `checkAccess`. A
    connection given back is kept here instead, for the next read, while the pool has room to
    spare (at most half its size lent, counting these, and none beyond it), at most
    READS_KEEP of them, each for at most READS_KEPT_FOR seconds since it left the pool. A kept
    connection is still lent as far as the pool knows, so the pool's bound on open
    connections holds; the ones kept longest go back first."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Oldest first; the last, used most recently, is lent first (the warmest).
        self._idle: list[tuple[PoolProxiedConnection, float]] = []
        self._closed = False

    async def borrow(self) -> tuple[PoolProxiedConnection, float]:
        """A connection, and when it left the pool (for `give_back`)."""
        idle = self._idle
        if idle:
            now = time.monotonic()
            while idle and now - idle[0][1] >= READS_KEPT_FOR:
                await _to_pool(idle.pop(0)[0])
            if idle and not self._room():  # the pool is wanted: keep none but this one
                while len(idle) > 1:
                    await _to_pool(idle.pop(0)[0])
            if idle:
                return idle.pop()
        return await self._engine.raw_connection(), time.monotonic()

    async def give_back(self, connection: PoolProxiedConnection, since: float) -> None:
        """After a read that left the connection as it found it (no transaction, no error)."""
        if (
            not self._closed
            and len(self._idle) < READS_KEEP
            and self._room()
            and time.monotonic() - since < READS_KEPT_FOR
        ):
            self._idle.append((connection, since))
            return
        await _to_pool(connection)

    @staticmethod
    async def drop(connection: PoolProxiedConnection) -> None:
        """After a read that failed or was cancelled: the connection is never lent again."""
        await greenlet_spawn(connection.invalidate)
        await _to_pool(connection)

    def _room(self) -> bool:
        pool = self._engine.pool
        return (
            isinstance(pool, QueuePool)
            and pool.overflow() <= 0  # else the pool closes one beyond its size
            and pool.checkedout() <= pool.size() // 2
        )

    async def release(self) -> None:
        """Give every kept connection back to the pool, and keep none from now on (before
        the engine is disposed of)."""
        self._closed = True
        while self._idle:
            await _to_pool(self._idle.pop()[0])


async def _to_pool(connection: PoolProxiedConnection) -> None:
    # In a greenlet, as AsyncConnection does: giving back a connection the pool has no room
    # for (or an invalidated one) closes it, which awaits the driver.
    await greenlet_spawn(connection.close)


async def lock_organization(session: AsyncSession, org_id: int) -> None:
    """Serialize invariant-checking writes of one organization (a row lock on PostgreSQL)."""
    await session.execute(
        select(col(Organization.id)).where(col(Organization.id) == org_id).with_for_update()
    )


def _loop_reader(url: str) -> sqlite_driver.LoopReader | None:
    parsed = make_url(url)
    path = parsed.database
    if parsed.get_driver_name() != "aiosqlite" or parsed.query or not path:
        return None
    if path == ":memory:" or path.startswith("file:"):
        return None
    return sqlite_driver.LoopReader(path)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(_READ_ONLY, False):
            return  # autocommit: each statement is its own transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE, False) else "BEGIN")
