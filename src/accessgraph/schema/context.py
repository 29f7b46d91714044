"""The typed per-request context (strawberry.Info[Context, None]); no dict contexts."""

from __future__ import annotations

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
