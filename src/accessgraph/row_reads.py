"""Rows read on the pooled connection's own driver (issue 8).

Every authenticated request reads its credential's row, and the console's pages read a page of
rows. Through SQLAlchemy's async session the credential's read cost ~180 µs of CPU on SQLite
and ~260 µs on PostgreSQL, of which the database's own work was ~20 and ~60: the rest was the
session, the connection's events, the greenlet and the ORM's row loading (~10 µs more a row).
A `RowsRead` is built once, compiled once per dialect (and per size of each list it is
given), and run on the driver of a connection borrowed from the engine's pool (so the pool's
size still bounds the connections; `db.ReadConnections` keeps a few between reads): asyncpg's
`fetch` on PostgreSQL, `sqlite_driver.read` on SQLite (in the event loop's thread within its
budget). Its values pass through the column types' own result processors, as SQLAlchemy's
would, and whole-table parts become detached instances, as a closed read session leaves them:
the caller cannot tell which way the rows came.

Anything unusual takes SQLAlchemy's way instead, for this read: another driver, a driver
error (the borrowed connection is then invalidated, as SQLAlchemy does with a broken one), so
errors and outages look exactly as they do everywhere else. The engine's
`before_cursor_execute` listeners still see each statement (with no connection, cursor or
context): statement counts stay true.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import ColumnElement, FromClause, Select, inspect, select
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, Mapper
from sqlmodel import SQLModel

from accessgraph import sqlite_driver
from accessgraph.db import Database

Processor = Callable[[Any], Any] | None

# Compiled forms kept per dialect of a read with lists, one per combination of their sizes
# (compiling costs ~1 ms); past this many, a new combination takes SQLAlchemy's way. A list is
# sent at the next power of two of its length, its last item repeated (`IN` is unchanged), so a
# list of up to 100 ids has one of 8 sizes.
SIZES_KEPT = 64


def _size(length: int) -> int:
    return 0 if length == 0 else 1 << (length - 1).bit_length()


@dataclass(frozen=True)
class _Part:
    """A slice of the row: a whole table's columns (`mapper`), or one plain value."""

    mapper: Mapper[Any] | None
    keys: tuple[str, ...]  # attribute keys of the table's columns, in the row's order
    primary_key: tuple[int, ...]  # the primary key's positions within `keys`
    start: int
    stop: int


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Each bound parameter in positional order: the name of the value it takes, and for an item
    # of a list its index; or no name and the statement's own value (SQLite's `OFFSET 0`).
    sources: tuple[tuple[str | None, int | None, Any], ...]
    binds: tuple[Processor, ...]
    results: tuple[tuple[int, Callable[[Any], Any]], ...]  # the columns that have one


