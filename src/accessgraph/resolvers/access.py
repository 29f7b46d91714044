"""`checkAccess` (R34): may this principal do this action on this resource, and why?

The subject is the caller, or (for admins) any user, group, token or the anonymous user. The
answer comes from the one policy engine: the team role (admins administer everything),
permission targets (directly, through groups, or to the anonymous user) and, for a resource in
a project, the roles held there in its environment (R30), capped by a token's permission (R14)
and confined by a subscription token. Cost: the caller's authentication, one
read of the organization's access version, and one read of the subject when it is not the
caller, whatever the number of targets and groups.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlmodel import col

from accessgraph.auth.access import (
    PROJECT_ACTIONS_BY_TYPE,
    AccessIndex,
    ArtifactAction,
    actions_for_type,
)
from accessgraph.auth.policy import DENIED, Action, ArtifactResource, Decision, Scope, require
from accessgraph.auth.principal import Principal
from accessgraph.errors import ExposedError
from accessgraph.models import AccessToken, Environment, Group, ResourceType, TokenStatus, User
from accessgraph.models.permission_target import RESOURCE_NAME_MAX
from accessgraph.resolvers.pagination import BAD_USER_INPUT
from accessgraph.resolvers.validation import has_control
from accessgraph.services import Services


@dataclass(frozen=True, slots=True)
class CheckInput:
    action: str
    resource_type: ResourceType
    resource_name: str
    project_key: str | None = None
    environment: Environment | None = None
    user_id: int | None = None
    group_id: int | None = None
    token_id: int | None = None
    anonymous: bool = False


@dataclass(frozen=True, slots=True)
class CheckResult:
    decision: Decision
    action: ArtifactAction
    subject: str  # who was asked about, for the answer's `subject`


def _bad(message: str) -> ExposedError:
    return ExposedError(message, BAD_USER_INPUT)


def _action(data: CheckInput) -> ArtifactAction:
    try:
        action = ArtifactAction(data.action.strip().upper())
    except ValueError:
        raise _bad(
            f"Unknown action {data.action!r}; one of {', '.join(a.value for a in ArtifactAction)}."
        ) from None
    if action not in actions_for_type(data.resource_type):
        raise _bad(f"{action.value} does not apply to {data.resource_type.value} resources.")
    return action


async def _subject(
    services: Services, caller: Principal, data: CheckInput
) -> tuple[Principal, str]:
    """The principal asked about. You may ask about yourself (no principal, your own userId, or
    a token you own); asking about anyone else is for admins. Someone else's token is "not
    found" to a non-admin, so token IDs cannot be probed."""
    named = [data.user_id is not None, data.group_id is not None, data.token_id is not None]
    if sum(named) + data.anonymous > 1:
        raise _bad("Ask about one principal: userId, groupId, tokenId or anonymous.")
    require(services.policy, caller, Action.CHECK_ACCESS)
    if not any(named) and not data.anonymous:
        return caller, caller.label
    others = services.policy.decide(caller, Action.CHECK_ACCESS_OF_OTHERS).allowed
    about_self = data.user_id is not None and data.user_id == caller.user_id
    if not others and not about_self and data.token_id is None:
        require(services.policy, caller, Action.CHECK_ACCESS_OF_OTHERS)
    org_id = caller.org_id
    if data.anonymous:
        return Principal(org_id=org_id), "anonymous"
    async with services.db.session() as session:
        if data.group_id is not None:
            group = await session.get(Group, data.group_id)
            if group is None or group.org_id != org_id:
                raise ExposedError("Group not found.", "NOT_FOUND")
            return Principal(org_id=org_id, group_id=group.id), f"group {group.name}"
        if data.user_id is not None:
            user = await session.get(User, data.user_id)
            if user is None or user.org_id != org_id or user.deleted_at is not None:
                raise ExposedError("User not found.", "NOT_FOUND")
            return _user_principal(user), user.email
        row = (
            await session.execute(
                select(AccessToken, User)
                .join(User, col(User.id) == col(AccessToken.owner_id))
                .where(col(AccessToken.id) == data.token_id)
            )
        ).first()
    if row is None or row[0].org_id != org_id or not (others or row[0].owner_id == caller.user_id):
        raise ExposedError("Token not found.", "NOT_FOUND")
    token, owner = row
    status = token.status_at(services.clock.now())
    if status != TokenStatus.ACTIVE or owner.deleted_at is not None:
        # A revoked or expired token (or one whose owner is gone) can do nothing (R15).
        return Principal(), f"token {token.username} ({status.value.lower()})"
    principal = replace(
        _user_principal(owner),
        token_id=token.id,
        token_permission=token.permission,
        token_subscription_id=token.subscription_id,
    )
    return principal, f"token {token.username}"


