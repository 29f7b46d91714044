"""The audit log (R35), newest first; admins only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from accessgraph import models
from accessgraph.auth.directives import requires
from accessgraph.auth.policy import Action
from accessgraph.resolvers import audit
from accessgraph.resolvers.pagination import PageArgs
from accessgraph.schema.base import Connection, Node, from_global_id, parse_global_id, to_global_id
from accessgraph.schema.context import Context
from accessgraph.schema.users import User, load_user

Info = strawberry.Info[Context, None]

# Stored target types (table classes) and their API type names, both ways.
_TYPE_NAMES = {
    "User": "User",
    "AccessToken": "Token",
    "Organization": "Organization",
    "Subscription": "BillingSubscription",
}
_STORED_TYPES = {api: stored for stored, api in _TYPE_NAMES.items()}


@strawberry.type(description="One change to access: who, what, when, before and after.")
class AuditEvent(Node):
    action: str = strawberry.field(description='e.g. "user.invite", "token.revoke".')
    actor_label: str = strawberry.field(description="Who acted, as recorded at the time.")
    via_token_id: strawberry.ID | None = strawberry.field(description="The token used, if any.")
    target_type: str
    target_id: strawberry.ID | None
    target_label: str
    before: JSON | None
    after: JSON | None
    created_at: datetime
    _actor_user_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, event: models.AuditEvent) -> AuditEvent:
        assert event.id is not None
        type_name = _TYPE_NAMES.get(event.target_type, event.target_type)
        return cls(
            id=strawberry.ID(to_global_id("AuditEvent", event.id)),
            action=event.action,
            actor_label=event.actor_label,
            via_token_id=strawberry.ID(to_global_id("Token", event.actor_token_id))
            if event.actor_token_id
            else None,
            target_type=type_name,
            target_id=strawberry.ID(to_global_id(type_name, event.target_id))
            if event.target_id
            else None,
            target_label=event.target_label,
            before=cast(JSON, event.before),
            after=cast(JSON, event.after),
            created_at=event.created_at,
            _actor_user_id=event.actor_user_id,
        )

    @strawberry.field(description="The user who acted (null for the operator).")
    async def actor(self, info: Info) -> User | None:
        return await load_user(info.context, self._actor_user_id)


@strawberry.input
class AuditEventFilter:
    action: str | None = None
    actor_id: strawberry.ID | None = None
    target_id: strawberry.ID | None = None
    since: datetime | None = None
    until: datetime | None = None


@strawberry.type
class AuditQueries:
    @strawberry.field(extensions=requires(Action.VIEW_AUDIT_EVENTS))
    async def audit_events(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: AuditEventFilter | None = None,
    ) -> Connection[AuditEvent] | None:
        ctx = info.context
        assert ctx.principal.org_id is not None
        flt = filter or AuditEventFilter()
        target = _target(flt.target_id)
        page = await audit.list_events(
            ctx.services.db,
            ctx.principal.org_id,
            audit.AuditFilter(
                action=flt.action,
                actor_user_id=(from_global_id(flt.actor_id, "User") or 0) if flt.actor_id else None,
                target_type=target[0] if target else None,
                target_id=target[1] if target else None,
                since=_as_utc(flt.since),
                until=_as_utc(flt.until),
            ),
            PageArgs(first=first, after=after, last=last, before=before),
        )
        return Connection.of(page, AuditEvent.of)


def _as_utc(value: datetime | None) -> datetime | None:
    """Filters read a date-time without an offset as UTC (the API's only timezone)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _target(global_id: strawberry.ID | None) -> tuple[str, int] | None:
    if global_id is None:
        return None
    parsed = parse_global_id(global_id)
    if parsed is None:
        return ("?", 0)
    stored = _STORED_TYPES.get(parsed[0], parsed[0])
    return stored, parsed[1]