class RowsRead:
    """`select(<parts>)` as `shape` finishes it (FROM, WHERE, ORDER BY, LIMIT, with its values
    named by `bindparam`), built once. Each part is a mapped SQLModel class (all its table's
    columns, returned as a detached instance) or a column (returned as its value). `lists` names
    the expanding parameters (`column.in_(bindparam(name, expanding=True))`)."""

    def __init__(
        self,
        *parts: type[SQLModel] | ColumnElement[Any] | Mapped[Any],
        shape: Callable[[Select[Any]], Select[Any]],
        lists: Collection[str] = (),
    ) -> None:
        columns: list[Any] = []  # table columns and column expressions
        layout: list[_Part] = []
        for part in parts:
            if isinstance(part, type):
                whole = _whole_table(part, len(columns))
                layout.append(whole)
                assert whole.mapper is not None
                columns.extend(whole.mapper.local_table.columns)
            else:
                layout.append(_Part(None, (), (), len(columns), len(columns) + 1))
                columns.append(part)
        self.statement: Select[Any] = shape(select(*columns))
        self._layout = tuple(layout)
        self._lists = tuple(lists)
        # Per engine's dialect (weak: tests build an engine each), then per sizes of the
        # lists (`_size`): the SQL, and the processors that the dialect's settings (its JSON
        # decoder, say) shape.
        self._compiled: WeakKeyDictionary[Dialect, dict[tuple[int, ...], _Compiled]] = (
            WeakKeyDictionary()
        )
        self.direct = True  # False: always SQLAlchemy's way (tests compare the two)

    async def all(self, db: Database, **params: Any) -> list[tuple[Any, ...]]:
        """Each row's parts (instances and values), in the statement's order."""
        return [self.parts(row) for row in await self.values(db, **params)]

    async def one(self, db: Database, **params: Any) -> tuple[Any, ...] | None:
        """The row's parts, or None when no row matches. More than one row is an error: the
        statement names one row by a unique key."""
        rows = await self.values(db, **params)
        if not rows:
            return None
        if len(rows) > 1:
            raise LookupError("a key matched more than one row")
        return self.parts(rows[0])

    async def values(self, db: Database, **params: Any) -> Sequence[Sequence[Any]]:
        """The rows' column values, processed as SQLAlchemy's would be (see `parts`)."""
        driver = db.engine.dialect.driver
        rows: Sequence[Sequence[Any]] | None = None
        if self.direct and driver in ("asyncpg", "aiosqlite"):
            rows = await self._direct(db, driver, params)
        if rows is None:  # SQLAlchemy's way: its errors, its reconnects
            async with db.session() as session:
                rows = (await session.execute(self.statement, params)).all()
        return rows

    def parts(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """A row's values as its parts: instances of the whole-table parts, values of the rest."""
        parts: list[Any] = []
        for part in self._layout:
            if part.mapper is None:
                parts.append(row[part.start])
            elif row[part.start] is None:  # an outer join's missing side
                parts.append(None)
            else:
                parts.append(_detached(part, row[part.start : part.stop]))
        return tuple(parts)

    async def _direct(
        self, db: Database, driver: str, params: dict[str, Any]
    ) -> list[tuple[Any, ...]] | None:
        """The processed rows, read on the driver; None to take SQLAlchemy's way."""
        engine = db.engine
        compiled = self._compile(engine.dialect, params)
        if compiled is None:
            return None
        args = [
            value if process is None else process(value)
            for value, process in zip(
                (_argument(params, *source) for source in compiled.sources),
                compiled.binds,
                strict=True,
            )
        ]
        listeners = engine.sync_engine.dispatch.before_cursor_execute
        if listeners:
            listeners(None, None, compiled.sql, tuple(args), None, False)
        fetched: Sequence[Sequence[Any]] | None = None
        if db.loop_reader is not None:
            fetched = db.loop_reader.read(compiled.sql, tuple(args))
        if fetched is None:
            fetched = await self._on_pooled_connection(db, driver, compiled.sql, args)
        if fetched is None:
            return None
        if not compiled.results:
            return [tuple(row) for row in fetched]
        processed: list[tuple[Any, ...]] = []
        for row in fetched:
            values = list(row)
            for index, process in compiled.results:
                value = values[index]
                if value is not None:
                    values[index] = process(value)
            processed.append(tuple(values))
        return processed

    @staticmethod
    async def _on_pooled_connection(
        db: Database, driver: str, sql: str, args: list[Any]
    ) -> Sequence[Sequence[Any]] | None:
        connection, since = await db.read_connections.borrow()
        rows: Sequence[Sequence[Any]] | None
        try:
            driver_connection = connection.driver_connection
            assert driver_connection is not None
            if driver == "asyncpg":
                rows = await driver_connection.fetch(sql, *args)
            elif isinstance(connection.dbapi_connection, sqlite_driver.OneTripConnection):
                rows = await sqlite_driver.read(driver_connection, sql, tuple(args))
            else:
                rows = None  # another driver: SQLAlchemy's way
        except Exception:
            # A broken connection must not be lent again; SQLAlchemy's way reports the error
            # (or reconnects) as it does for every other statement.
            await db.read_connections.drop(connection)
            return None
        except BaseException:
            # Cancelled mid-statement (the request's timeout): the connection may still be
            # busy with it, so it is not lent again; as SQLAlchemy does on such an exit.
            await db.read_connections.drop(connection)
            raise
        await db.read_connections.give_back(connection, since)
        return rows

    def _compile(self, dialect: Dialect, params: dict[str, Any]) -> _Compiled | None:
        sizes = tuple(_size(len(params[name])) for name in self._lists)
        by_sizes = self._compiled.get(dialect)
        if by_sizes is None:
            by_sizes = self._compiled[dialect] = {}
        compiled = by_sizes.get(sizes)
        if compiled is not None:
            return compiled
        if len(by_sizes) >= SIZES_KEPT:
            return None
        done = self.statement.compile(dialect=dialect)
        # The caller's parameters: those the statement has no value of. Its own (SQLite's
        # `OFFSET 0`, say) are part of its shape.
        callers = {name for name, bind in done.binds.items() if bind.required}
        undeclared = {name for name, bind in done.binds.items() if bind.expanding} - set(
            self._lists
        )
        if undeclared:
            raise ValueError(f"expanding parameters not named in `lists`: {sorted(undeclared)}")
        if self._lists:  # each item of a list its own parameter, `<name>_<n>` from 1
            # Placeholders only: no caller's value may be written into SQL that others reuse.
            placeholders: dict[str, Any] = dict.fromkeys(callers)
            placeholders.update(
                {name: [None] * size for name, size in zip(self._lists, sizes, strict=True)}
            )
            rendered = self.statement.params(placeholders)
            done = rendered.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        named = set(done.positiontup or ())
        expected = (callers - set(self._lists)) | {
            f"{name}_{n}"
            for name, size in zip(self._lists, sizes, strict=True)
            for n in range(1, size + 1)
        }
        if not expected <= named or "__[POSTCOMPILE_" in str(done):
            # A value written into the SQL (a `literal_execute` parameter): not for a read
            # compiled once and run for every caller.
            raise ValueError(f"parameters rendered into the SQL: {sorted(expected - named)}")
        sources: list[tuple[str | None, int | None, Any]] = []
        processors: list[Processor] = []
        for name in done.positiontup or ():
            bind = done.binds.get(name)
            if bind is None:
                listed, _, number = name.rpartition("_")
                assert listed in self._lists, name
                bind = done.binds[listed]
                sources.append((listed, int(number) - 1, None))
            elif name in callers:
                sources.append((name, None, None))
            else:
                sources.append((None, None, bind.effective_value))
            processors.append(bind.type.dialect_impl(dialect).bind_processor(dialect))
        results = []
        for index, column in enumerate(self.statement.selected_columns):
            process = column.type.dialect_impl(dialect).result_processor(dialect, None)
            if process is not None:
                results.append((index, process))
        compiled = by_sizes[sizes] = _Compiled(
            str(done), tuple(sources), tuple(processors), tuple(results)
        )
        return compiled


def _argument(params: dict[str, Any], name: str | None, index: int | None, own: Any) -> Any:
    """A bound parameter's value (see `_Compiled.sources`): the statement's own, the caller's,
    or an item of the caller's list, its last past its end (a list is sent at its `_size`)."""
    if name is None:
        return own
    value = params[name]
    if index is None:
        return value
    return value[index] if index < len(value) else value[-1]


class RowRead(RowsRead):
    """`SELECT <parts> FROM <source> WHERE <where>`, for the row of a unique key (`one`)."""

    def __init__(
        self,
        *parts: type[SQLModel] | ColumnElement[Any] | Mapped[Any],
        source: FromClause,
        where: ColumnElement[bool],
    ) -> None:
        super().__init__(*parts, shape=lambda selected: selected.select_from(source).where(where))


M = TypeVar("M", bound=SQLModel)
_WHOLE: dict[type[SQLModel], _Part] = {}


def detached(model: type[M], values: Mapping[str, Any]) -> M:
    """An instance of `model` from every one of its columns' values (by attribute key), as
    `RowsRead` makes one: for rows read as plain values whose instance only some need."""
    part = _WHOLE.get(model)
    if part is None:
        part = _WHOLE[model] = _whole_table(model, 0)
    instance: M = _detached(part, [values[key] for key in part.keys])
    return instance


def _whole_table(model: type[SQLModel], start: int) -> _Part:
    """The part of a row that holds all of `model`'s columns from `start` on."""
    mapper: Mapper[Any] = inspect(model)
    table_columns = list(mapper.local_table.columns)
    keys = tuple(mapper.get_property_by_column(c).key for c in table_columns)
    primary_key = tuple(
        next(i for i, column in enumerate(table_columns) if column is key)
        for key in mapper.primary_key
    )
    return _Part(mapper, keys, primary_key, start, start + len(keys))


def _detached(part: _Part, values: Sequence[Any]) -> Any:
    """An instance as a closed session leaves what it loaded: detached, with its identity and
    every column loaded, no pending changes. (What `make_transient_to_detached` does, without
    its checks and expiries, which cost ~6 µs a row: no model here has a relationship, so
    every attribute is a column, and the instance is new.) Made as the mapper's `new_instance`
    makes one (the class's own `__new__`, the manager's state class), with the state and the
    values put in the instance's dict at once: ~2.6 µs a row against ~4."""
    mapper = part.mapper
    assert mapper is not None
    cls: type[SQLModel] = mapper.class_
    instance = cls.__new__(cls)
    manager = mapper.class_manager
    state = manager._state_constructor(instance, manager)
    loaded = instance.__dict__
    loaded.update(zip(part.keys, values, strict=True))
    loaded[manager.STATE_ATTR] = state  # what the manager's state setter sets (no setattr)
    state.key = mapper.identity_key_from_primary_key(tuple([values[i] for i in part.primary_key]))
    return instance
