"""Keyset (cursor) pagination over a table's integer primary key (STYLE 5).

A cursor is an opaque base64 string naming the row id it stands after or before; pages are
`id > cursor ORDER BY id LIMIT n+1`, so the cost of page 1,000 equals that of page 1, and a row
inserted meanwhile never shifts a page. `first`/`last` are capped at MAX_PAGE_SIZE: asking for
more is an error, not a silent truncation.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import aliased
from sqlmodel import SQLModel, col
from strawberry.dataloader import DataLoader

from accessgraph.db import Database
from accessgraph.errors import ExposedError
from accessgraph.models import Organization
from accessgraph.models.base import MAX_ID
from accessgraph.row_reads import RowsRead

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 50
BAD_USER_INPUT = "BAD_USER_INPUT"
_PREFIX = "cursor:v1:"

M = TypeVar("M", bound=SQLModel)


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def encode_cursor(row_id: int) -> str:
    # `base64.urlsafe_b64encode`'s two steps, without its two calls (0.33 µs against 0.8).
    return (
        binascii.b2a_base64(f"{_PREFIX}{row_id}".encode(), newline=False)
        .translate(_URL_SAFE)
        .decode()
    )


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode()).decode()
        if raw.startswith(_PREFIX):
            row_id = int(raw.removeprefix(_PREFIX))
            if 0 <= row_id <= MAX_ID:
                return row_id
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ExposedError("The cursor is not valid.", BAD_USER_INPUT)


@dataclass(frozen=True, slots=True)
class PageArgs:
    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    def __post_init__(self) -> None:
        if self.first is not None and self.last is not None:
            raise ExposedError("Pass either first or last, not both.", BAD_USER_INPUT)
        for name in ("first", "last"):
            value = getattr(self, name)
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise ExposedError(
                    f"`{name}` must be between 0 and {MAX_PAGE_SIZE}, got {value}.", BAD_USER_INPUT
                )

    @property
    def backwards(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        chosen = self.last if self.backwards else self.first
        return DEFAULT_PAGE_SIZE if chosen is None else chosen


R = TypeVar("R")  # a page's rows: instances of a model, or plain rows


@dataclass(slots=True)
class Page(Generic[R]):
    rows: list[R]
    has_next: bool
    has_previous: bool
    count: Callable[[], Awaitable[int]]


@dataclass(frozen=True, slots=True)
class Shaped:
    """A `where` of the same shape on every request (the unfiltered team page's, say): `build`
    makes it once with bind parameters, `values` are this request's. A page statement from it
    is built once per shape too, so neither the statement nor SQLAlchemy's cache key for it is
    made again per request (~250 µs of a team page's ~2 ms)."""

    key: Hashable
    build: Callable[[], ColumnElement[bool]]
    values: Mapping[str, Any]


# Reads of shaped `where`s' pages, by shape: a handful (each list and direction).
_SHAPED: dict[tuple[Any, ...], RowsRead] = {}


def _page_statement(
    stmt: Select[Any],
    model: type[M],
    where: ColumnElement[bool],
    after: Any,
    before: Any,
    newest_first: bool,
    ascending: bool,
    limit: Any,
) -> Select[Any]:
    id_col: Any = model.id  # type: ignore[attr-defined]
    stmt = stmt.where(where)
    # "after" means later in display order; newest_first makes display order descending ids.
    if after is not None:
        stmt = stmt.where(id_col < after if newest_first else id_col > after)
    if before is not None:
        stmt = stmt.where(id_col > before if newest_first else id_col < before)
    return stmt.order_by(id_col.asc() if ascending else id_col.desc()).limit(limit)


def _shaped_read(
    model: type[M],
    plain: Any,
    where: Shaped,
    count: KeptCount | None,
    after: int | None,
    before: int | None,
    newest_first: bool,
    ascending: bool,
) -> RowsRead:
    """The page's read for its shape, built once: run on the driver (row_reads.py), the page's
    rows skip the ORM session's ~10 µs a row."""
    shape = (model, plain, where.key, count is not None, after is not None, before is not None)
    key = (*shape, newest_first, ascending)
    read = _SHAPED.get(key)
    if read is None:
        parts: list[Any] = [model] if plain is None else _columns(model, plain)
        if count is not None:
            parts.append(count.subquery(bindparam("page_kept_org")))
        read = _SHAPED[key] = RowsRead(
            *parts,
            shape=lambda selected: _page_statement(
                selected,
                model,
                where.build(),
                bindparam("page_after") if after is not None else None,
                bindparam("page_before") if before is not None else None,
                newest_first,
                ascending,
                bindparam("page_limit"),
            ),
        )
    return read


# A NamedTuple of some of a model's columns, named by their attribute keys.
P = TypeVar("P", bound=tuple[Any, ...])


def _columns(model: type[SQLModel], plain: Any) -> list[Any]:
    return [col(getattr(model, name)) for name in plain._fields]


async def fetch_page(
    db: Database,
    model: type[M],
    where: ColumnElement[bool] | Shaped,
    args: PageArgs,
    *,
    newest_first: bool = False,
    count: KeptCount | None = None,
) -> Page[M]:
    """One page of `model` rows matching `where`, in id order (or reverse id order). `count`
    names the number the database keeps of the rows matching `where`, read in the page's own
    statement; without it, the rows are counted when the page's count is asked for."""
    page: Page[M] = await _fetch(db, model, None, where, args, newest_first, count)
    return page


async def fetch_plain_page(
    db: Database,
    model: type[SQLModel],
    plain: type[P],
    where: Shaped,
    args: PageArgs,
    *,
    newest_first: bool = False,
    count: KeptCount | None = None,
) -> Page[P]:
    """`fetch_page` with each row as `plain`'s values instead of a model's instance: no
    instance (~3 µs a row) and no SQLAlchemy attribute per value read (~0.3 µs), for pages
    that make a row's model only when a field needs it (schema/users.py)."""
    page: Page[P] = await _fetch(db, model, plain, where, args, newest_first, count)
    return page


async def _fetch(
    db: Database,
    model: type[M],
    plain: Any,  # a NamedTuple class, or None
    where: ColumnElement[bool] | Shaped,
    args: PageArgs,
    newest_first: bool,
    count: KeptCount | None,
) -> Page[Any]:
    after = decode_cursor(args.after) if args.after else None
    before = decode_cursor(args.before) if args.before else None
    ascending = newest_first == args.backwards
    kept: int | None = None
    if isinstance(where, Shaped):
        read = _shaped_read(model, plain, where, count, after, before, newest_first, ascending)
        params = {**where.values, "page_limit": args.size + 1}
        if count is not None:
            params["page_kept_org"] = count.org_id
        if after is not None:
            params["page_after"] = after
        if before is not None:
            params["page_before"] = before
        found = await read.all(db, **params)
        rows: list[Any]
        if plain is None:
            rows, width = [parts[0] for parts in found], 1
        else:
            width = len(plain._fields)
            rows = [plain._make(parts[:width]) for parts in found]
        if count is not None and found:
            kept = int(found[0][width] or 0)
    else:
        assert plain is None  # plain rows: shaped pages only
        stmt = _page_statement(
            select(model) if count is None else select(model, count.subquery()),
            model,
            where,
            after,
            before,
            newest_first,
            ascending,
            args.size + 1,
        )
        async with db.session() as session:
            result = await session.execute(stmt)
            if count is None:
                rows = list(result.scalars().all())
            else:
                pairs = result.all()
                rows = [row for row, _ in pairs]
                kept = int(pairs[0][1] or 0) if pairs else None
    more = len(rows) > args.size
    rows = rows[: args.size]
    if args.backwards:
        rows.reverse()
        has_next, has_previous = before is not None, more
    else:
        has_next, has_previous = more, after is not None

    async def count_rows() -> int:
        if kept is not None:
            return kept
        async with db.session() as session:
            if count is not None:  # an empty page: the kept number on its own
                return int(await session.scalar(select(count.subquery())) or 0)
            if isinstance(where, Shaped):  # built only to count, if ever
                counted = select(func.count()).select_from(model).where(where.build())
                total = await session.scalar(counted, dict(where.values))
            else:
                total = await session.scalar(select(func.count()).select_from(model).where(where))
        return int(total or 0)

    return Page(rows, has_next, has_previous, count_rows)


@dataclass(frozen=True, slots=True)
class KeptCount:
    """A number the database keeps on the organization's row (`live_users`, `personal_tokens`:
    triggers of migrations 0011 and 0012), for the pages whose unfiltered count would otherwise
    scan every row. `fetch_page` reads it as a column of the page's own statement: one
    statement less per page, and the count and the rows come from one snapshot."""

    column: Any
    org_id: int

    def subquery(self, org_id: Any = None) -> Any:
        """The number as a column; `org_id` a bind parameter for a shaped page's statement."""
        return (
            select(self.column)
            .where(col(Organization.id) == (self.org_id if org_id is None else org_id))
            .scalar_subquery()
            .label("kept_count")
        )


class ChildPages(Generic[M]):
    """Pages of a child list (a subscription's members, a project's members) for each parent of
    a list, batched per request: the first pages of every parent in one windowed statement and
    their counts in one grouped statement, so a list of N parents with their children costs
    what one does (STYLE 6). A page after or before a cursor is read on its own."""

    def __init__(
        self, db: Database, model: type[M], parent: Any, *, newest_first: bool = False
    ) -> None:
        self._db, self._model, self._parent = db, model, parent
        self._newest_first = newest_first
        # The load functions are another object's, so that no reference cycle (this object ->
        # loader -> bound method -> this object) keeps the request's rows alive after it.
        queries = _ChildQueries(db, model, parent, newest_first)
        self._first: DataLoader[tuple[int, int], list[M]] = DataLoader(load_fn=queries.load_first)
        self._count: DataLoader[int, int] = DataLoader(load_fn=queries.load_counts)

    async def page(self, parent_id: int, args: PageArgs) -> Page[M]:
        if args.after or args.before or args.backwards:
            return await fetch_page(
                self._db,
                self._model,
                self._parent == parent_id,
                args,
                newest_first=self._newest_first,
            )
        rows = await self._first.load((parent_id, args.size))
        return Page(rows[: args.size], len(rows) > args.size, False, self._counter(parent_id))

    def _counter(self, parent_id: int) -> Callable[[], Awaitable[int]]:
        async def count() -> int:
            return await self._count.load(parent_id)

        return count


@dataclass(frozen=True, slots=True)
class _ChildQueries(Generic[M]):
    """The statements behind `ChildPages`' loaders."""

    db: Database
    model: type[M]
    parent: Any
    newest_first: bool

    async def load_first(self, keys: Sequence[tuple[int, int]]) -> list[list[M]]:
        """The first `size + 1` rows (the extra one tells whether there is a next page) of each
        parent: one statement per distinct page size, usually one."""
        found: dict[tuple[int, int], list[M]] = {key: [] for key in keys}
        for size in {size for _, size in keys}:
            parent_ids = [pk for pk, wanted in keys if wanted == size]
            id_col: Any = self.model.id  # type: ignore[attr-defined]
            ranked = (
                select(
                    self.model,
                    func.row_number()
                    .over(
                        partition_by=self.parent,
                        order_by=id_col.desc() if self.newest_first else id_col,
                    )
                    .label("rank"),
                )
                .where(self.parent.in_(parent_ids))
                .subquery()
            )
            row = aliased(self.model, ranked)
            stmt = (
                select(row)
                .where(ranked.c.rank <= size + 1)
                .order_by(ranked.c[self.parent.key], ranked.c.rank)
            )
            async with self.db.session() as session:
                for child in (await session.execute(stmt)).scalars():
                    found[getattr(child, self.parent.key), size].append(child)
        return [found[key] for key in keys]

    async def load_counts(self, parent_ids: Sequence[int]) -> list[int]:
        stmt = (
            select(self.parent, func.count())
            .where(self.parent.in_(parent_ids))
            .group_by(self.parent)
        )
        async with self.db.session() as session:
            counted = {pk: int(n) for pk, n in (await session.execute(stmt)).all()}
        return [counted.get(pk, 0) for pk in parent_ids]
