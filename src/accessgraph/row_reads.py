"""One row by key, read on the pooled connection's own driver (issue 8).

Every authenticated request reads its credential's row. Through SQLAlchemy's async session
that read cost ~180 µs of CPU on SQLite and ~260 µs on PostgreSQL, of which the database's
own work was ~20 and ~60: the rest was the session, the connection's events, the greenlet and
the ORM's row loading. A `RowRead` is built once, compiled once per dialect, and run on the
driver of a connection borrowed from the engine's pool (so the pool's size still bounds the
connections): asyncpg's `fetch` on PostgreSQL, `sqlite_driver.read` on SQLite (in the event
loop's thread within its budget). Its values pass through the column types' own result
processors, as SQLAlchemy's would, and whole-table parts become detached instances, as a
closed read session leaves them: the caller cannot tell which way the row came.

Anything unusual takes SQLAlchemy's way instead, for this read: another driver, a driver
error (the borrowed connection is then invalidated, as SQLAlchemy does with a broken one), so
errors and outages look exactly as they do everywhere else. The engine's
`before_cursor_execute` listeners still see each statement (with no connection, cursor or
context): statement counts stay true.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import ColumnElement, FromClause, Select, inspect, select
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, Mapper, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state
from sqlalchemy.util import greenlet_spawn
from sqlmodel import SQLModel

from accessgraph import sqlite_driver
from accessgraph.db import Database

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Part:
    """A slice of the row: a whole table's columns (`mapper`), or one plain value."""

    mapper: Mapper[Any] | None
    keys: tuple[str, ...]  # attribute keys of the table's columns, in the row's order
    start: int
    stop: int


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # the bound parameters' names, in positional order
    binds: tuple[Processor, ...]
    results: tuple[Processor, ...]


class RowRead:
    """`SELECT <parts> FROM <source> WHERE <where>` for at most one row: each part is a
    mapped SQLModel class (all its table's columns, returned as a detached instance) or a
    column (returned as its value). `where` names its values with `bindparam`."""

    def __init__(
        self,
        *parts: type[SQLModel] | ColumnElement[Any] | Mapped[Any],
        source: FromClause,
        where: ColumnElement[bool],
    ) -> None:
        columns: list[Any] = []  # table columns and column expressions
        layout: list[_Part] = []
        for part in parts:
            if isinstance(part, type):
                mapper: Mapper[Any] = inspect(part)
                table_columns = list(mapper.local_table.columns)
                keys = tuple(mapper.get_property_by_column(c).key for c in table_columns)
                layout.append(_Part(mapper, keys, len(columns), len(columns) + len(keys)))
                columns.extend(table_columns)
            else:
                layout.append(_Part(None, (), len(columns), len(columns) + 1))
                columns.append(part)
        self.statement: Select[Any] = select(*columns).select_from(source).where(where)
        self._layout = tuple(layout)
        # Per engine's dialect (weak: tests build an engine each); the SQL, and the processors
        # that the dialect's settings (its JSON decoder, say) shape.
        self._compiled: WeakKeyDictionary[Dialect, _Compiled] = WeakKeyDictionary()
        self.direct = True  # False: always SQLAlchemy's way (tests compare the two)

    async def one(self, db: Database, **params: Any) -> tuple[Any, ...] | None:
        """The row's parts (instances and values), or None when no row matches. More than one
        row is an error: `where` names one row by a unique key."""
        engine = db.engine
        driver = engine.dialect.driver
        rows: Sequence[Sequence[Any]] | None = None
        if self.direct and driver in ("asyncpg", "aiosqlite"):
            rows = await self._direct(db, driver, params)
        if rows is None:  # SQLAlchemy's way: its errors, its reconnects
            async with db.session() as session:
                rows = (await session.execute(self.statement, params)).all()
        if not rows:
            return None
        if len(rows) > 1:
            raise LookupError("a key matched more than one row")
        return self._parts(rows[0])

    async def _direct(
        self, db: Database, driver: str, params: dict[str, Any]
    ) -> list[tuple[Any, ...]] | None:
        """The processed rows, read on the driver; None to take SQLAlchemy's way."""
        engine = db.engine
        compiled = self._compile(engine.dialect)
        args = [
            value if process is None else process(value)
            for value, process in zip(
                (params[name] for name in compiled.names), compiled.binds, strict=True
            )
        ]
        listeners = engine.sync_engine.dispatch.before_cursor_execute
        if listeners:
            listeners(None, None, compiled.sql, tuple(args), None, False)
        fetched: Sequence[Sequence[Any]] | None = None
        if db.loop_reader is not None:
            fetched = db.loop_reader.read(compiled.sql, tuple(args))
        if fetched is None:
            fetched = await self._on_pooled_connection(engine, driver, compiled.sql, args)
        if fetched is None:
            return None
        results = compiled.results
        return [
            tuple(
                value if process is None or value is None else process(value)
                for value, process in zip(row, results, strict=True)
            )
            for row in fetched
        ]

    @staticmethod
    async def _on_pooled_connection(
        engine: AsyncEngine, driver: str, sql: str, args: list[Any]
    ) -> Sequence[Sequence[Any]] | None:
        connection = await engine.raw_connection()
        try:
            driver_connection = connection.driver_connection
            assert driver_connection is not None
            if driver == "asyncpg":
                rows: Sequence[Sequence[Any]] = await driver_connection.fetch(sql, *args)
            elif isinstance(connection.dbapi_connection, sqlite_driver.OneTripConnection):
                rows = await sqlite_driver.read(driver_connection, sql, tuple(args))
            else:
                return None
        except Exception:
            # A broken connection must not go back to the pool; SQLAlchemy's way reports
            # the error (or reconnects) as it does for every other statement.
            await greenlet_spawn(connection.invalidate)
            return None
        except BaseException:
            # Cancelled mid-statement (the request's timeout): the connection may still be
            # busy with it, so it is not lent again; as SQLAlchemy does on such an exit.
            await greenlet_spawn(connection.invalidate)
            raise
        finally:
            # In a greenlet, as AsyncConnection does: giving back a connection the pool has no
            # room for closes it, which awaits the driver.
            await greenlet_spawn(connection.close)
        return rows

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect)
        if compiled is None:
            done = self.statement.compile(dialect=dialect)
            names = tuple(done.positiontup or ())
            binds = tuple(
                done.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                for name in names
            )
            results = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in self.statement.selected_columns
            )
            compiled = self._compiled[dialect] = _Compiled(str(done), names, binds, results)
        return compiled

    def _parts(self, row: Sequence[Any]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for part in self._layout:
            if part.mapper is None:
                parts.append(row[part.start])
            elif row[part.start] is None:  # an outer join's missing side
                parts.append(None)
            else:
                parts.append(_detached(part.mapper, part.keys, row[part.start : part.stop]))
        return tuple(parts)


def _detached(mapper: Mapper[Any], keys: tuple[str, ...], values: Sequence[Any]) -> Any:
    """An instance as a closed session leaves what it loaded: detached, with its identity and
    every column loaded, no pending changes."""
    instance = mapper.class_manager.new_instance()
    instance_state(instance).dict.update(zip(keys, values, strict=True))
    make_transient_to_detached(instance)
    return instance
