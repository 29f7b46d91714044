"""Relay plumbing (Node, global IDs, connections) and the UserError of every payload."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import strawberry

from accessgraph.errors import Problem
from accessgraph.models.base import MAX_ID
from accessgraph.resolvers.pagination import Page, encode_cursor

T = TypeVar("T")


def made(cls: type[T], values: dict[str, Any]) -> T:
    """An instance of the strawberry type `cls` holding `values`, which name every field of it
    (private ones too), as its dataclass `__init__` makes it, without that call's keyword
    arguments (~1 µs of each row of a page; `of` methods of row types use it). The names are
    checked against the fields on a class's first instance, as `__init__` would check them."""
    if cls not in _MADE:
        expected = {f.name for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
        if values.keys() != expected:
            raise TypeError(f"{cls.__name__} has fields {sorted(expected)}, not {sorted(values)}")
        _MADE.add(cls)
    instance: T = object.__new__(cls)
    instance.__dict__.update(values)
    return instance


_MADE: set[type] = set()  # classes whose field names `made` has checked


def to_global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def from_global_id(global_id: str, expected: str) -> int | None:
    """The primary key if `global_id` names an object of `expected` type, else None."""
    try:
        type_name, _, raw = (
            base64.b64decode(global_id.encode(), validate=True).decode().partition(":")
        )
        pk = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return pk if type_name == expected and 0 < pk <= MAX_ID else None


def parse_global_id(global_id: str) -> tuple[str, int] | None:
    try:
        type_name, _, raw = (
            base64.b64decode(global_id.encode(), validate=True).decode().partition(":")
        )
        pk = int(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (type_name, pk) if 0 < pk <= MAX_ID else None


@strawberry.interface(description="An object with a globally unique, opaque ID.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any], cursors: list[str]) -> PageInfo:
        """For a page whose rows carry `cursors` (in display order)."""
        return cls(
            has_next_page=page.has_next,
            has_previous_page=page.has_previous,
            start_cursor=cursors[0] if cursors else None,
            end_cursor=cursors[-1] if cursors else None,
        )


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    nodes: list[T]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="How many objects match, across all pages.")
    async def total_count(self) -> int:
        return await self._count()

    @classmethod
    def of(cls, page: Page[Any], convert: Callable[[Any], T]) -> Connection[T]:
        nodes = [convert(row) for row in page.rows]
        cursors = [encode_cursor(row.id) for row in page.rows]
        return cls(
            edges=[Edge(cursor=c, node=n) for c, n in zip(cursors, nodes, strict=True)],
            nodes=nodes,
            page_info=PageInfo.of(page, cursors),
            _count=page.count,
        )


@strawberry.type(description="A business rule or an input problem; nothing was changed.")
class UserError:
    code: str = strawberry.field(description="Stable UPPER_SNAKE code, e.g. LAST_ADMIN.")
    message: str
    field: list[str] | None = strawberry.field(description="Path of the input field at fault.")

    @classmethod
    def of(cls, problems: Iterable[Problem]) -> list[UserError]:
        return [
            cls(code=p.code, message=p.message, field=list(p.field) if p.field else None)
            for p in problems
        ]
