"""Assembles Query and Mutation from the domain modules, with the schema's extensions."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from accessgraph.faults import MaskErrorsKeepingOutages
from accessgraph.schema.access import AccessMutations, AccessQueries
from accessgraph.schema.audit import AuditQueries
from accessgraph.schema.base import Node
from accessgraph.schema.context import Context
from accessgraph.schema.device_settings import DeviceSettingsMutations, DeviceSettingsQueries
from accessgraph.schema.devices import DeviceMutations, DeviceQueries
from accessgraph.schema.execution import Executor
from accessgraph.schema.inputs import build_inputs_in_one_step
from accessgraph.schema.limits import (
    IntrospectionForMembers,
    max_directives_rule,
    query_cost,
    query_cost_limiter,
)
from accessgraph.schema.node import resolve_node
from accessgraph.schema.organization import OrganizationMutations, OrganizationQueries
from accessgraph.schema.prepared import PreparedQueries
from accessgraph.schema.projects import ProjectMutations, ProjectQueries
from accessgraph.schema.subscriptions import (
    BYTES_SCALAR,
    Bytes,
    SubscriptionMutations,
    SubscriptionQueries,
)
from accessgraph.schema.tokens import TokenMutations, TokenQueries
from accessgraph.schema.users import UserMutations, UserQueries
from accessgraph.settings import Limits

log = logging.getLogger("accessgraph.graphql")


@strawberry.type
class Query(
    OrganizationQueries,
    UserQueries,
    TokenQueries,
    SubscriptionQueries,
    AccessQueries,
    ProjectQueries,
    DeviceQueries,
    DeviceSettingsQueries,
    AuditQueries,
):
    @strawberry.field(description="Any object by its global ID, if you may see it.")
    async def node(self, info: strawberry.Info[Context, None], id: strawberry.ID) -> Node | None:
        return await resolve_node(info, id)


@strawberry.type
class Mutation(
    OrganizationMutations,
    UserMutations,
    TokenMutations,
    SubscriptionMutations,
    AccessMutations,
    ProjectMutations,
    DeviceMutations,
    DeviceSettingsMutations,
):
    pass


def is_unexpected(error: GraphQLError) -> bool:
    """Errors raised by our code on purpose are GraphQLErrors; anything else is a bug."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


_SUGGESTION = re.compile(r"\s*Did you mean .*\?$", re.DOTALL)


class AccessGraphSchema(strawberry.Schema):
    # Production: validation errors name no fields, arguments or types the caller did not
    # write ("Did you mean ...?" would map the schema for someone without introspection).
    hide_suggestions = False
    # Queries whose document strawberry's path parsed and validated run straight on
    # graphql-core (schema/prepared.py); None: every operation takes strawberry's path.
    prepared_queries: PreparedQueries | None = None

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        queries = self.prepared_queries
        if queries is not None:
            prepared = queries.find(
                query,
                operation_name,
                variable_values,
                allowed_operation_types,
                operation_extensions,
            )
            if prepared is not None:
                return await queries.run(
                    self, prepared, variable_values, context_value, root_value, operation_name
                )
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed_operation_types,
            operation_extensions,
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors (FORBIDDEN, validation) are the client's business, not the log's;
        # unexpected ones are logged with their traceback before MaskErrors hides them.
        for error in errors:
            if self.hide_suggestions:
                error.message = _SUGGESTION.sub("", error.message)
            if is_unexpected(error):
                log.error("unexpected error at %s", error.path, exc_info=error.original_error)


def build_schema(
    limits: Limits | None = None, *, production: bool = False, **overrides: Any
) -> strawberry.Schema:
    """The schema; `production` hides suggestions and keeps introspection for signed-in
    callers."""
    limits = limits or Limits()
    # The limit rules are classes built once per schema: the validation cache is keyed by the
    # rules, so rule classes made per request would make every validation a miss.
    rules = [
        *QueryDepthLimiter(max_depth=limits.max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=limits.max_aliases).validation_rules,
        max_directives_rule(limits.max_directives),
    ]
    cost_limiter = query_cost_limiter(limits.max_query_cost)
    masking = MaskErrorsKeepingOutages(should_mask_error=is_unexpected)
    prepared = PreparedQueries(
        cost=lambda document, name, variables: query_cost(
            schema._schema, document, name, variables
        ),
        cost_limit=limits.max_query_cost,
        masking=masking,
    )
    schema = AccessGraphSchema(
        query=Query,
        mutation=Mutation,
        extensions=[
            # Factories: a fresh extension per operation (they keep per-operation state);
            # the parser and validation caches live at module level and persist.
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(max_token_count=limits.max_tokens),
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            cost_limiter,
            *([IntrospectionForMembers] if production else []),
            lambda: MaskErrorsKeepingOutages(should_mask_error=is_unexpected),
            # Last: sees only operations that every rule above let through to execution.
            *([prepared.learner] if not overrides else []),
        ],
        config=StrawberryConfig(scalar_map={Bytes: BYTES_SCALAR}),
        **{"execution_context_class": Executor, **overrides},
    )
    schema.hide_suggestions = production
    build_inputs_in_one_step(schema)
    if not overrides:  # overrides (tests) may change what execution is: strawberry's path
        schema.prepared_queries = prepared
    return schema
