"""Field permissions that show in the SDL: `@requires(action: ..., anyOf: [...])`.

`requires(Action.X)` gives a field the strawberry PermissionExtension whose permission asks
the policy (so the check and the directive come from the same rules), and whose schema
directive lists who holds the action, e.g. `anyOf: ["TeamRole.ADMIN", "TeamRole.DEVELOPER:OWN"]`
(`:OWN`: only on the caller's own objects; `MEMBER`: every member; `PUBLIC`: everyone).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import strawberry
from strawberry.extensions.field_extension import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.schema_directive import Location

from accessgraph.auth.policy import (
    Action,
    Policy,
    Resource,
    default_policy,
    refuse_regardless,
    require,
)

_DOCUMENTED_BY = default_policy()


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requires",
    description="Who may use this field: the policy action it checks, and who holds it.",
)
class RequiresDirective:
    action: str
    any_of: list[str]


# Finds the resource a field's check is about: its parent object, or the object its input
# names. None: there is no such object for this caller (the resolver answers NOT_FOUND).
Locator = Callable[[Any, strawberry.Info, dict[str, Any]], Awaitable[Resource | None]]


class PolicyPermission(BasePermission):
    def __init__(self, action: Action, policy: Policy = _DOCUMENTED_BY) -> None:
        self.action = action
        self._directive = RequiresDirective(action=action.value, any_of=policy.holders(action))

    @property
    def schema_directive(self) -> object:
        return self._directive

    def has_permission(self, source: Any, info: strawberry.Info, **kwargs: Any) -> bool:
        context = info.context
        # Raises UNAUTHENTICATED or FORBIDDEN, with the policy's reason.
        require(context.services.policy, context.principal, self.action)
        return True


class LocatedPolicyPermission(PolicyPermission):
    """The same check, decided on one resource: the field's parent object or the object its
    input names (e.g. a subscription, where the caller's role in it decides)."""

    def __init__(self, action: Action, locate: Locator) -> None:
        super().__init__(action)
        self._locate = locate

    async def has_permission(  # type: ignore[override]
        self, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> bool:
        context = info.context
        policy, principal = context.services.policy, context.principal
        resource = await self._locate(source, info, kwargs)
        if resource is None:
            # No such object for this caller: the resolver answers NOT_FOUND (or null), unless
            # the caller may not do this at all (a read-only token writing, say).
            refuse_regardless(policy, principal, self.action)
            return True
        require(policy, principal, self.action, resource)
        return True


def requires(action: Action, locate: Locator | None = None) -> list[FieldExtension]:
    """The field's permission: `action`, decided on the resource `locate` finds, if given."""
    permission = (
        PolicyPermission(action) if locate is None else LocatedPolicyPermission(action, locate)
    )
    return [PermissionExtension(permissions=[permission], use_directives=True)]