def _user_principal(user: User) -> Principal:
    return Principal(org_id=user.org_id, user_id=user.id, role=user.role, email=user.email)


async def check_access(
    services: Services, caller: Principal, data: CheckInput, *, trust_caller_version: bool = False
) -> CheckResult:
    action = _action(data)
    name = data.resource_name.strip()
    if not name or len(name) > RESOURCE_NAME_MAX or has_control(name):
        raise _bad(f"Name the resource: 1 to {RESOURCE_NAME_MAX} printable characters.")
    subject, label = await _subject(services, caller, data)
    if subject.org_id is None:  # a dead token: nothing to evaluate
        return CheckResult(
            Decision(False, Scope.NONE, "The token is revoked or expired."), action, label
        )
    # The version read with the caller's credential is current for this request unless the
    # request wrote since: only a query (no writes) may pass it.
    same_org = subject.org_id == caller.org_id
    known = caller.access_version if trust_caller_version and same_org else None
    index = await services.access_indexes.current(services.db, subject.org_id, known)
    project_key, environment = _placement(index, data, name)
    resource = ArtifactResource(
        subject.org_id, data.resource_type, name, index, environment, project_key
    )
    decision = services.policy.decide(subject, action, resource)
    if not decision.allowed and not decision.unauthenticated:
        decision = replace(decision, reason=_why_not(decision, action, data, label))
    return CheckResult(decision, action, label)


def _placement(
    index: AccessIndex, data: CheckInput, name: str
) -> tuple[str | None, Environment | None]:
    """The project and environment the resource is in: those it was registered with (so a
    registry may ask by name alone), or those the input gives for an unregistered one. An input
    that contradicts the registration is an error rather than an answer about another place."""
    asked_key = data.project_key.strip().lower() if data.project_key is not None else None
    registered = index.project_resources.get((data.resource_type, name))
    if registered is not None:
        key, environment = registered
        if (asked_key is not None and asked_key != key) or (
            data.environment is not None and data.environment.value != environment
        ):
            raise _bad(
                f"{data.resource_type.value} {name!r} is registered in project {key!r}, "
                f"environment {environment}."
            )
        return key, Environment(environment)
    if asked_key is None:
        return None, data.environment
    if data.resource_type not in PROJECT_ACTIONS_BY_TYPE:
        raise _bad(
            f"A {data.resource_type.value} is never in a project (R29); leave out projectKey."
        )
    if asked_key not in index.projects:
        raise ExposedError(f"No project {asked_key!r}.", "NOT_FOUND")
    if data.environment is None:
        raise _bad("Give the environment (DEV or PROD) of a resource in a project.")
    return asked_key, data.environment


def _why_not(decision: Decision, action: ArtifactAction, data: CheckInput, label: str) -> str:
    """A denial a person can act on ("why can't I deploy here?", R34)."""
    if decision.reason != DENIED:
        return decision.reason  # a cap: read-only token, scoped token, other organization
    return (
        f"No grant allows {action.value} on {data.resource_type.value} "
        f"{data.resource_name.strip()!r} for {label}: no permission target covering it, and "
        "no role they hold in its project in its environment, grants it to them, their groups "
        "or the anonymous user."
    )
