"""SQLAlchemy's aiosqlite adapter, one trip to aiosqlite's thread per statement (issue 8).

aiosqlite runs each sqlite3 call in its own thread and hands the result back to the event
loop; SQLAlchemy's adapter makes four such trips per statement (open a cursor, execute, fetch
all, close) and one more per session for a ROLLBACK that has nothing to undo. Each trip wakes
two threads and costs more CPU than reading a page of rows from SQLite's cache. Here a statement
is one trip (the same four sqlite3 calls, run together in aiosqlite's thread), and a rollback or
commit with no transaction open (a read: see `Database.session`) is skipped, exactly as sqlite3
itself skips it. Errors are raised by the same sqlite3 calls, so SQLAlchemy sees the same
exceptions; server-side cursors (streamed results) keep the stock adapter's cursor. A short
read outside a transaction makes no trip at all: it runs in the event loop's thread within a
budget of SQLite steps, and runs again in aiosqlite's thread if it needs more (INLINE_STEPS).

Used for `sqlite+aiosqlite` URLs by `Database` (through `create_async_engine(module=...)`).
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT

Description = tuple[tuple[Any, ...], ...] | None


class _Outcome:
    """What SQLAlchemy reads of a DBAPI cursor once its statement has run."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self) -> None:
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1


def _execute(
    conn: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[Description, int, int | None, list[Any] | None]:
    """Run in aiosqlite's thread: the statement, its rows, its counts, the cursor closed."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class _TooLong(Exception):
    """A read ran past its budget of virtual machine steps in the event loop's thread."""


# A read outside a transaction runs in the event loop's own thread while it stays within this
# many SQLite virtual machine steps (~50 ns each, rows included: the loop is held ~1 ms at
# most, plus any page SQLite must read from disk). A trip to aiosqlite's thread and back costs
# ~150 µs of CPU, more than most reads: on the bench's pages a page of 50 users takes ~2,000
# steps, the credential's row fewer than 1,000. A longer read (the tokens of 50 users, ~10,000
# to 31,000; a project's first members, ~51,000; any scan) is interrupted at the budget and
# runs again in aiosqlite's thread, where it no longer holds the loop: a read outside a
# transaction changes nothing and keeps no transaction, so running it again is safe. 0 sends
# every read to the thread.
INLINE_STEPS = 20_000
# SQLite calls the progress handler every this many steps, counted over all the runs of a
# prepared statement (sqlite3 keeps a cache of them), not per run: a budget given to SQLite
# itself interrupted a short, often repeated read (the credential's) once every few dozen runs.
# The handler counts its own calls, so each run gets INLINE_STEPS steps, give or take one period.
STEPS_PER_CHECK = 1_000


# Statements (by their SQL text: their shape) that ran past the budget lately go straight to
# the thread, so that a read that is always long does not waste the budget every time; each is
# tried inline again after this many runs (a statement may have been long once, e.g. on a
# connection's first use, which reads the schema).
LONG_RETRY_AFTER = 100
_LONG_MEMORY = 512
_long_reads: dict[str, int] = {}


def _known_long(operation: str) -> bool:
    left = _long_reads.get(operation)
    if left is None:
        return False
    if left <= 1:
        del _long_reads[operation]
    else:
        _long_reads[operation] = left - 1
    return True


def _remember_long(operation: str) -> None:
    if len(_long_reads) >= _LONG_MEMORY:
        _long_reads.clear()
    _long_reads[operation] = LONG_RETRY_AFTER


def _execute_inline(conn: sqlite3.Connection, operation: str, parameters: Any) -> Any:
    """`_execute` in the calling thread, or _TooLong past INLINE_STEPS steps."""
    checks_left = max(1, INLINE_STEPS // STEPS_PER_CHECK)
    stopped = False

    def check() -> int:
        nonlocal checks_left, stopped
        checks_left -= 1
        stopped = checks_left < 0
        return stopped  # true: SQLite interrupts the statement

    conn.set_progress_handler(check, STEPS_PER_CHECK)
    try:
        return _execute(conn, operation, parameters, False)
    except sqlite3.OperationalError:
        if stopped:
            raise _TooLong from None
        raise
    finally:
        conn.set_progress_handler(None, 0)


def _read_inline(conn: sqlite3.Connection, operation: str, parameters: Any) -> Any:
    """A read's outcome, run in the calling thread; None when it belongs in aiosqlite's
    thread (reads inline off, its shape known to be long, or it ran past the budget now)."""
    if not INLINE_STEPS or _known_long(operation):
        return None
    try:
        return _execute_inline(conn, operation, parameters)
    except _TooLong:
        _remember_long(operation)
        return None


# Reads outside a transaction running at once in aiosqlite's threads, per event loop. Each
# connection has its own thread; with a read per request in flight, a dozen threads took turns
# at the GIL on one core (+10% CPU per team page at 16 connections). A read in autocommit mode
# never waits for a lock (WAL), so a held slot is always released: no deadlock. Writes and
# anything inside a transaction (which may wait for SQLite's write lock) are never held back.
READS_IN_FLIGHT = 2
_READ_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _reads_in_flight() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _READ_GATES.get(loop)
    if gate is None:
        gate = _READ_GATES[loop] = asyncio.Semaphore(READS_IN_FLIGHT)
    return gate


async def _read(
    connection: aiosqlite.Connection, operation: str, parameters: Any
) -> tuple[Description, int, int | None, list[Any] | None]:
    """A read outside a transaction: inline within the budget, else in aiosqlite's thread."""
    in_thread: Callable[..., Awaitable[Any]] = connection._execute  # aiosqlite's queue
    raw = connection._conn
    done = _read_inline(raw, operation, parameters)
    if done is None:
        async with _reads_in_flight():
            done = await in_thread(_execute, raw, operation, parameters, False)
    return done  # type: ignore[no-any-return]


async def read(connection: aiosqlite.Connection, operation: str, parameters: Any) -> list[Any]:
    """The rows of a SELECT run on an idle connection that SQLAlchemy's pool lent (see
    row_reads.py); inside a transaction it runs in aiosqlite's thread, as any statement."""
    if connection._conn.in_transaction:
        in_thread: Callable[..., Awaitable[Any]] = connection._execute
        done = await in_thread(_execute, connection._conn, operation, parameters, False)
    else:
        done = await _read(connection, operation, parameters)
    return done[3] or []


class LoopReader:
    """A connection of the event loop's own, for short reads by key (row_reads.py): no pool to
    check a connection out of and back into (~60 µs of CPU per credential read), since a read
    run inline never yields, so one connection serves the whole loop in turn. It never writes
    (`query_only`) and never waits: the budget of INLINE_STEPS, no busy timeout. A read it
    cannot finish (too long, busy, any error) answers None and takes the pool's way instead,
    where errors are reported as for every other statement."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None

    def read(self, operation: str, parameters: Any) -> list[Any] | None:
        try:
            connection = self._connection
            if connection is None:
                connection = sqlite3.connect(
                    self._path, timeout=0, isolation_level=None, check_same_thread=False
                )
                connection.execute("PRAGMA query_only=ON")
                self._connection = connection
            done = _read_inline(connection, operation, parameters)
        except sqlite3.Error:
            self.close()  # opened afresh by the next read
            return None
        return None if done is None else (done[3] or [])

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _is_select(operation: str) -> bool:
    return operation.lstrip()[:6].upper() == "SELECT"


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ()

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        # No cursor is opened here: `_execute` opens and closes its own in the same trip.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = _Outcome()  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()

    async def _run(self, operation: Any, parameters: Any, many: bool) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        in_thread: Callable[..., Awaitable[Any]] = connection._execute  # aiosqlite's queue
        raw = connection._conn
        async with self._adapt_connection._execute_mutex:
            if many or raw.in_transaction or not _is_select(operation):
                description, rowcount, lastrowid, rows = await in_thread(
                    _execute, raw, operation, parameters, many
                )
            else:
                description, rowcount, lastrowid, rows = await _read(
                    connection, operation, parameters
                )
        outcome: _Outcome = self._cursor  # type: ignore[assignment]
        outcome.description, outcome.rowcount, outcome.lastrowid = description, rowcount, lastrowid
        self._rows = collections.deque(rows) if rows is not None else collections.deque()

    async def _execute_async(self, operation: Any, parameters: Any) -> None:
        await self._run(operation, parameters, False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> None:
        await self._run(operation, seq_of_parameters, True)

    async def _async_soft_close(self) -> None:
        return None  # the cursor closed in the statement's own trip

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = OneTripCursor

    def _in_transaction(self) -> bool:
        raw: sqlite3.Connection | None = getattr(self._connection, "_connection", None)
        # A flag read (sqlite3_get_autocommit); the connection is idle while SQLAlchemy holds it.
        return raw is None or raw.in_transaction

    def rollback(self) -> None:
        if self._in_transaction():
            super().rollback()

    def commit(self) -> None:
        if self._in_transaction():
            super().commit()


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection)


def dbapi() -> OneTripDBAPI:
    return OneTripDBAPI(aiosqlite, sqlite3)
