"""What one request may ask for: refused before anything runs.

- `QueryCostLimiter`: the number of objects a query could return, computed like GitHub's node
  limit: every connection field counts its `first`/`last` (50 when absent), multiplied by the
  connections above it. Over the limit, the query is refused with QUERY_TOO_COSTLY and the
  computed cost, before a single resolver runs. It needs the variables, so it runs at the start
  of execution, after validation.
- `max_directives_rule`: a cap on the directives of one document (graphql-core rejects a
  repeated non-repeatable directive, but only after walking every one of them).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DirectiveNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    Visitor,
    get_named_type,
    get_operation_ast,
    visit,
)
from graphql.execution import ExecutionResult
from graphql.type.definition import GraphQLInterfaceType, GraphQLUnionType
from strawberry.extensions import SchemaExtension

from accessgraph.resolvers.pagination import DEFAULT_PAGE_SIZE

QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
TOO_MANY_DIRECTIVES = "TOO_MANY_DIRECTIVES"


def max_directives_rule(limit: int) -> type[ValidationRule]:
    class MaxDirectivesRule(ValidationRule):
        """At most `limit` directives in the whole document."""

        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.seen = 0

        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            self.seen += 1
            if self.seen == limit + 1:
                self.report_error(
                    GraphQLError(
                        f"The document has more than {limit} directives.",
                        node,
                        extensions={"code": TOO_MANY_DIRECTIVES, "limit": limit},
                    )
                )

    return MaxDirectivesRule


# Costs of recent documents: a document the parser cache hands out again (the same object)
# with the same page sizes costs the same, so repeated queries skip the walk. Each entry keeps
# its schema and document, so the ids in its key cannot be reused while the entry lives.
_COSTS: dict[
    tuple[int, int, str | None, tuple[tuple[str, int | float], ...]],
    tuple[GraphQLSchema, DocumentNode, int],
] = {}
_COSTS_SIZE = 256


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    """How many objects the operation's connections could return at most."""
    # Only numbers can change a cost (page sizes: 100.0 is an Int); the key holds them all.
    sizes = tuple(
        sorted((k, v) for k, v in (variables or {}).items() if type(v) is int or type(v) is float)
    )
    key = (id(schema), id(document), operation_name, sizes)
    known = _COSTS.get(key)
    if known is not None and known[0] is schema and known[1] is document:
        return known[2]
    cost = _query_cost(schema, document, operation_name, variables)
    if len(_COSTS) >= _COSTS_SIZE:
        _COSTS.clear()
    _COSTS[key] = (schema, document, cost)
    return cost


def _query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
) -> int:
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return 0
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    values = _variable_values(operation, variables or {})
    return _cost(schema, root, operation.selection_set, 1, fragments, values, frozenset())


def _variable_values(
    operation: OperationDefinitionNode, given: Mapping[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name in given:
            values[name] = given[name]
        elif isinstance(definition.default_value, IntValueNode):
            values[name] = int(definition.default_value.value)
    return values


def _cost(
    schema: GraphQLSchema,
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode | None,
    multiplier: int,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    visiting: frozenset[str],
) -> int:
    total = 0
    for field, field_parent in _fields(schema, parent, selection_set, fragments, visiting):
        definition = (
            field_parent.fields.get(field.name.value)
            if isinstance(field_parent, GraphQLObjectType | GraphQLInterfaceType)
            else None
        )
        if definition is None:  # __typename, or a field validation already refused
            continue
        named = get_named_type(definition.type)
        inner = multiplier
        if named.name.endswith("Connection"):
            inner = multiplier * _page_size(field, variables)
            total += inner
        total += _cost(schema, named, field.selection_set, inner, fragments, variables, visiting)
    return total


def _fields(
    schema: GraphQLSchema,
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    visiting: frozenset[str],
) -> Iterator[tuple[FieldNode, GraphQLNamedType]]:
    """The fields selected on `parent`, through fragments, each with the type it is on. On a
    union or interface, each fragment's type condition names the type."""
    for selection in selection_set.selections if selection_set else ():
        if isinstance(selection, FieldNode):
            yield selection, parent
        elif isinstance(selection, InlineFragmentNode):
            on = _condition(schema, parent, selection.type_condition)
            yield from _fields(schema, on, selection.selection_set, fragments, visiting)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visiting:  # validation refuses cycles anyway
                continue
            on = _condition(schema, parent, fragment.type_condition)
            yield from _fields(schema, on, fragment.selection_set, fragments, visiting | {name})


def _condition(schema: GraphQLSchema, parent: GraphQLNamedType, condition: Any) -> GraphQLNamedType:
    if condition is None:
        return parent
    named = schema.get_type(condition.name.value)
    if named is None or isinstance(named, GraphQLUnionType):
        return parent
    return named


def _page_size(field: FieldNode, variables: Mapping[str, Any]) -> int:
    for argument in field.arguments or ():
        if argument.name.value not in ("first", "last"):
            continue
        value = argument.value
        if isinstance(value, IntValueNode):
            return max(int(value.value), 0)
        if isinstance(value, VariableNode):
            given = variables.get(value.name.value)
            if isinstance(given, float) and given.is_integer():
                given = int(given)  # graphql-core takes 100.0 for an Int: so does the cost
            if isinstance(given, int) and not isinstance(given, bool) and given < 2**31:
                return max(given, 0)  # (a larger one is no Int: graphql-core refuses it)
    return DEFAULT_PAGE_SIZE


def query_cost_limiter(limit: int) -> type[SchemaExtension]:
    class QueryCostLimiter(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            document = context.graphql_document
            if document is not None and context.result is None:
                cost = query_cost(
                    context.schema._schema, document, context.operation_name, context.variables
                )
                if cost > limit:
                    context.result = ExecutionResult(
                        data=None,
                        errors=[
                            GraphQLError(
                                f"This query could return {cost:,} objects; the limit is "
                                f"{limit:,}. Ask for smaller pages (first/last) or fewer "
                                "nested connections.",
                                extensions={"code": QUERY_TOO_COSTLY, "cost": cost, "limit": limit},
                            )
                        ],
                    )
            yield

    return QueryCostLimiter


class IntrospectionForMembers(SchemaExtension):
    """Production: `__schema` and `__type` answer signed-in callers only (the SDL is no secret
    to the organization's members, but it is a map for everyone else)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        principal = getattr(context.context, "principal", None)
        signed_in = principal is not None and principal.is_authenticated
        unchecked = document is not None and context.result is None
        if unchecked and not signed_in and document is not None and _introspects(document):
            context.result = ExecutionResult(
                data=None,
                errors=[
                    GraphQLError(
                        "Introspection needs a signed-in caller.",
                        extensions={"code": "UNAUTHENTICATED"},
                    )
                ],
            )
        yield


INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})


def _introspects(document: DocumentNode) -> bool:
    return mentions(document, fields=INTROSPECTION_FIELDS)


def mentions(
    document: DocumentNode,
    *,
    fields: frozenset[str] = frozenset(),
    directives: frozenset[str] = frozenset(),
) -> bool:
    """Whether the document has a field or a directive of one of these names."""
    found = False

    class Finder(Visitor):
        def enter_field(self, node: FieldNode, *_: Any) -> Any:
            nonlocal found
            found = node.name.value in fields
            return self.BREAK if found else None

        def enter_directive(self, node: DirectiveNode, *_: Any) -> Any:
            nonlocal found
            found = node.name.value in directives
            return self.BREAK if found else None

    visit(document, Finder())
    return found
