"""Prepared queries: a query document already parsed and validated runs straight on
graphql-core (issue 8).

Every operation through strawberry's `Schema.execute` builds an execution context, a fresh
instance of each schema extension, and runs their hooks around parsing, validation and
execution: ~100 µs of CPU per request, a fifth of a `checkAccess`. Yet for a document seen
before, parsing and validation can only repeat their answer (they depend on the document and
the schema alone): the parser and validation caches already return it. So once strawberry's
own path has parsed and validated a query document without error under every rule (the
`Learner` extension, last in the list, sees its execution start), later requests with the same
text run graphql-core's `execute` with our `Executor`, as strawberry calls it, and do by hand
what the execution-time extensions do:

- `QueryCostLimiter`: the cost is computed for each request's variables (`query_cost`); over
  the limit, the request takes strawberry's path, which refuses it with QUERY_TOO_COSTLY;
- `MaskErrorsKeepingOutages`: `Schema.process_errors` logs, then unexpected errors are masked,
  in strawberry's order.

Everything else takes strawberry's path, every time: mutations and subscriptions, a query where
the request allows none (never, today), documents that introspect (`__schema`, `__type`: in
production `IntrospectionForMembers` decides per caller) or use `@defer`/`@stream`, requests
with `extensions`, and any schema built with other extensions than the ones named here (a
test, `test_the_prepared_path_knows_every_schema_extension`, fails when `build_schema`'s list
changes). Authorization is
untouched: it lives on the fields, which run the same resolvers and permission extensions.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    execute,
)
from graphql import (
    ExecutionResult as GraphQLExecutionResult,
)
from strawberry.execution import optimized_is_awaitable
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType as AllowedType
from strawberry.utils.await_maybe import await_maybe

from accessgraph.schema.limits import INTROSPECTION_FIELDS, mentions

SIZE = 256  # documents kept, as the parser and validation caches keep
_UNPREPARABLE_DIRECTIVES = frozenset({"defer", "stream"})


class Prepared:
    """One document's parse, and the type of each of its operations by name."""

    __slots__ = ("document", "operations")

    def __init__(self, document: DocumentNode) -> None:
        self.document = document
        self.operations: dict[str | None, OperationType] = {}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        for operation in operations:
            if operation.name is not None:
                self.operations[operation.name.value] = operation.operation
        if len(operations) == 1:  # no name needed: graphql-core picks the only one
            self.operations[None] = operations[0].operation


class PreparedQueries:
    """The documents learned, most recently used last; the way to run one."""

    def __init__(
        self,
        cost: Callable[[DocumentNode, str | None, dict[str, Any] | None], int],
        cost_limit: int,
        masking: MaskErrors,
    ) -> None:
        self._documents: OrderedDict[str, Prepared] = OrderedDict()
        self._cost = cost
        self._cost_limit = cost_limit
        self._masking = masking  # the schema's MaskErrors: what it masks, and how

    def learner(self) -> SchemaExtension:
        return Learner(self)

    def learn(self, query: str, document: DocumentNode) -> None:
        if query in self._documents or not _preparable(document):
            return
        if len(self._documents) >= SIZE:
            self._documents.popitem(last=False)
        self._documents[query] = Prepared(document)

    def find(
        self,
        query: str | None,
        operation_name: str | None,
        variables: dict[str, Any] | None,
        allowed: Iterable[AllowedType] | None,
        operation_extensions: dict[str, Any] | None,
    ) -> Prepared | None:
        """The prepared document this request may run, or None for strawberry's path."""
        if query is None or operation_extensions:
            return None
        prepared = self._documents.get(query)
        if prepared is None:
            return None
        if prepared.operations.get(operation_name) is not OperationType.QUERY:
            return None
        if allowed is not None and AllowedType.QUERY not in allowed:  # None: strawberry's default,
            return None  # queries, mutations and subscriptions
        if self._cost(prepared.document, operation_name, variables) > self._cost_limit:
            return None
        self._documents.move_to_end(query)
        return prepared

    async def run(
        self,
        schema: Any,  # AccessGraphSchema (not imported: it imports this module)
        prepared: Prepared,
        variables: dict[str, Any] | None,
        context_value: Any,
        root_value: Any,
        operation_name: str | None,
    ) -> ExecutionResult:
        """graphql-core's execution, as strawberry's `_execute_operation` calls it."""
        try:
            result: GraphQLExecutionResult = await await_maybe(
                execute(
                    schema._schema,
                    prepared.document,
                    root_value=root_value,
                    middleware=None,
                    variable_values=variables,
                    operation_name=operation_name,
                    context_value=context_value,
                    executor_class=schema.execution_context_class,
                    is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                    operation_extensions=None,
                )
            )
        except Exception as error:  # past graphql-core: strawberry answers it as an error too
            result = GraphQLExecutionResult(
                data=None, errors=[GraphQLError(str(error), original_error=error)]
            )
        errors = result.errors
        if errors:
            schema.process_errors(errors, None)  # logs, before masking: as strawberry does
            masking = self._masking
            errors = [
                masking.anonymise_error(e) if masking.should_mask_error(e) else e for e in errors
            ]
        return ExecutionResult(data=result.data, errors=errors or None, extensions={})


class Learner(SchemaExtension):
    """Last of the schema's extensions: an operation reaching execution on strawberry's path
    has parsed and validated without error; its document is remembered."""

    def __init__(self, queries: PreparedQueries) -> None:
        self._queries = queries

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.query is not None and context.graphql_document is not None:
            self._queries.learn(context.query, context.graphql_document)
        yield


def _preparable(document: DocumentNode) -> bool:
    return not mentions(document, fields=INTROSPECTION_FIELDS, directives=_UNPREPARABLE_DIRECTIVES)
