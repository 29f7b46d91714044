"""graphql-core's executor with a fast path for plain fields (issue 8).

A page is mostly plain fields: `email`, `status`, `createdAt` of fifty rows are attributes of
objects that the list's resolver already built, and `edges`, `node` are attributes holding them.
graphql-core still runs each one like a field with a resolver: a `Path`, a strawberry `Info`,
the resolver wrapper, an awaitable check and `complete_value` (~600 such fields made a third of
the team page's time). Here four kinds of field skip that machinery:

- a leaf (scalar or enum) that strawberry itself calls basic (no resolver, no field extension,
  so no permission): read with `getattr` and coerced with the type's `coerce_output_value`, the
  two calls graphql-core ends with;
- a leaf computed by a plain method of the type (sync, no argument, no `info`, no extension):
  called with the object, as strawberry calls it, and coerced the same way;
- a basic field holding an object or a list of objects (no abstract type): its selection runs
  on the value(s) directly, with graphql-core's own `collect_subfields`, `is_type_of` check,
  paths and `handle_field_error`, so errors land and propagate exactly where they would;
- a plain async method of the type (no argument, no `info`, no extension: `totalCount`, a
  user's `tokens`): called with the object, as strawberry's wrapper ends up calling it, and
  completed by graphql-core's `complete_awaitable_value`, as graphql-core completes it.

A selection made only of the first three kinds (a user's ten columns and flags, an edge's
cursor and node) is worked out once per request into a plan, compiled into one Python function
per shape of selection and kept across requests (`compile_plan`), and each object, or each item
of a list, is completed by calling it: no `Path`, no call per field, no awaitable checks. A plan
gives all of an object's values or none: on the first thing it does not expect, the object (or
the list's item) is completed again on the way below, from the start, and errors come out from
there. The fields a plan reads are attributes and plain methods; reading them again is harmless. A
selection is planned once it completes a second object: for one object, its steps cost less.

Anything unusual on the way (a null for a non-null field, a value the type refuses, a value of
another type, an exception, deferred fragments) goes down graphql-core's own path before any of
the field's selection has run, so errors, their paths and null propagation are graphql-core's,
unchanged. Nothing about authorization changes: a field with a permission has an extension, so
it never takes a fast path, and always runs through strawberry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Sequence
from functools import lru_cache
from operator import attrgetter
from types import CoroutineType
from typing import Any, NamedTuple
from weakref import WeakKeyDictionary, ref

from graphql import (
    GraphQLField,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    GraphQLResolveInfoHelpers,
    GraphQLSchema,
    Undefined,
    is_leaf_type,
)
from graphql.pyutils import Path, gather_with_cancel
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_string
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField

from accessgraph.schema.arguments import argument_values
from accessgraph.schema.eager import Recorded, started

TYPENAME = "__typename"


class PlainLeaf(NamedTuple):
    read: Callable[[Any], Any]  # the attribute's getter, or the type's method
    coerce: Callable[[Any], Any]
    non_null: bool


class PlainObject(NamedTuple):
    attribute: str
    return_type: GraphQLOutputType  # as declared, wrappers included: for handle_field_error
    object_type: GraphQLObjectType
    non_null: bool
    is_list: bool
    item_type: GraphQLOutputType  # the list's item type, wrappers included (is_list only)
    item_non_null: bool


class PlainAsync(NamedTuple):
    call: Callable[[Any], Awaitable[Any]]  # the type's async method
    field: GraphQLField


Plain = PlainLeaf | PlainObject | PlainAsync
_TYPENAME = object()  # the step of a `__typename` field
# A response field: its name, its fast path (or _TYPENAME, or None: graphql-core's way), and
# graphql-core's field details.
_Step = tuple[str, Plain | object | None, Any]


class PlannedObject(NamedTuple):
    """A basic object (or list of objects) field in a plan, with the plan of its selection."""

    plain: PlainObject
    is_type_of: Callable[[Any, Any], Any] | None  # strawberry's, which reads only the object
    plan: Planned


# A selection worked out: each response field with its leaf, its object, or (a str) the type's
# name for `__typename`; and as one function of the object (`compile_plan`).
Plan = tuple[tuple[str, PlainLeaf | PlannedObject | str], ...]
Planned = Callable[[Any], dict[str, Any] | None]
_UNPLANNED: Any = object()
_IRREGULAR: Any = object()  # what a planned object field is when the plan does not hold


class _Selection:
    """A selection of a request: graphql-core's fields, their steps, and once worked out, its
    plan (None if some field has none)."""

    __slots__ = ("fields", "plan", "steps", "uses")

    def __init__(self, fields: Any, steps: list[_Step]) -> None:
        self.fields = fields  # kept, so that its id (the key) is not reused while this lives
        self.steps = steps
        self.plan: Planned | None = _UNPLANNED
        self.uses = 0  # objects completed by its steps before its plan was worked out


# Per type of a schema; weak, so that a discarded schema (tests build many) is not kept.
_PLAIN: WeakKeyDictionary[GraphQLObjectType, dict[str, Plain]] = WeakKeyDictionary()


def plain_fields(schema: GraphQLSchema, object_type: GraphQLObjectType) -> dict[str, Plain]:
    """The fields of `object_type` that may take a fast path, by field name (built once per
    type of the schema)."""
    found = _PLAIN.get(object_type)
    if found is not None:
        return found
    found = {}
    if not _has_exception_handlers(schema):
        for name, field in object_type.fields.items():
            plain = _plain(field)
            if plain is not None:
                found[name] = plain
    _PLAIN[object_type] = found
    return found


def _has_exception_handlers(schema: GraphQLSchema) -> bool:
    """Strawberry's exception handlers wrap resolvers: with any, every field keeps its path."""
    strawberry_schema = getattr(schema, "_strawberry_schema", None)
    converter = getattr(strawberry_schema, "schema_converter", None)
    return bool(getattr(converter, "_exception_handler_specs", True))


