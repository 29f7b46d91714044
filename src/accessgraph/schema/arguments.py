"""A field's arguments written in the document, coerced once (issue 8).

graphql-core coerces a field's arguments each time it runs the field (`get_argument_values`).
When they are literals, as in `checkAccess(input: {action: "WRITE", ...})`, that is the same
work on the same nodes every time: ~3-6% of a check's CPU. A prepared document
(schema/prepared.py) keeps its nodes from one request to the next, so the values coerced from a
node whose arguments name no variable are kept: by the node's id, beside weak references to the
node and to the field's definition (the node could be run against another schema). A kept entry
goes when its node goes (the reference's callback, run before the id can be reused), so the
values live no longer than the document the parser and prepared-query caches keep anyway, and
at most 1,024 nodes are kept.

Kept values are shared by every request that runs the node, so they are kept only when nothing
can change them: every type the arguments may hold is an enum, a built-in scalar (immutable
values), a list, or an input object that strawberry builds into a new object of its own (its
default conversion, or schema/inputs.py's one-step builder, which copies leaf values only). A
list is converted into a new list; graphql-core passes the arguments as keyword arguments, a
new dict. A custom scalar (a value a resolver might change), an input object with a builder of
its own, or one that is not strawberry's is coerced every time.
"""

from __future__ import annotations

from typing import Any
from weakref import ref

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    ListValueNode,
    ObjectValueNode,
    ValueNode,
    VariableNode,
    specified_scalar_types,
)
from graphql.execution.values import get_argument_values
from graphql.language import FieldNode

_KEPT_NODES = 1_024
_STRAWBERRY_DEFINITION = "strawberry-definition"  # GraphQLCoreConverter.DEFINITION_BACKREF
# id(node) -> (the node, the field, the values or None: coerced every time).
_kept: dict[int, tuple[ref[FieldNode], ref[GraphQLField], dict[str, Any] | None]] = {}


def argument_values(
    field: GraphQLField,
    node: FieldNode,
    variable_values: Any,
    fragment_variable_values: Any,
    hide_suggestions: bool,
) -> dict[str, Any]:
    """`get_argument_values` (same parameters), kept for literal arguments as above."""
    key = id(node)
    kept = _kept.get(key)
    known = kept is not None and kept[0]() is node and kept[1]() is field
    if known and kept is not None and kept[2] is not None:
        return kept[2]
    values = get_argument_values(
        field, node, variable_values, fragment_variable_values, hide_suggestions
    )
    if not known:
        keep = (
            fragment_variable_values is None
            and not any(_names_a_variable(argument.value) for argument in node.arguments or ())
            and all(_immutable_when_converted(argument.type) for argument in field.args.values())
        )
        if len(_kept) >= _KEPT_NODES:
            _kept.clear()
        _kept[key] = (
            ref(node, lambda _: _kept.pop(key, None)),
            ref(field),
            values if keep else None,
        )
    return values


def _names_a_variable(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(_names_a_variable(item) for item in value.values)
    if isinstance(value, ObjectValueNode):
        return any(_names_a_variable(field.value) for field in value.fields)
    return False


def _immutable_when_converted(type_: GraphQLInputType, seen: frozenset[str] = frozenset()) -> bool:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    if isinstance(type_, GraphQLEnumType):
        return True
    if isinstance(type_, GraphQLScalarType):
        return specified_scalar_types.get(type_.name) is type_
    if isinstance(type_, GraphQLInputObjectType):
        definition = type_.extensions.get(_STRAWBERRY_DEFINITION)
        if definition is None:
            return False  # graphql-core would hand the resolver the kept dict itself
        build = definition.from_input
        if build is not None and not getattr(build, "one_step", False):
            return False  # a builder of its own might keep the dict
        if type_.name in seen:  # a recursive input type: its fields are being checked
            return True
        inner = seen | {type_.name}
        return all(_immutable_when_converted(f.type, inner) for f in type_.fields.values())
    return False
