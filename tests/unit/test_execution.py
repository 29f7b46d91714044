"""The executor's fast paths for plain fields (schema/execution.py) answer exactly what
graphql-core's own path answers: values, key order, errors, their paths and null propagation,
for leaves, computed leaves, and objects or lists of objects held by basic fields."""

from __future__ import annotations

import asyncio
import enum
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from strawberry.dataloader import DataLoader
from strawberry.permission import BasePermission
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from accessgraph.schema.eager import started
from accessgraph.schema.execution import Executor


@strawberry.enum
class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        return False


class Shout(str):
    """A str, not exactly: String and ID give it back as it is, through their coercion."""

    __slots__ = ()


@strawberry.interface
class Named:
    name: str


@strawberry.type
class Item(Named):  # implements an interface, so graphql-core checks `is_type_of`
    nickname: str | None
    color: Color
    count: int
    when: datetime
    broken: str  # holds None although the schema says non-null
    # Hold values of other classes than their type's own (an int, a str subclass), which
    # String, Boolean and ID coerce: a plan passes only a str, a bool as they are.
    loose: str
    loose_flag: bool
    loose_id: strawberry.ID
    secret: str = strawberry.field(permission_classes=[Never])

    @strawberry.field
    def upper(self) -> str:
        return self.name.upper()

    @strawberry.field
    def fails(self) -> str:
        raise ValueError(f"{self.name} fails")

    @strawberry.field
    def fails_or_null(self) -> str | None:
        raise ValueError(f"{self.name} fails")

    @strawberry.field
    async def slow(self) -> str:
        return self.name + "!"

    @strawberry.field
    async def slow_fails(self) -> str:
        raise ValueError(f"{self.name} fails later")

    @strawberry.field
    async def slow_fails_or_null(self) -> str | None:
        raise ValueError(f"{self.name} fails at once")

    @strawberry.field
    async def waits(self) -> str:
        await asyncio.sleep(0)
        return self.name + "?"

    @strawberry.field
    async def waits_fails(self) -> str | None:
        await asyncio.sleep(0)
        raise ValueError(f"{self.name} fails after waiting")

    @strawberry.field
    async def loaded(self, info: strawberry.Info) -> int:
        loader: DataLoader[int, int] = info.context["loader"]
        return await loader.load(self.count)


@strawberry.type
class Stranger:
    name: str


@strawberry.type
class Holder:
    item: Item  # objects held by basic fields: the object fast path
    items: list[Item]
    maybe: Item | None
    sparse: list[Item | None]
    strict: list[Item]  # holds a None although the schema says non-null items
    missing: Item  # holds None although the schema says non-null
    wrong: Item  # holds an object of another type


def _holder(i: int) -> Holder:
    return Holder(
        item=_item(i),
        items=[_item(i), _item(i + 1)],
        maybe=None if i % 2 else _item(i),
        sparse=[_item(i), None],
        strict=[_item(i), None],  # type: ignore[list-item]
        missing=None,  # type: ignore[arg-type]
        wrong=Stranger(name="x"),  # type: ignore[arg-type]
    )


@strawberry.type
class Box:
    holder: Holder | None
    holders: list[Holder]


