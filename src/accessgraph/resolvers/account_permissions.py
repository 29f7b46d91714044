"""Account permissions (R33): admins grant individual users "invite and modify accounts",
"billing" and "create and modify projects"; the policy (`AccountPermissionGrants`) makes the
matching operations respect them on the user's very next request.

An admin never grants one to themselves: BILLING opens the billing details that R22 keeps from
team admins, so it takes a second admin, and every grant and revocation is audited.
"""

from __future__ import annotations

from accessgraph.auth.policy import Action, require
from accessgraph.auth.principal import Principal
from accessgraph.db import lock_organization
from accessgraph.errors import Rejected
from accessgraph.models import AccountPermission, User
from accessgraph.resolvers import audit
from accessgraph.resolvers.actors import require_now
from accessgraph.resolvers.users import load_live_user
from accessgraph.services import Services


async def set_account_permission(
    services: Services,
    principal: Principal,
    user_id: int,
    name: str,
    *,
    granted: bool,
) -> User:
    """Grants (`granted`) or revokes one permission; doing what is already so changes nothing
    and records nothing."""
    require(services.policy, principal, Action.MANAGE_ACCOUNT_PERMISSIONS)
    permission = _known(name)
    assert principal.org_id is not None
    now = services.clock.now()
    async with services.db.write() as session:
        await lock_organization(session, principal.org_id)
        user = await load_live_user(session, principal.org_id, user_id)
        await require_now(services, session, principal, Action.MANAGE_ACCOUNT_PERMISSIONS, user)
        if granted and user.id == principal.user_id:
            raise Rejected(
                "SELF_GRANT",
                "Another admin grants you account permissions (R33): nobody grants their own.",
                ["userId"],
            )
        before = sorted(user.account_permissions)
        after = set(before) | {permission.value} if granted else set(before) - {permission.value}
        if sorted(after) == before:
            return user
        user.account_permissions = sorted(after)
        session.add(user)
        audit.record(
            session,
            principal,
            "account_permission.grant" if granted else "account_permission.revoke",
            org_id=principal.org_id,
            now=now,
            target=user,
            before={"accountPermissions": before},
            after={"accountPermissions": user.account_permissions},
        )
    return user


def _known(name: str) -> AccountPermission:
    try:
        return AccountPermission(name.strip().upper())
    except ValueError:
        known = ", ".join(p.value for p in AccountPermission)
        raise Rejected(
            "UNKNOWN_PERMISSION", f"No account permission {name!r}: one of {known}.", ["permission"]
        ) from None