def _plain(field: GraphQLField) -> Plain | None:
    definition = field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or field.args or definition.extensions:
        return None
    method = _method(definition, asynchronous=True)
    if method is not None:
        return PlainAsync(method, field)
    field_type = field.type
    non_null = isinstance(field_type, GraphQLNonNull)
    inner = field_type.of_type if isinstance(field_type, GraphQLNonNull) else field_type
    if is_leaf_type(inner):
        assert isinstance(inner, GraphQLLeafType)
        read = _reader(field, definition)
        return PlainLeaf(read, _coercer(inner), non_null) if read else None
    if not definition.is_basic_field or not _default_resolver(field, definition):
        return None
    if isinstance(inner, GraphQLObjectType):
        return PlainObject(definition.python_name, field_type, inner, non_null, False, inner, False)
    if isinstance(inner, GraphQLList):
        item_type = inner.of_type
        item_non_null = isinstance(item_type, GraphQLNonNull)
        item = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if isinstance(item, GraphQLObjectType):
            return PlainObject(
                definition.python_name, field_type, item, non_null, True, item_type, item_non_null
            )
    return None


def _coercer(leaf_type: GraphQLLeafType) -> Callable[[Any], Any]:
    """The type's `coerce_output_value`; for a strawberry enum, a table of its members first:
    strawberry's own compares the value with each of the enum's values in turn (~1 µs a
    field). Anything not a member of the enum goes to strawberry's, as before."""
    if not isinstance(leaf_type, CustomGraphQLEnumType):
        return leaf_type.coerce_output_value
    enum_class: Any = leaf_type.wrapped_cls  # an Enum class
    coerce = leaf_type.coerce_output_value
    names: dict[Any, str] = {}
    for member in enum_class:
        for name, value in leaf_type.values.items():  # strawberry's order: the first match
            if member.value == value.value:
                names.setdefault(member, name)
                break

    def coerce_member(value: Any) -> Any:
        if type(value) is enum_class:
            name = names.get(value)
            if name is not None:
                return name
        return coerce(value)

    return coerce_member


def _declares_is_type_of(object_type: GraphQLObjectType) -> bool:
    """Whether the type's `is_type_of` is its own (which may read `info`), not the one strawberry
    makes for a type with interfaces (which reads only the object)."""
    definition = object_type.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    return not isinstance(definition, StrawberryObjectDefinition) or bool(definition.is_type_of)


def _default_resolver(field: GraphQLField, definition: StrawberryField) -> bool:
    return bool(getattr(field.resolve, "_is_default", False)) and (
        definition.default_resolver is getattr  # StrawberryConfig's default
    )


