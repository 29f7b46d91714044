"""The typed per-request context (strawberry.Info[Context, None]); no dict contexts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from accessgraph.auth.policy import Action, Resource
from accessgraph.auth.principal import Principal
from accessgraph.resolvers.loaders import Loaders
from accessgraph.services import Services


@dataclass
class Context:
    services: Services
    principal: Principal
    request: Request | None
    response: Response | None
    # One "now" per request, so every status in one answer is computed at the same instant.
    now: datetime
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services, self.principal)

    def can(self, action: Action, resource: Resource | None = None) -> bool:
        return self.services.policy.decide(self.principal, action, resource).allowed

    def can_on_row(
        self,
        action: Action,
        kind: type,
        org_id: int | None,
        resource: Callable[[], Resource],
        *,
        owner_id: int | None,
    ) -> bool:
        """`can(action, resource())` for a page's row of model class `kind`: the policy's
        decision about resources alike when it has one (`Policy.decided`), so that a page's
        rows need no model each; else the policy decides on the model `resource` makes."""
        policy = self.services.policy
        decision = policy.decided(self.principal, action, kind, org_id, owner_id=owner_id)
        if decision is None:
            decision = policy.decide(self.principal, action, resource())
        return decision.allowed