def _item(i: int) -> Item:
    return Item(
        name=f"item{i}",
        nickname=None if i % 2 else f"n{i}",
        color=Color.RED if i % 2 else Color.BLUE,
        count=i,
        when=datetime(2026, 1, 1 + i, tzinfo=UTC),
        broken=None,  # type: ignore[arg-type]
        loose=i if i % 2 else Shout(f"s{i}"),  # type: ignore[arg-type]
        loose_flag=i,  # type: ignore[arg-type]
        loose_id=i if i % 2 else strawberry.ID(f"id{i}"),  # type: ignore[arg-type]
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
    def sparse_items(self) -> list[Item | None]:
        return [_item(0), None, _item(2)]

    @strawberry.field
    def strict_items(self) -> list[Item]:
        return [_item(0), None]  # type: ignore[list-item]

    @strawberry.field
    def strangers(self) -> list[Item]:
        return [_item(0), Stranger(name="x")]  # type: ignore[list-item]

    @strawberry.field
    def holders(self) -> list[Holder]:
        return [_holder(i) for i in range(2)]

    @strawberry.field
    def box(self) -> Box:
        return Box(holder=_holder(0), holders=[_holder(0), _holder(1)])

    @strawberry.field
    def bad_enum(self) -> Item:
        item = _item(0)
        item.color = "purple"  # type: ignore[assignment]
        return item

    @strawberry.field
    def refused_ids(self) -> list[Item]:
        """Three items, the second one's ID a bool (which ID refuses)."""
        items = [_item(i) for i in range(3)]
        items[1].loose_id = True  # type: ignore[assignment]
        return items

    @strawberry.field
    def mostly_fine(self) -> list[Item]:
        """Three items, the second one's color refused: one item off its selection's plan."""
        items = [_item(i) for i in range(3)]
        items[1].color = "purple"  # type: ignore[assignment]
        return items

    @strawberry.field
    def deeply_mostly_fine(self) -> Box:
        """Holders whose second holds an item whose color is refused, deep in the plan."""
        holders = [_holder(i) for i in range(3)]
        holders[1].items[1].color = "purple"  # type: ignore[assignment]
        return Box(holder=None, holders=holders)


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
    "computed leaves": "{ items { upper u: upper } }",
    "leaves of other classes than their type's": (
        "{ items { loose looseFlag looseId l: loose f: looseFlag } }"
    ),
    "a bool that ID refuses, in a plan": "{ refusedIds { name looseId looseFlag } }",
    "resolver list: item error propagating": "{ items { name fails } }",
    "resolver list: nullable items": "{ sparseItems { name failsOrNull fails } }",
    "resolver list: null in non-null items": "{ strictItems { name } }",
    "resolver list: object of another type": "{ strangers { name } }",
    "resolver list: directives on the field": (
        "query ($y: Boolean!) { items @include(if: $y) { name } sparseItems @skip(if: $y) { name } }"
    ),
    "computed leaf raises": "{ items { name failsOrNull } }",
    "computed non-null leaf raises": "{ holders { item { name fails } } }",
    "objects and lists of objects": (
        "{ holders { item { name } items { name count } maybe { name } sparse { name } } }"
    ),
    "null in a non-null object field": "{ holders { item { name } missing { name } } }",
    "null item in a non-null item list": "{ box { holder { strict { name } } } }",
    "object of another type": "{ box { holder { wrong { name } } } }",
    "non-null error propagating up": "{ box { holder { items { name fails } } } }",
    "non-null error stopping at a nullable list item": "{ holders { sparse { fails } } }",
    "async leaves under plain objects": "{ box { holders { item { slow } items { slow } } } }",
    "async error propagating up": "{ box { holder { items { name slowFails } } holders { item { name } } } }",
    "async leaves that wait": "{ box { holders { item { waits } items { waits waitsFails } } } }",
    "waiting and not waiting, mixed": "{ items { slow waits upper slowFails } }",
    "async error at once, then a sibling nulls the parent": (
        "{ holders { item { slowFailsOrNull fails } } box { holder { item { waitsFails fails } } } }"
    ),
    "a plan's irregular item among regular ones": (
        "{ mostlyFine { name color upper __typename } }"
    ),
    "an irregular object deep in a plan": (
        "{ deeplyMostlyFine { holders { item { name } items { name color } sparse { name } } } }"
    ),
    "a permission deep in a selection that would be planned": (
        "{ box { holders { item { name secret } items { name } } } }"
    ),
    "an irregular nullable object deep in a plan": (
        "{ deeplyMostlyFine { holders { maybe { name } items { color } } } }"
    ),
    "objects with aliases, fragments and directives": (
        "query ($y: Boolean!) { box { h: holders { i: item { ...N } items @include(if: $y) "
        "{ name } maybe @skip(if: $y) { name } } } } fragment N on Named { name __typename }"
    ),
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


@pytest.fixture
def resolved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each field that takes graphql-core's path (`execute_field`), as `Type.field`."""
    seen: list[str] = []
    original = Executor.execute_field

    def counting(self: Executor, parent_type: Any, source: Any, fields: Any, *rest: Any) -> Any:
        seen.append(f"{parent_type.name}.{fields[0].node.name.value}")
        return original(self, parent_type, source, fields, *rest)

    monkeypatch.setattr(Executor, "execute_field", counting)
    return seen


async def test_plain_fields_never_reach_execute_field(resolved: list[str]) -> None:
    result = await _schema(Executor).execute("{ items { name color count when upper } }")
    assert not result.errors
    # Only the root field takes graphql-core's path (`upper` is a plain method).
    assert resolved == ["Query.items"]


async def test_plain_objects_never_reach_execute_field(resolved: list[str]) -> None:
    result = await _schema(Executor).execute(
        "{ box { holders { item { name slow } items { name } maybe { name } } } }"
    )
    assert not result.errors
    assert resolved == ["Query.box"]  # `slow`, an async method, is called directly too


async def test_async_methods_are_called_without_strawberry_s_wrapper(
    resolved: list[str],
) -> None:
    async def load(keys: list[int]) -> list[int]:
        return [key * 10 for key in keys]

    loader = DataLoader[int, int](load_fn=load)
    result = await _schema(Executor).execute(
        "{ items { slow waits slowFailsOrNull loaded } }", context_value={"loader": loader}
    )
    assert result.errors and {e.path[-1] for e in result.errors} == {"slowFailsOrNull"}
    # `loaded` takes `info`: strawberry's wrapper makes it one, so it goes graphql-core's way.
    assert resolved == ["Query.items"] + ["Item.loaded"] * 3


@pytest.fixture
def stepped(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each object completed field by field (off its selection's plan), as its type's name."""
    seen: list[str] = []
    original = Executor._execute_steps

    def counting(self: Executor, parent_type: Any, *rest: Any) -> Any:
        if parent_type.name != "Query":  # the root's fields all have resolvers
            seen.append(parent_type.name)
        return original(self, parent_type, *rest)

    monkeypatch.setattr(Executor, "_execute_steps", counting)
    return seen


async def test_a_plan_completes_each_object_of_a_plain_selection(stepped: list[str]) -> None:
    result = await _schema(Executor).execute(
        "{ items { name color upper __typename } box { holders { item { name } items { name } } } }"
    )
    assert not result.errors
    # The box, one object of its selection, by its steps; every list's items, and the items'
    # objects, by plans.
    assert stepped == ["Box"]


async def test_a_selection_completing_one_object_is_not_planned(stepped: list[str]) -> None:
    result = await _schema(Executor).execute("{ box { holder { item { name } } } }")
    assert not result.errors
    assert stepped == ["Box", "Holder", "Item"]  # by their steps: a plan would cost more


async def test_only_the_irregular_object_leaves_the_plan(stepped: list[str]) -> None:
    result = await _schema(Executor).execute("{ mostlyFine { name color } }")
    assert result.errors and result.errors[0].path == ["mostlyFine", 1, "color"]
    assert stepped == ["Item"]  # items 0 and 2 by the plan
    result = await _schema(Executor).execute(
        "{ deeplyMostlyFine { holders { item { name } items { color } } } }"
    )
    assert result.errors and result.errors[0].path == [
        "deeplyMostlyFine",
        "holders",
        1,
        "items",
        1,
        "color",
    ]
    # Holder 1 completes field by field, and within it its items (item 1 errs, item 0 by
    # the plan of the items' selection).
    assert stepped == ["Item", "Box", "Holder", "Item"]


async def test_a_selection_with_a_resolver_has_no_plan(stepped: list[str]) -> None:
    result = await _schema(Executor).execute("{ items { name slow } }")
    assert not result.errors
    assert stepped == ["Item"] * 3


def test_enum_values_are_coerced_as_strawberry_coerces_them() -> None:
    """The executor's table of each enum's members (execution._coercer) answers what
    strawberry's own coercion answers, for every member of every enum of the API's schema;
    anything else is strawberry's to coerce or refuse."""
    from graphql import GraphQLError
    from strawberry.schema.schema_converter import CustomGraphQLEnumType

    from accessgraph.schema import build_schema
    from accessgraph.schema.execution import _coercer

    enums = [
        t for t in build_schema()._schema.type_map.values() if isinstance(t, CustomGraphQLEnumType)
    ]
    assert len(enums) > 10
    for enum_type in enums:
        fast = _coercer(enum_type)
        for member in enum_type.wrapped_cls:
            assert fast(member) == enum_type.coerce_output_value(member), (enum_type, member)
        raw = next(iter(enum_type.values.values())).value
        assert fast(raw) == enum_type.coerce_output_value(raw)  # a raw value: strawberry's way
        with pytest.raises(GraphQLError) as fast_error:
            fast(object())
        with pytest.raises(GraphQLError) as strawberry_error:
            enum_type.coerce_output_value(object())
        assert fast_error.value.message == strawberry_error.value.message


# --- Completions started at once (execution.started) ----------------------------------------


async def test_loads_of_started_fields_still_make_one_batch() -> None:
    batches: list[list[int]] = []

    async def load(keys: list[int]) -> list[int]:
        batches.append(list(keys))
        return [key * 10 for key in keys]

    result = await _schema(Executor).execute(
        "{ box { holders { items { loaded } } } items { loaded } }",
        context_value={"loader": DataLoader(load_fn=load)},
    )
    assert not result.errors
    holders = [[0, 10], [10, 20]]  # each Holder's two items (counts i, i + 1), times ten
    assert result.data == {
        "box": {"holders": [{"items": [{"loaded": n} for n in pair]} for pair in holders]},
        "items": [{"loaded": 0}, {"loaded": 10}, {"loaded": 20}],
    }
    assert batches == [[0, 1, 2]]  # one batch: every load was asked for before any waited


async def test_a_completion_that_does_not_wait_is_its_value() -> None:
    async def at_once() -> int:
        return 7

    assert started(at_once()) == 7


async def test_a_completion_that_waits_goes_on_when_awaited() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    steps: list[str] = []

    async def waiting() -> int:
        steps.append("before")
        value = await gate
        steps.append("after")
        await asyncio.sleep(0)
        return value + 1

    rest = started(waiting())
    assert steps == ["before"]  # run at once, up to its first wait
    gate.set_result(41)
    assert await rest == 42  # in this task: no task of its own
    assert steps == ["before", "after"]


async def test_two_completions_may_wait_for_one_future() -> None:
    """Two fields awaiting one loader's future (the same key twice)."""
    shared: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def waiting(tag: str) -> tuple[str, int]:
        return tag, await shared

    first, second = started(waiting("a")), started(waiting("b"))
    shared.set_result(5)
    assert await asyncio.gather(first, second) == [("a", 5), ("b", 5)]


async def test_an_error_comes_out_when_the_field_is_awaited() -> None:
    async def failing() -> int:
        raise ValueError("broken")

    raising = started(failing())  # no exception here
    with pytest.raises(ValueError, match="broken"):
        await raising


async def test_a_completion_cancelled_before_it_goes_on_is_cancelled_inside() -> None:
    """Cancelled in the same turn as its task is made (a request's timeout, say)."""
    seen: list[str] = []
    gate: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def waiting() -> None:
        try:
            await gate
        finally:
            seen.append("cleaned up")

    task = asyncio.ensure_future(started(waiting()))
    task.cancel()  # before the task's first step
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cleaned up"]
    assert not gate.cancelled()  # another field's loader future is left alone


async def test_a_cancellation_at_once_comes_out_when_awaited() -> None:
    cancelled: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    cancelled.cancel()

    async def awaiting_a_cancelled_future() -> int:
        return await cancelled

    late = started(awaiting_a_cancelled_future())  # no exception here
    with pytest.raises(asyncio.CancelledError):
        await late


async def test_a_cancelled_completion_is_cancelled_inside() -> None:
    seen: list[str] = []

    async def waiting_forever() -> None:
        try:
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    going_on = asyncio.ensure_future(started(waiting_forever()))
    await asyncio.sleep(0)
    going_on.cancel()
    with pytest.raises(asyncio.CancelledError):
        await going_on
    assert seen == ["cancelled"]


async def test_a_plan_that_cannot_be_kept_is_compiled_for_the_request(
    stepped: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plan with a part that cannot be a cache key still runs as a plan, compiled anew."""
    from accessgraph.schema import execution

    original = execution.compile_plan

    def not_kept(plan: Any) -> Any:
        raise TypeError("unhashable")

    not_kept.__wrapped__ = original.__wrapped__  # type: ignore[attr-defined]
    monkeypatch.setattr(execution, "compile_plan", not_kept)
    result = await _schema(Executor).execute("{ items { name color upper } }")
    assert not result.errors and result.data is not None
    assert [item["upper"] for item in result.data["items"]] == ["ITEM0", "ITEM1", "ITEM2"]
    assert stepped == []  # the items by the plan


def test_execute_field_is_copied_from_this_graphql_core() -> None:
    """`Executor.execute_field` is graphql-core's own with one call changed (its arguments
    through `schema.arguments.argument_values`). A graphql-core whose original differs fails
    here: copy it again, keeping that call, and update the digest."""
    import hashlib
    import inspect

    from graphql.execution.executor import Executor as GraphQLCoreExecutor

    source = inspect.getsource(GraphQLCoreExecutor.execute_field)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "5281dc836ecc24a07af71f0174a0deeec566966af66df08a8c929b7b68491602"
    )