def _reader(field: GraphQLField, definition: StrawberryField) -> Callable[[Any], Any] | None:
    """How a leaf's value is read without graphql-core's machinery, if it can be."""
    if definition.is_basic_field:
        return attrgetter(definition.python_name) if _default_resolver(field, definition) else None
    return _method(definition, asynchronous=False)


def _method(definition: StrawberryField, *, asynchronous: bool) -> Callable[[Any], Any] | None:
    """The field's resolver if it is a plain method of the type, sync or async as asked: no
    argument, no `info`, no root or parent; called with the object, as strawberry's resolver
    wrapper ends up calling it."""
    resolver = definition.base_resolver
    if (
        resolver is None
        or resolver.is_async is not asynchronous
        or resolver.arguments
        or resolver.self_parameter is None
        or resolver.info_parameter is not None
        or resolver.root_parameter is not None
        or resolver.parent_parameter is not None
        or definition.is_subscription
    ):
        return None
    # What strawberry's resolver wrapper ends with for such a method: `method(source)`.
    method = resolver.wrapped_func
    return None if isinstance(method, staticmethod | classmethod) else method


# The leaf coercions that give back a value of this exact class unchanged (graphql-core's
# String, ID and Boolean): a planned leaf of that class skips the call.
_UNCHANGED: dict[Callable[[Any], Any], type] = {
    serialize_string: str,
    serialize_id: str,
    serialize_boolean: bool,
}


@lru_cache(maxsize=1024)  # plans of a few shapes of query; a plan's parts are the schema's own
def compile_plan(plan: Plan) -> Planned:
    """The plan as one function of the object: its values, or None at the first thing the plan
    does not expect (a null for a non-null field, a value its type refuses, an object of another
    type, an error), when the caller completes the object graphql-core's way. Each leaf is read
    and coerced as `Executor._execute_steps` reads one, without a loop over the plan, its tuples
    and a dict's item per field (~0.3 µs a field). The source text names only the function's
    own variables: response names, readers and steps are passed in, never written into it."""
    names: dict[str, Any] = {"IRREGULAR": _IRREGULAR, "complete": _run_planned_object}
    lines = ["def planned(source):", "    try:", "        pass"]
    results: list[str] = []
    for k, (response_name, step) in enumerate(plan):
        names[f"n{k}"] = response_name
        results.append(f"n{k}: v{k}")
        if type(step) is str:
            names[f"v{k}"] = step
        elif type(step) is PlainLeaf:
            names[f"r{k}"], names[f"c{k}"] = step.read, step.coerce
            lines += [f"        v{k} = r{k}(source)", f"        if v{k} is not None:"]
            unchanged = _UNCHANGED.get(step.coerce)
            indent = "            "
            if unchanged is not None:
                names[f"u{k}"] = unchanged
                lines.append(f"            if type(v{k}) is not u{k}:")
                indent += "    "
            lines += [f"{indent}v{k} = c{k}(v{k})", f"{indent}if v{k} is None: return None"]
            if step.non_null:
                lines.append("        else: return None")
        else:
            assert type(step) is PlannedObject
            names[f"o{k}"], names[f"a{k}"] = step, step.plain.attribute
            lines += [
                f"        v{k} = complete(o{k}, getattr(source, a{k}))",
                f"        if v{k} is IRREGULAR: return None",
            ]
    lines += [
        "    except Exception:",
        "        return None",
        f"    return {{{', '.join(results)}}}",
    ]
    exec("\n".join(lines), names)  # noqa: S102 - our own text, as above
    planned: Planned = names["planned"]
    return planned


def _run_planned_object(planned: PlannedObject, value: Any) -> Any:
    """A planned object field's value (an object's values, a list of them, or None), or
    _IRREGULAR."""
    plain, is_type_of, plan = planned
    if value is None:
        return _IRREGULAR if plain.non_null else None
    if not plain.is_list:
        if is_type_of is not None and is_type_of(value, None) is not True:
            return _IRREGULAR
        values = plan(value)
        return _IRREGULAR if values is None else values
    if not isinstance(value, list | tuple):
        return _IRREGULAR
    completed: list[Any] = []
    for item in value:
        if item is None:
            if plain.item_non_null:
                return _IRREGULAR
            completed.append(None)
            continue
        if is_type_of is not None and is_type_of(item, None) is not True:
            return _IRREGULAR
        values = plan(item)
        if values is None:
            return _IRREGULAR
        completed.append(values)
    return completed


