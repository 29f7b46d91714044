"""Small glue shared by the domain schema modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import strawberry
from strawberry.types.nodes import SelectedField, Selection

from accessgraph.errors import Rejected, not_found
from accessgraph.schema.base import UserError, from_global_id, to_global_id

T = TypeVar("T")


async def attempt(work: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Run a use case; a `Rejected` becomes the payload's `errors` (its transaction rolled back)."""
    try:
        return await work, []
    except Rejected as rejected:
        return None, UserError.of(rejected.problems)


def decode_id(global_id: str, type_name: str, field: str) -> int:
    """The primary key behind a global ID, or NOT_FOUND for a malformed or foreign-type ID."""
    pk = from_global_id(global_id, type_name)
    if pk is None:
        raise not_found(type_name, [field])
    return pk


async def attempt_removal(
    type_name: str, global_id: str, field: str, remove: Callable[[int], Awaitable[int]]
) -> tuple[strawberry.ID | None, list[UserError]]:
    """Decode the ID, run the removal: the removed object's global ID, or the errors."""

    async def work() -> int:
        return await remove(decode_id(global_id, type_name, field))

    pk, errors = await attempt(work())
    return (strawberry.ID(to_global_id(type_name, pk)) if pk else None), errors


def selects(selections: Sequence[Selection], *path: str) -> bool:
    """Whether a selection surely asks for the field at `path` (field names, fragments looked
    into; anything under `@skip` or `@include` counts as not asked for):
    `selects(info.selected_fields, "users", "edges", "node", "tokens")`."""
    if not path:
        return True
    for selection in selections:
        if "skip" in selection.directives or "include" in selection.directives:
            continue
        if isinstance(selection, SelectedField):
            if selection.name == path[0] and selects(selection.selections, *path[1:]):
                return True
        elif selects(selection.selections, *path):
            return True
    return False
