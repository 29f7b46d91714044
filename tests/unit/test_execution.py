"""The executor's fast path for plain leaf fields (schema/execution.py) answers exactly what
graphql-core's own path answers: values, key order, errors, their paths and null propagation."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from accessgraph.schema.execution import Executor


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


@strawberry.type
class Item:
    name: str
    nickname: str | None
    color: Color
    count: int
    when: datetime
    broken: str  # holds None although the schema says non-null
    secret: str = strawberry.field(permission_classes=[Never])

    @strawberry.field
    def upper(self) -> str:
        return self.name.upper()


@strawberry.type
class Holder:
    item: Item  # an object field without a resolver: not a leaf, graphql-core's path


def _item(i: int) -> Item:
    return Item(
        name=f"item{i}",
        nickname=None if i % 2 else f"n{i}",
        color=Color.RED if i % 2 else Color.BLUE,
        count=i,
        when=datetime(2026, 1, 1 + i, tzinfo=UTC),
        broken=None,  # type: ignore[arg-type]
        secret="s",
    )


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [_item(i) for i in range(3)]

    @strawberry.field
    async def later(self) -> list[Holder]:
        return [Holder(item=_item(i)) for i in range(2)]

    @strawberry.field
    def bad_enum(self) -> Item:
        item = _item(0)
        item.color = "purple"  # type: ignore[assignment]
        return item


DOCUMENTS = {
    "plain": "{ items { name nickname color count when } }",
    "aliases and typename": "{ items { a: name b: name __typename t: __typename upper } }",
    "fragments": "query { items { ...F ... on Item { count } } } fragment F on Item { name color }",
    "include and skip": (
        "query ($y: Boolean!) { items { name @include(if: $y) count @skip(if: $y) when } }"
    ),
    "null in a non-null field": "{ items { name broken } }",
    "permission on a field": "{ items { name secret } }",
    "async parent": "{ later { item { name color } } }",
    "refused enum value": "{ badEnum { name color } }",
}


def _schema(executor: type[StrawberryGraphQLCoreExecutionContext]) -> strawberry.Schema:
    return strawberry.Schema(query=Query, execution_context_class=executor)


@pytest.mark.parametrize("document", DOCUMENTS.values(), ids=DOCUMENTS.keys())
async def test_fast_path_answers_like_graphql_core(document: str) -> None:
    answers = []
    for executor in (Executor, StrawberryGraphQLCoreExecutionContext):
        result = await _schema(executor).execute(document, variable_values={"y": True})
        answers.append(
            json.dumps(
                {
                    "data": result.data,
                    "errors": [e.formatted for e in result.errors or []],
                }
            )
        )
    assert answers[0] == answers[1]


async def test_plain_fields_never_reach_execute_field(monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[str] = []
    original = Executor.execute_field

    def counting(self: Executor, parent_type: Any, source: Any, fields: Any, *rest: Any) -> Any:
        resolved.append(f"{parent_type.name}.{fields[0].node.name.value}")
        return original(self, parent_type, source, fields, *rest)

    monkeypatch.setattr(Executor, "execute_field", counting)
    result = await _schema(Executor).execute("{ items { name color count when upper } }")
    assert not result.errors
    # Only the root field and the field with a resolver take graphql-core's path.
    assert resolved == ["Query.items"] + ["Item.upper"] * 3
