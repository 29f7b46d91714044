"""Literal arguments coerced once per node (schema/arguments.py, issue 8): kept only where
nothing can differ or change between requests."""

from __future__ import annotations

import gc
from collections.abc import Awaitable
from typing import Any

import pytest
import strawberry
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLSchema,
    OperationDefinitionNode,
    build_schema,
    execute,
)
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import parse

from accessgraph.schema import arguments
from accessgraph.schema.arguments import argument_values
from accessgraph.schema.execution import Executor

SDL = """
scalar JSON
enum Kind { REPOSITORY BUILD }
input Filter { kind: Kind!, names: [String!], nested: Filter }
input Loose { data: JSON }
type Query {
  check(action: String!, kind: Kind, limit: Int = 10): Boolean
  filtered(action: String!, filter: Filter): Boolean
  loose(input: Loose): Boolean
}
"""


def _field(schema: GraphQLSchema, document: str) -> tuple[GraphQLField, FieldNode]:
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    node = operation.selection_set.selections[0]
    assert isinstance(node, FieldNode)
    query = schema.query_type
    assert query is not None
    return query.fields[node.name.value], node


def _values(field: GraphQLField, node: FieldNode, variables: Any = None) -> dict[str, Any]:
    return argument_values(field, node, variables, None, False)


def _kept_once(field: GraphQLField, node: FieldNode) -> dict[str, Any]:
    """The node's values, equal to graphql-core's, and the very same object the second time."""
    first = _values(field, node)
    assert first == get_argument_values(field, node, None)
    assert _values(field, node) is first
    return first


@pytest.fixture
def schema() -> GraphQLSchema:
    arguments._kept.clear()
    return build_schema(SDL)


def test_literal_arguments_are_coerced_once_and_equal_graphql_cores(
    schema: GraphQLSchema,
) -> None:
    field, node = _field(schema, '{ check(action: "WRITE", kind: BUILD) }')
    assert _kept_once(field, node) == {"action": "WRITE", "kind": "BUILD", "limit": 10}


def test_an_input_object_not_built_by_strawberry_is_coerced_every_time(
    schema: GraphQLSchema,
) -> None:
    # Without strawberry's conversion a resolver would be handed the kept dict itself.
    field, node = _field(
        schema, '{ filtered(action: "READ", filter: {kind: REPOSITORY, names: ["a"]}) }'
    )
    first = _values(field, node)
    assert first["filter"] == {"kind": "REPOSITORY", "names": ["a"]}
    assert _values(field, node) is not first


@pytest.mark.parametrize(
    "document",
    [
        "query($a: String!) { check(action: $a) }",
        'query($k: Kind!) { filtered(action: "READ", filter: {kind: $k}) }',
        'query($n: String!) { filtered(action: "READ", filter: {kind: BUILD, names: [$n]}) }',
    ],
)
def test_arguments_naming_a_variable_are_coerced_every_time(
    schema: GraphQLSchema, document: str
) -> None:
    field, node = _field(schema, document)
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    definitions = operation.variable_definitions or ()

    def variables(inputs: dict[str, str]) -> Any:
        used = {d.variable.name.value for d in definitions}
        return get_variable_values(
            schema, definitions, {k: v for k, v in inputs.items() if k in used}
        )

    one = variables({"a": "READ", "k": "BUILD", "n": "x"})
    two = variables({"a": "WRITE", "k": "REPOSITORY", "n": "y"})
    first = _values(field, node, one)
    second = _values(field, node, two)
    assert first != second and first is not _values(field, node, one)
    assert first == _values(field, node, one) == get_argument_values(field, node, one)
    assert second == get_argument_values(field, node, two)


def test_a_custom_scalar_is_coerced_every_time(schema: GraphQLSchema) -> None:
    # A custom scalar's value may be mutable (a JSON object a resolver could change).
    field, node = _field(schema, "{ loose(input: {data: {list: [1]}}) }")
    first = _values(field, node)
    assert first == {"input": {"data": {"list": [1]}}}
    first["input"]["data"]["list"].append(2)  # what a careless resolver might do
    assert _values(field, node) == {"input": {"data": {"list": [1]}}}


