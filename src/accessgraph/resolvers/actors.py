"""The caller as of now, inside a write transaction.

The principal is read when the request arrives; a concurrent demotion or deletion may land
before the request's transaction does. Writes re-read the actor's row (after taking any lock)
and decide with its current role, so a just-demoted admin cannot finish an admin action.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.ext.asyncio import AsyncSession

from accessgraph.auth.policy import Action, Decision, Resource, require
from accessgraph.auth.principal import Principal, account_permissions_of
from accessgraph.errors import unauthenticated
from accessgraph.models import User, UserStatus
from accessgraph.services import Services


async def refreshed(session: AsyncSession, principal: Principal) -> Principal:
    if principal.user_id is None:
        return principal
    user = await session.get(User, principal.user_id, populate_existing=True)
    if user is None or user.deleted_at is not None or user.status != UserStatus.ACTIVE:
        raise unauthenticated("Your account is no longer active.")
    return replace(principal, role=user.role, account_permissions=account_permissions_of(user))


async def require_now(
    services: Services,
    session: AsyncSession,
    principal: Principal,
    action: Action,
    resource: Resource | None = None,
) -> Decision:
    """`require`, decided on the actor's current row within this transaction."""
    return require(services.policy, await refreshed(session, principal), action, resource)
