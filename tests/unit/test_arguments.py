"""Literal arguments coerced once per node (schema/arguments.py, issue 8): kept only where
nothing can differ or change between requests."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FieldNode, GraphQLField, GraphQLSchema, OperationDefinitionNode, build_schema
from graphql.execution.values import get_argument_values, get_variable_values
from graphql.language import parse

from accessgraph.schema import arguments
from accessgraph.schema.arguments import argument_values

SDL = """
scalar JSON
enum Kind { REPOSITORY BUILD }
input Filter { kind: Kind!, names: [String!], nested: Filter }
input Loose { data: JSON }
type Query {
  check(action: String!, kind: Kind, filter: Filter, limit: Int = 10): Boolean
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
    field, node = _field(
        schema,
        '{ check(action: "WRITE", kind: BUILD, '
        'filter: {kind: REPOSITORY, names: ["a"], nested: {kind: BUILD}}) }',
    )
    assert _kept_once(field, node) == {
        "action": "WRITE",
        "kind": "BUILD",
        "filter": {"kind": "REPOSITORY", "names": ["a"], "nested": {"kind": "BUILD"}},
        "limit": 10,
    }


@pytest.mark.parametrize(
    "document",
    [
        "query($a: String!) { check(action: $a) }",
        'query($k: Kind!) { check(action: "READ", filter: {kind: $k}) }',
        'query($n: String!) { check(action: "READ", filter: {kind: BUILD, names: [$n]}) }',
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


def test_kept_nodes_are_bounded_and_keep_their_node_alive(schema: GraphQLSchema) -> None:
    for n in range(arguments._KEPT_NODES + 10):
        field, node = _field(schema, f'{{ check(action: "A{n}") }}')
        assert _values(field, node)["action"] == f"A{n}"
    assert len(arguments._kept) <= arguments._KEPT_NODES
    # An entry holds its node: no other node can take its id while it is kept.
    assert all(id(node) == key for key, (node, _, _) in arguments._kept.items())


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