def test_a_node_run_against_another_schema_is_coerced_for_it(schema: GraphQLSchema) -> None:
    field, node = _field(schema, '{ check(action: "READ") }')
    assert _values(field, node) == {"action": "READ", "limit": 10}
    other = build_schema(SDL.replace("limit: Int = 10", "limit: Int = 20"))
    other_field, _ = _field(other, '{ check(action: "READ") }')
    assert _values(other_field, node) == {"action": "READ", "limit": 20}
    assert _values(field, node) == {"action": "READ", "limit": 10}


def test_kept_nodes_are_bounded_and_go_with_their_document(schema: GraphQLSchema) -> None:
    held = []
    for n in range(arguments._KEPT_NODES + 10):
        field, node = _field(schema, f'{{ check(action: "A{n}") }}')
        assert _values(field, node)["action"] == f"A{n}"
        held.append(node)
    assert 0 < len(arguments._kept) <= arguments._KEPT_NODES
    # Nothing keeps a document alive: once its nodes go, so do their values.
    field, node = _field(schema, '{ check(action: "GONE") }')
    _values(field, node)
    key = id(node)
    assert arguments._kept[key][2] == {"action": "GONE", "limit": 10}
    del node, held
    gc.collect()
    assert key not in arguments._kept and not arguments._kept


def test_refused_arguments_raise_and_are_not_kept(schema: GraphQLSchema) -> None:
    field, node = _field(schema, "{ check(action: 1) }")
    for _ in range(2):
        with pytest.raises(Exception, match="String cannot represent"):
            _values(field, node)
    assert id(node) not in arguments._kept


def test_check_access_literal_input_is_kept_in_the_apis_schema() -> None:
    # What a registry sends, as bench/run.py sends it: its arguments qualify.
    from accessgraph.schema import build_schema

    arguments._kept.clear()
    schema = build_schema()._schema
    field, node = _field(
        schema,
        '{ checkAccess(input: {action: "WRITE", resourceType: REPOSITORY, '
        'resourceName: "team1-api"}) { allowed } }',
    )
    assert _kept_once(field, node)["input"]["resourceName"] == "team1-api"


@strawberry.input
class Tags:
    names: list[str]


@strawberry.input
class Raw:
    """An input built by a builder of its own, which keeps the mapping it is given."""

    name: str = ""
    value: strawberry.Private[dict[str, Any]]


def _raw(cls: type, value: Any, _context: Any) -> Raw:
    return Raw(name=value.get("name", ""), value=value)


Raw.__strawberry_definition__.from_input = _raw  # type: ignore[attr-defined]


@strawberry.type
class Echo:
    @strawberry.field
    def echo(self, names: list[str], tags: Tags) -> list[str]:
        seen = [*names, *tags.names]
        names.append("changed")  # what a careless resolver might do
        tags.names.append("changed")
        return seen

    @strawberry.field
    def raw(self, input: Raw) -> str:
        seen = str(input.value)
        input.value["changed"] = True
        return seen


def test_resolvers_changing_their_arguments_change_nothing_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Through the executor, as the API runs: a list and an input object are kept (coerced
    once for the document) and converted anew for each run; an input with a builder of its
    own is coerced every time."""
    arguments._kept.clear()
    coerced: list[str] = []

    def counting(field: Any, node: FieldNode, *rest: Any) -> dict[str, Any]:
        coerced.append(node.name.value)
        return get_argument_values(field, node, *rest)

    monkeypatch.setattr(arguments, "get_argument_values", counting)
    schema = strawberry.Schema(query=Echo, execution_context_class=Executor)
    # One document run three times, as a prepared query is (strawberry's `execute` would
    # parse it anew each time).
    document = parse('{ echo(names: ["a"], tags: {names: ["b"]}) raw(input: {name: "r"}) }')
    for _ in range(3):
        result = execute(schema._schema, document, executor_class=Executor)
        assert not isinstance(result, Awaitable)
        assert result.errors is None
        assert result.data == {"echo": ["a", "b"], "raw": "{'name': 'r'}"}
    assert coerced == ["echo", "raw", "raw", "raw"]