class Executor(StrawberryGraphQLCoreExecutionContext):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # graphql-core keeps its resolver helpers, bound methods of the executor, on the
        # executor: a reference cycle through which the executor's context (the request's
        # loaders and every row they loaded) outlived the request until the collector's next
        # full pass (~2,500 objects a nested page; +65 MB after 320 of them at 16 in flight).
        # The same helpers through a weak reference: the executor lives while it executes.
        executor = ref(self)

        def gather(values: Sequence[Awaitable[Any]]) -> Awaitable[list[Any]]:
            return gather_with_cancel(*values)

        def track(values: Sequence[Any]) -> None:
            alive = executor()
            if alive is not None:
                alive.track_async_work(values)

        self.async_helpers = GraphQLResolveInfoHelpers(gather=gather, track=track)
        self._selections: dict[tuple[int, GraphQLObjectType], _Selection] = {}

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's `execute_fields`, taking the fast paths of the module's docstring."""
        middleware = self.middleware_manager
        if middleware is not None and middleware.middlewares:
            # A schema extension with a `resolve` hook must see every field.
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        selection = self._selection(parent_type, grouped_field_set)
        if position_context is None:
            plan = self._plan_of(parent_type, selection, 1)
            if plan is not None:
                values = plan(source_value)
                if values is not None:
                    return values
        return self._execute_steps(
            parent_type, source_value, path, selection.steps, position_context
        )

    def _execute_steps(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        steps: list[_Step],
        position_context: Any,
    ) -> Any:
        """The selection's fields one by one (graphql-core's loop, with the fast paths)."""
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, fast, field_details_list in steps:
                if type(fast) is PlainLeaf:  # as a plan reads a leaf (`compile_plan`)
                    # The coerced value, or Undefined when graphql-core must decide (a null
                    # for a non-null field, a refused value, an error): its path reports
                    # those exactly. Inline: this runs for every leaf of every row.
                    try:
                        value = fast.read(source_value)
                        if value is not None:
                            value = fast.coerce(value)
                            if value is None:
                                value = Undefined
                        elif fast.non_null:
                            value = Undefined
                    except Exception:
                        value = Undefined
                    if value is not Undefined:
                        results[response_name] = value
                        continue
                elif type(fast) is PlainObject and position_context is None:
                    value = self._complete_plain_object(
                        fast, parent_type, source_value, field_details_list, path, response_name
                    )
                    if value is not Undefined:
                        results[response_name] = value
                        if is_awaitable(value):
                            awaitable_fields.append(response_name)
                        continue
                elif fast is _TYPENAME:
                    results[response_name] = parent_type.name
                    continue
                field_path = Path(path, response_name, parent_type.name)
                if type(fast) is PlainAsync and position_context is None:
                    result = self._execute_method(
                        fast, parent_type, source_value, field_details_list, field_path
                    )
                else:
                    result = self.execute_field(
                        parent_type, source_value, field_details_list, field_path, position_context
                    )
                if result is not Undefined:
                    if type(result) is CoroutineType:
                        result = self._started(result)
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

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """graphql-core's `execute_field`, its arguments coerced by `argument_values` (kept
        for literal arguments: schema/arguments.py)."""
        first_details = field_details_list[0]
        first_node = first_details.node
        field_def = self.schema.get_field(parent_type, first_node.name.value)
        if not field_def:
            return Undefined
        return_type = field_def.type
        resolve_fn = field_def.resolve or self.field_resolver
        if self.middleware_manager:
            resolve_fn = self.middleware_manager.get_field_resolver(resolve_fn)
        info = self.build_resolve_info(
            field_def, [details.node for details in field_details_list], parent_type, path
        )
        try:
            args = (
                argument_values(
                    field_def,
                    first_node,
                    self.variable_values,
                    first_details.fragment_variable_values,
                    self.hide_suggestions,
                )
                if field_def.args or first_node.arguments
                else {}
            )
            result = resolve_fn(source, info, **args)
            if self.is_awaitable(result):
                return self.complete_awaitable_value(
                    return_type, field_details_list, info, path, result, position_context
                )
            completed = self.complete_value(
                return_type, field_details_list, info, path, result, position_context
            )
            if self.is_awaitable(completed):
                return self._guard(completed, return_type, field_details_list, path)
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        return completed

    def _execute_method(
        self,
        plain: PlainAsync,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
    ) -> Any:
        """graphql-core's `execute_field` for a plain async method, called with the object
        (strawberry's resolver wrapper, which ends with that call, is skipped: no `Info` of its
        own, no arguments to convert, no `await_maybe`)."""
        return_type = plain.field.type
        nodes = [details.node for details in field_details_list]
        info = self.build_resolve_info(plain.field, nodes, parent_type, path)
        try:
            result = plain.call(source)
            return self.complete_awaitable_value(
                return_type, field_details_list, info, path, result, None
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None

    def _started(self, completing: Coroutine[Any, Any, Any]) -> Any:
        """`eager.started`, with the field errors of its first step recorded when the field
        is awaited, as graphql-core records them."""
        collected = self.collected_errors
        self.collected_errors = recorded = Recorded()
        try:
            value = started(completing)
        finally:
            self.collected_errors = collected
        if not recorded.added:
            return value
        return self._recorded_later(recorded, value, self.is_awaitable(value))

    async def _recorded_later(self, recorded: Recorded, value: Any, awaitable: bool) -> Any:
        """The field's value, its first step's errors recorded now, as graphql-core would have:
        with the errors of now (another first step's, itself recorded later, when this runs
        within one)."""
        for error, path in recorded.added:
            self.collected_errors.add(error, path)
        return await value if awaitable else value

    def _selection(self, parent_type: GraphQLObjectType, grouped_field_set: Any) -> _Selection:
        """Each response field with its fast path, if any: worked out once per selection (a
        page's fifty rows share one) instead of once per row and field."""
        key = (id(grouped_field_set), parent_type)
        known = self._selections.get(key)
        if known is not None and known.fields is grouped_field_set:
            return known
        plain = plain_fields(self.schema, parent_type)
        steps: list[_Step] = []
        for response_name, field_details_list in grouped_field_set.items():
            field_name = field_details_list[0].node.name.value
            fast = _TYPENAME if field_name == TYPENAME else plain.get(field_name)
            steps.append((response_name, fast, field_details_list))
        selection = self._selections[key] = _Selection(grouped_field_set, steps)
        return selection

    def _plan_of(
        self, parent_type: GraphQLObjectType, selection: _Selection, objects: int
    ) -> Planned | None:
        """The selection's plan for completing `objects` objects, worked out once the selection
        completes a second object: one object (a check's answer) costs less by its steps than
        by working out a plan."""
        plan = selection.plan
        if plan is _UNPLANNED:
            selection.uses += objects
            if selection.uses < 2:
                return None
            plan = selection.plan = self._plan(parent_type, selection.steps)
        return plan

    def _plan(self, parent_type: GraphQLObjectType, steps: list[_Step]) -> Planned | None:
        """The selection's plan, if every field of it can be planned (module docstring)."""
        plan: list[tuple[str, PlainLeaf | PlannedObject | str]] = []
        for response_name, fast, field_details_list in steps:
            if fast is _TYPENAME:
                plan.append((response_name, parent_type.name))
            elif type(fast) is PlainLeaf:
                plan.append((response_name, fast))
            elif (
                type(fast) is PlainObject
                and not _declares_is_type_of(fast.object_type)
                and not any(details.node.directives for details in field_details_list)
            ):
                collected = self.collect_subfields(fast.object_type, field_details_list)
                if collected[1]:  # deferred fragments
                    return None
                inner_selection = self._selection(fast.object_type, collected[0])
                inner = self._plan_of(fast.object_type, inner_selection, 2)  # planned now
                if inner is None:
                    return None
                plan.append(
                    (response_name, PlannedObject(fast, fast.object_type.is_type_of, inner))
                )
            else:
                return None
        worked_out = tuple(plan)
        try:
            return compile_plan(worked_out)
        except TypeError:  # a part that cannot be a cache key: compiled for this request
            planned: Planned = compile_plan.__wrapped__(worked_out)
            return planned

    def _complete_plain_object(
        self,
        plain: PlainObject,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path | None,
        response_name: str,
    ) -> Any:
        """The completed value of a basic object (or list of objects) field, or Undefined
        when graphql-core's path must take it; decided before any of its selection runs."""
        try:
            value = getattr(source, plain.attribute)
        except Exception:
            return Undefined
        if value is None:
            return Undefined if plain.non_null else None
        if plain.is_list and not isinstance(value, list | tuple):
            return Undefined
        collected = self.collect_subfields(plain.object_type, field_details_list)
        grouped_field_set, deferred = collected[0], collected[1]
        if deferred:
            return Undefined
        field_path = Path(path, response_name, parent_type.name)
        items = value if plain.is_list else (value,)
        is_type_of = plain.object_type.is_type_of
        if is_type_of is not None:
            info: Any = None  # strawberry's own check never reads it: built only for a type's
            if _declares_is_type_of(plain.object_type):  # own `is_type_of`
                field_def = self.schema.get_field(
                    parent_type, field_details_list[0].node.name.value
                )
                assert field_def is not None
                nodes = [details.node for details in field_details_list]
                info = self.build_resolve_info(field_def, nodes, parent_type, field_path)
            if any(item is not None and is_type_of(item, info) is not True for item in items):
                return Undefined
        if plain.is_list and plain.item_non_null and any(item is None for item in items):
            return Undefined
        try:
            if not plain.is_list:
                completed = self.execute_fields(
                    plain.object_type, value, field_path, grouped_field_set, None
                )
            else:
                completed = self._complete_plain_items(
                    plain.object_type,
                    plain.item_type,
                    value,
                    field_path,
                    grouped_field_set,
                    field_details_list,
                )
        except Exception as raw_error:
            self.handle_field_error(raw_error, plain.return_type, field_details_list, field_path)
            return None
        if not self.is_awaitable(completed):
            return completed
        return self._guard(completed, plain.return_type, field_details_list, field_path)

    def complete_iterable_value(
        self,
        item_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Path,
        items: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's, taking the object fast path for a resolver's list of objects of one
        type (a user's tokens): checked as graphql-core checks each item, then each item's
        selection runs directly."""
        object_type = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        middleware = self.middleware_manager
        if (
            not isinstance(object_type, GraphQLObjectType)
            or not isinstance(items, list | tuple)
            or position_context is not None
            or field_details_list[0].node.directives  # @stream, or @include/@skip: rare
            or (middleware is not None and middleware.middlewares)
        ):
            return super().complete_iterable_value(
                item_type, field_details_list, info, path, items, position_context
            )
        collected = self.collect_subfields(object_type, field_details_list)
        is_type_of = object_type.is_type_of
        if (
            collected[1]
            or (
                is_type_of is not None
                and any(item is not None and is_type_of(item, info) is not True for item in items)
            )
            or (isinstance(item_type, GraphQLNonNull) and any(item is None for item in items))
        ):
            return super().complete_iterable_value(
                item_type, field_details_list, info, path, items, position_context
            )
        return self._complete_plain_items(
            object_type, item_type, items, path, collected[0], field_details_list
        )

    def _complete_plain_items(
        self,
        object_type: GraphQLObjectType,
        item_type: GraphQLOutputType,
        items: list[Any] | tuple[Any, ...],
        field_path: Path,
        grouped_field_set: Any,
        field_details_list: Any,
    ) -> Any:
        """graphql-core's `complete_iterable_value` for a list of one object type."""
        completed: list[Any] = []
        pending: list[int] = []
        is_awaitable = self.is_awaitable
        selection = self._selection(object_type, grouped_field_set)
        steps, plan = selection.steps, self._plan_of(object_type, selection, len(items))
        try:
            for index, item in enumerate(items):
                if item is None:
                    completed.append(None)
                    continue
                if plan is not None:
                    values = plan(item)
                    if values is not None:
                        completed.append(values)
                        continue
                item_path = Path(field_path, index, None)
                try:
                    value = self._execute_steps(object_type, item, item_path, steps, None)
                except Exception as raw_error:
                    self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                    value = None
                if is_awaitable(value):
                    value = self._guard(value, item_type, field_details_list, item_path)
                    pending.append(index)
                completed.append(value)
        except Exception:
            if pending:
                self.settle_in_background([completed[index] for index in pending])
            raise
        if not pending:
            return completed

        async def get_completed() -> list[Any]:
            awaited = await gather_with_cancel(*(completed[index] for index in pending))
            for index, value in zip(pending, awaited, strict=True):
                completed[index] = value
            return completed

        return get_completed()

    async def _guard(
        self,
        completing: Awaitable[Any],
        return_type: GraphQLOutputType,
        field_details_list: Any,
        path: Path,
    ) -> Any:
        """Await a completion as graphql-core does: an error is the field's (or item's)."""
        try:
            return await completing
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
