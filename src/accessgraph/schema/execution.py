"""graphql-core's executor with a fast path for plain leaf fields (issue 8).

A page is mostly plain fields: `email`, `status`, `createdAt` of fifty rows are attributes of
objects that the list's resolver already built. graphql-core still runs each one like a field
with a resolver: a `Path`, a strawberry `Info`, the resolver wrapper, an awaitable check and
`complete_value` (~600 such fields made a third of the team page's time). Here a field that
strawberry itself calls basic (no resolver, no field extension, so no permission) and whose type
is a scalar or an enum is read and coerced directly, with the same two calls graphql-core ends
with (`getattr`, the type's `coerce_output_value`). Anything unusual on the way (a null for a
non-null field, a value the type refuses, any exception) goes down graphql-core's own path, so
errors, their paths and null propagation are graphql-core's, unchanged.

Nothing about authorization changes: a field with a permission has an extension, so it is
never basic, and always runs through strawberry.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLLeafType,
    GraphQLNonNull,
    GraphQLObjectType,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

TYPENAME = "__typename"


class PlainLeaf(NamedTuple):
    attribute: str
    coerce: Callable[[Any], Any]
    non_null: bool


# Per type of a schema; weak, so that a discarded schema (tests build many) is not kept.
_PLAIN: WeakKeyDictionary[GraphQLObjectType, dict[str, PlainLeaf]] = WeakKeyDictionary()


def plain_leaves(object_type: GraphQLObjectType) -> dict[str, PlainLeaf]:
    """The fields of `object_type` that may take the fast path, by field name (built once per
    type of the schema)."""
    found = _PLAIN.get(object_type)
    if found is not None:
        return found
    found = {}
    for name, field in object_type.fields.items():
        definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
        if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
            continue
        if not getattr(field.resolve, "_is_default", False) or field.args:
            continue
        if definition.default_resolver is not getattr:  # StrawberryConfig's default
            continue
        field_type = field.type
        non_null = isinstance(field_type, GraphQLNonNull)
        leaf = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
        if not is_leaf_type(leaf):
            continue
        assert isinstance(leaf, GraphQLLeafType)
        found[name] = PlainLeaf(definition.python_name, leaf.coerce_output_value, non_null)
    _PLAIN[object_type] = found
    return found


class Executor(StrawberryGraphQLCoreExecutionContext):
    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's `execute_fields`, reading plain leaves directly (see the module)."""
        middleware = self.middleware_manager
        if middleware is not None and middleware.middlewares:
            # A schema extension with a `resolve` hook must see every field.
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        plain = plain_leaves(parent_type)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list in grouped_field_set.items():
                field_name = field_details_list[0].node.name.value
                leaf = plain.get(field_name)
                if leaf is not None:
                    value = _read(source_value, leaf)
                    if value is not Undefined:
                        results[response_name] = value
                        continue
                elif field_name == TYPENAME:
                    results[response_name] = parent_type.name
                    continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()


def _read(source: Any, leaf: PlainLeaf) -> Any:
    """The field's coerced value, or Undefined when graphql-core must decide (a null for a
    non-null field, a refused value, an error): its path reports those exactly."""
    try:
        value = getattr(source, leaf.attribute)
        if value is None:
            return Undefined if leaf.non_null else None
        coerced = leaf.coerce(value)
    except Exception:
        return Undefined
    return Undefined if coerced is None else coerced
