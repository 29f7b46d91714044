"""THE authorization engine: `Policy.decide(principal, action, resource) -> Decision`.

Every authorization answer in the service comes from here: the `@requires` directives on
schema fields, the `viewerCan...` booleans, the checks inside mutations and the scope of list
queries. Nothing else compares role names.

Rights come from *grant sources*: the team role matrix of R3, and the caller's role in a
subscription (R19, R22), which depends on the resource asked about. Later sources (permission
targets, project roles) implement the same `GrantSource` protocol and are added to the
`Policy`, so a decision always lists every grant that allowed it.

Four rules sit above every source:
- a resource of another organization is never allowed (R1);
- a READ_ONLY token is refused every action that writes (R14);
- a subscription's API token reaches that subscription's actions and nothing else;
- anonymous callers get only the actions marked public.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from accessgraph.auth.access import (
    ANONYMOUS_KEY,
    DEVICE_ACTIONS,
    AccessIndex,
    ArtifactAction,
    actions_in,
)
from accessgraph.auth.principal import Principal
from accessgraph.auth.projects import GlobalRole
from accessgraph.errors import forbidden, unauthenticated
from accessgraph.models.enums import (
    AccountPermission,
    Environment,
    ResourceType,
    SubscriptionRole,
    TeamRole,
)


class TeamPermission(StrEnum):
    """The rows of the R3 team permission matrix."""

    PUSH_PULL_ARTIFACTS = "PUSH_PULL_ARTIFACTS"
    VIEW_ARTIFACTS = "VIEW_ARTIFACTS"
    MANAGE_WORKFLOWS = "MANAGE_WORKFLOWS"
    VIEW_USERS = "VIEW_USERS"
    CREATE_TOKENS = "CREATE_TOKENS"
    REVOKE_OWN_TOKENS = "REVOKE_OWN_TOKENS"
    INVITE_USERS = "INVITE_USERS"
    UPDATE_USER_ROLES = "UPDATE_USER_ROLES"
    DELETE_USERS = "DELETE_USERS"
    REVOKE_ANY_TOKENS = "REVOKE_ANY_TOKENS"
    MANAGE_TEAM_SETTINGS = "MANAGE_TEAM_SETTINGS"


TEAM_PERMISSION_DESCRIPTIONS: Mapping[TeamPermission, str] = {
    TeamPermission.PUSH_PULL_ARTIFACTS: "Push and pull artifacts",
    TeamPermission.VIEW_ARTIFACTS: "View artifacts and releases",
    TeamPermission.MANAGE_WORKFLOWS: "Manage workflows",
    TeamPermission.VIEW_USERS: "View the user list",
    TeamPermission.CREATE_TOKENS: "Create tokens",
    TeamPermission.REVOKE_OWN_TOKENS: "Revoke tokens they created",
    TeamPermission.INVITE_USERS: "Invite users",
    TeamPermission.UPDATE_USER_ROLES: "Update user roles",
    TeamPermission.DELETE_USERS: "Delete users",
    TeamPermission.REVOKE_ANY_TOKENS: "Revoke any user's tokens",
    TeamPermission.MANAGE_TEAM_SETTINGS: "Manage team settings",
}

_DEVELOPER = frozenset(
    {
        TeamPermission.PUSH_PULL_ARTIFACTS,
        TeamPermission.VIEW_ARTIFACTS,
        TeamPermission.MANAGE_WORKFLOWS,
        TeamPermission.VIEW_USERS,
        TeamPermission.CREATE_TOKENS,
        TeamPermission.REVOKE_OWN_TOKENS,
    }
)
# R3, exactly.
TEAM_ROLE_PERMISSIONS: Mapping[TeamRole, frozenset[TeamPermission]] = {
    TeamRole.ADMIN: frozenset(TeamPermission),
    TeamRole.DEVELOPER: _DEVELOPER,
}


class SubscriptionPermission(StrEnum):
    """What a subscription role holds on its subscription (R19, R22)."""

    VIEW_SUBSCRIPTION = "VIEW_SUBSCRIPTION"
    MANAGE_SUBSCRIPTION_MEMBERS = "MANAGE_SUBSCRIPTION_MEMBERS"
    VIEW_SUBSCRIPTION_USAGE = "VIEW_SUBSCRIPTION_USAGE"
    MANAGE_USAGE_NOTIFICATIONS = "MANAGE_USAGE_NOTIFICATIONS"
    VIEW_BILLING = "VIEW_BILLING"
    MANAGE_BILLING = "MANAGE_BILLING"
    VIEW_NETWORK = "VIEW_NETWORK"
    MANAGE_NETWORK = "MANAGE_NETWORK"
    VIEW_SUBSCRIPTION_TOKENS = "VIEW_SUBSCRIPTION_TOKENS"
    MANAGE_SUBSCRIPTION_TOKENS = "MANAGE_SUBSCRIPTION_TOKENS"


S = SubscriptionPermission
_EVERY_MEMBER = frozenset(
    {S.VIEW_SUBSCRIPTION, S.VIEW_SUBSCRIPTION_USAGE, S.MANAGE_USAGE_NOTIFICATIONS}
)
# R19 and R22, exactly: ADMIN is everything but managing API tokens (it views them).
SUBSCRIPTION_ROLE_PERMISSIONS: Mapping[SubscriptionRole, frozenset[SubscriptionPermission]] = {
    SubscriptionRole.PRIMARY_ADMIN: frozenset(SubscriptionPermission),
    SubscriptionRole.ADMIN: frozenset(SubscriptionPermission) - {S.MANAGE_SUBSCRIPTION_TOKENS},
    SubscriptionRole.FINANCE_MEMBER: _EVERY_MEMBER | {S.VIEW_BILLING, S.MANAGE_BILLING},
    SubscriptionRole.TECHNICAL_MEMBER: _EVERY_MEMBER
    | {S.VIEW_NETWORK, S.MANAGE_NETWORK, S.VIEW_SUBSCRIPTION_TOKENS},
}


class ProjectPermission(StrEnum):
    """What membership of a project holds on the project itself (R27-R30)."""

    VIEW_PROJECT = "VIEW_PROJECT"  # any role, directly or through a group
    ADMINISTER_PROJECT = "ADMINISTER_PROJECT"  # the PROJECT_ADMIN global role


PROJECT_ADMIN = GlobalRole.PROJECT_ADMIN.value

AP = AccountPermission
Permission = (
    TeamPermission | SubscriptionPermission | ArtifactAction | ProjectPermission | AccountPermission
)
_KINDS = (TeamPermission, SubscriptionPermission, ArtifactAction, ProjectPermission, AP)
# All are StrEnums and a held-permission map mixes them: their values must never collide.
assert len({p.value for kind in _KINDS for p in kind}) == sum(len(kind) for kind in _KINDS)


class Action(StrEnum):
    """What an operation asks to do. Each maps to a `Rule` below."""

    AUTHENTICATE = "AUTHENTICATE"  # login, logout, acceptInvitation: public, but they write
    VIEW_ORGANIZATION = "VIEW_ORGANIZATION"
    VIEW_TEAM_ROLES = "VIEW_TEAM_ROLES"
    VIEW_USERS = "VIEW_USERS"
    INVITE_USER = "INVITE_USER"
    UPDATE_USER_ROLE = "UPDATE_USER_ROLE"
    DELETE_USER = "DELETE_USER"
    VIEW_TOKENS = "VIEW_TOKENS"
    CREATE_TOKEN = "CREATE_TOKEN"
    REVOKE_TOKEN = "REVOKE_TOKEN"
    DELETE_TOKEN = "DELETE_TOKEN"
    MANAGE_TEAM_SETTINGS = "MANAGE_TEAM_SETTINGS"
    VIEW_AUDIT_EVENTS = "VIEW_AUDIT_EVENTS"
    LIST_SUBSCRIPTIONS = "LIST_SUBSCRIPTIONS"  # the list is filtered to what the caller sees
    # Decided on a SubscriptionResource (the caller's role in that subscription).
    VIEW_SUBSCRIPTION = "VIEW_SUBSCRIPTION"
    MANAGE_SUBSCRIPTION_MEMBERS = "MANAGE_SUBSCRIPTION_MEMBERS"
    VIEW_SUBSCRIPTION_USAGE = "VIEW_SUBSCRIPTION_USAGE"
    MANAGE_USAGE_NOTIFICATIONS = "MANAGE_USAGE_NOTIFICATIONS"
    VIEW_BILLING = "VIEW_BILLING"
    UPDATE_BILLING = "UPDATE_BILLING"
    VIEW_NETWORK = "VIEW_NETWORK"
    UPDATE_NETWORK = "UPDATE_NETWORK"
    VIEW_SUBSCRIPTION_TOKENS = "VIEW_SUBSCRIPTION_TOKENS"
    MANAGE_SUBSCRIPTION_TOKENS = "MANAGE_SUBSCRIPTION_TOKENS"
    # Groups, resources and permission targets (R23-R26).
    VIEW_GROUPS = "VIEW_GROUPS"
    MANAGE_ACCESS = "MANAGE_ACCESS"  # groups, resources, targets' resources and lifecycle
    LIST_PERMISSION_TARGETS = "LIST_PERMISSION_TARGETS"  # filtered to what the caller sees
    VIEW_RESOURCES = "VIEW_RESOURCES"  # the registered resources
    VIEW_PERMISSION_TARGETS = "VIEW_PERMISSION_TARGETS"
    EDIT_TARGET_GRANTS = "EDIT_TARGET_GRANTS"  # decided on a TargetResource (R25)
    CHECK_ACCESS = "CHECK_ACCESS"  # about yourself
    # Projects and global roles (R27, R28).
    LIST_PROJECTS = "LIST_PROJECTS"  # filtered to what the caller sees
    VIEW_ALL_PROJECTS = "VIEW_ALL_PROJECTS"
    MANAGE_PROJECTS = "MANAGE_PROJECTS"  # create projects
    VIEW_GLOBAL_ROLES = "VIEW_GLOBAL_ROLES"
    # Decided on a ProjectResource: admins, and the project's members / Project Admins.
    VIEW_PROJECT = "VIEW_PROJECT"
    ADMINISTER_PROJECT = "ADMINISTER_PROJECT"  # its roles, members, global role adjustments
    UPDATE_GLOBAL_ROLES = "UPDATE_GLOBAL_ROLES"
    CHECK_ACCESS_OF_OTHERS = "CHECK_ACCESS_OF_OTHERS"  # about any user, group, token, anonymous
    # R33: admins grant account permissions; granting the ADMIN team role (inviting or creating
    # an admin) and appointing Project Admins stay with admins, whatever else a user holds.
    MANAGE_ACCOUNT_PERMISSIONS = "MANAGE_ACCOUNT_PERMISSIONS"
    # Anyone, signed in or not, may hand in a credential found in the wild.
    REPORT_LEAKED_TOKEN = "REPORT_LEAKED_TOKEN"
    GRANT_ADMIN_ROLE = "GRANT_ADMIN_ROLE"
    APPOINT_PROJECT_ADMINS = "APPOINT_PROJECT_ADMINS"
    # Devices (R31, R32): decided on an ArtifactResource of type DEVICE in a project; each
    # checks exactly one device permission, which admins and project roles hold (advanced mode).
    MANAGE_DEVICE_GROUPS = "MANAGE_DEVICE_GROUPS"
    REGISTER_DEVICES = "REGISTER_DEVICES"
    MODIFY_DEVICES = "MODIFY_DEVICES"
    REMOTE_CONTROL = "REMOTE_CONTROL"
    VIEW_DEVICE_LOGS = "VIEW_DEVICE_LOGS"
    CREATE_UPDATES = "CREATE_UPDATES"
    DEPLOY_UPDATES = "DEPLOY_UPDATES"
    MANAGE_COMMANDS = "MANAGE_COMMANDS"
    RUN_COMMANDS = "RUN_COMMANDS"
    MANAGE_DATA_MONITOR = "MANAGE_DATA_MONITOR"
    MANAGE_PROCESS_MONITOR = "MANAGE_PROCESS_MONITOR"
    MANAGE_ALERTS = "MANAGE_ALERTS"
    MODIFY_ENGINE_SETTINGS = "MODIFY_ENGINE_SETTINGS"


DENIED = "You do not have permission to do this."
_CONFINED = "This token is scoped to one subscription and reaches nothing else."


class Scope(StrEnum):
    """How much of a kind of resource an allowed action reaches."""

    ALL = "ALL"
    OWN = "OWN"  # only resources the caller owns (e.g. tokens they created)
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class Rule:
    any_of: tuple[Permission, ...] = ()  # any one of these reaches every resource
    own: tuple[Permission, ...] = ()  # any one of these reaches the caller's own resources
    writes: bool = False
    public: bool = False  # allowed without authentication
    any_member: bool = False  # allowed to every authenticated member
    subscription: bool = False  # about one subscription: a subscription token may use it
    credentials: bool = False  # creates or revokes credentials: never by a subscription token


P = TeamPermission
RULES: Mapping[Action, Rule] = {
    Action.AUTHENTICATE: Rule(public=True, writes=True),
    Action.REPORT_LEAKED_TOKEN: Rule(public=True),
    Action.VIEW_ORGANIZATION: Rule(any_member=True),
    Action.VIEW_TEAM_ROLES: Rule(any_member=True),
    Action.VIEW_USERS: Rule(any_of=(P.VIEW_USERS,)),
    Action.INVITE_USER: Rule(any_of=(P.INVITE_USERS, AP.INVITE_AND_MODIFY_ACCOUNTS), writes=True),
    Action.UPDATE_USER_ROLE: Rule(any_of=(P.UPDATE_USER_ROLES,), writes=True),
    Action.DELETE_USER: Rule(any_of=(P.DELETE_USERS,), writes=True),
    # Tokens are visible to whoever may revoke them: admins all, developers their own.
    Action.VIEW_TOKENS: Rule(any_of=(P.REVOKE_ANY_TOKENS,), own=(P.REVOKE_OWN_TOKENS,)),
    Action.CREATE_TOKEN: Rule(any_of=(P.CREATE_TOKENS,), writes=True),
    Action.REVOKE_TOKEN: Rule(
        any_of=(P.REVOKE_ANY_TOKENS,), own=(P.REVOKE_OWN_TOKENS,), writes=True
    ),
    # R16: who may delete follows who may revoke.
    Action.DELETE_TOKEN: Rule(
        any_of=(P.REVOKE_ANY_TOKENS,), own=(P.REVOKE_OWN_TOKENS,), writes=True
    ),
    Action.MANAGE_TEAM_SETTINGS: Rule(any_of=(P.MANAGE_TEAM_SETTINGS,), writes=True),
    # The audit trail is part of the team's settings: admins only (R35).
    Action.VIEW_AUDIT_EVENTS: Rule(any_of=(P.MANAGE_TEAM_SETTINGS,)),
    Action.LIST_SUBSCRIPTIONS: Rule(any_member=True, subscription=True),
    # Members see their subscription; the organization's admins see that it exists, its plan
    # and who its members are (oversight: whom to ask), never the fields R22 protects.
    Action.VIEW_SUBSCRIPTION: Rule(
        any_of=(S.VIEW_SUBSCRIPTION, P.MANAGE_TEAM_SETTINGS, AP.BILLING), subscription=True
    ),
    Action.MANAGE_SUBSCRIPTION_MEMBERS: Rule(
        any_of=(S.MANAGE_SUBSCRIPTION_MEMBERS,), writes=True, subscription=True
    ),
    Action.VIEW_SUBSCRIPTION_USAGE: Rule(any_of=(S.VIEW_SUBSCRIPTION_USAGE,), subscription=True),
    Action.MANAGE_USAGE_NOTIFICATIONS: Rule(
        any_of=(S.MANAGE_USAGE_NOTIFICATIONS,), writes=True, subscription=True
    ),
    # R33: the BILLING account permission reaches every subscription's billing details.
    Action.VIEW_BILLING: Rule(any_of=(S.VIEW_BILLING, AP.BILLING), subscription=True),
    Action.UPDATE_BILLING: Rule(
        any_of=(S.MANAGE_BILLING, AP.BILLING), writes=True, subscription=True
    ),
    Action.VIEW_NETWORK: Rule(any_of=(S.VIEW_NETWORK,), subscription=True),
    Action.UPDATE_NETWORK: Rule(any_of=(S.MANAGE_NETWORK,), writes=True, subscription=True),
    Action.VIEW_SUBSCRIPTION_TOKENS: Rule(any_of=(S.VIEW_SUBSCRIPTION_TOKENS,), subscription=True),
    # R23: groups are visible like the user list, managed by admins; targets are seen and
    # edited by admins, and a target's grants also by whoever holds MANAGE on it (R25).
    Action.VIEW_GROUPS: Rule(any_of=(P.VIEW_USERS,)),
    Action.MANAGE_ACCESS: Rule(any_of=(P.MANAGE_TEAM_SETTINGS,), writes=True),
    Action.LIST_PERMISSION_TARGETS: Rule(any_member=True),
    Action.VIEW_RESOURCES: Rule(any_of=(P.MANAGE_TEAM_SETTINGS,)),
    Action.VIEW_PERMISSION_TARGETS: Rule(any_of=(P.MANAGE_TEAM_SETTINGS, ArtifactAction.MANAGE)),
    Action.EDIT_TARGET_GRANTS: Rule(
        any_of=(P.MANAGE_TEAM_SETTINGS, ArtifactAction.MANAGE), writes=True
    ),
    Action.CHECK_ACCESS: Rule(any_member=True),
    # R27/R28: "Administer the Platform" creates projects and edits the global roles.
    Action.LIST_PROJECTS: Rule(any_member=True),
    Action.VIEW_ALL_PROJECTS: Rule(any_of=(P.MANAGE_TEAM_SETTINGS,)),
    Action.MANAGE_PROJECTS: Rule(
        any_of=(P.MANAGE_TEAM_SETTINGS, AP.CREATE_AND_MODIFY_PROJECTS), writes=True
    ),
    Action.APPOINT_PROJECT_ADMINS: Rule(any_of=(P.MANAGE_TEAM_SETTINGS,), writes=True),
    Action.MANAGE_ACCOUNT_PERMISSIONS: Rule(any_of=(P.UPDATE_USER_ROLES,), writes=True),
    Action.GRANT_ADMIN_ROLE: Rule(any_of=(P.UPDATE_USER_ROLES,), writes=True),
    Action.VIEW_GLOBAL_ROLES: Rule(any_member=True),
    # R27-R30: a project is seen by its members and administered by its Project Admins.
    Action.VIEW_PROJECT: Rule(any_of=(P.MANAGE_TEAM_SETTINGS, ProjectPermission.VIEW_PROJECT)),
    Action.ADMINISTER_PROJECT: Rule(
        any_of=(P.MANAGE_TEAM_SETTINGS, ProjectPermission.ADMINISTER_PROJECT), writes=True
    ),
    Action.UPDATE_GLOBAL_ROLES: Rule(any_of=(P.MANAGE_TEAM_SETTINGS,), writes=True),
    Action.CHECK_ACCESS_OF_OTHERS: Rule(any_of=(P.MANAGE_TEAM_SETTINGS,)),
    Action.MANAGE_SUBSCRIPTION_TOKENS: Rule(
        any_of=(S.MANAGE_SUBSCRIPTION_TOKENS,), writes=True, subscription=True, credentials=True
    ),
    Action.MANAGE_DEVICE_GROUPS: Rule(any_of=(ArtifactAction.MANAGE_GROUPS,), writes=True),
    Action.REGISTER_DEVICES: Rule(any_of=(ArtifactAction.REGISTER_DEVICES,), writes=True),
    Action.MODIFY_DEVICES: Rule(any_of=(ArtifactAction.MODIFY_DEVICES,), writes=True),
    Action.REMOTE_CONTROL: Rule(any_of=(ArtifactAction.REMOTE_CONTROL,), writes=True),
    Action.VIEW_DEVICE_LOGS: Rule(any_of=(ArtifactAction.VIEW_DEVICE_LOGS,)),
    **{
        action: Rule(any_of=(ArtifactAction(action.value),), writes=True)
        for action in (
            Action.CREATE_UPDATES,
            Action.DEPLOY_UPDATES,
            Action.MANAGE_COMMANDS,
            Action.RUN_COMMANDS,
            Action.MANAGE_DATA_MONITOR,
            Action.MANAGE_PROCESS_MONITOR,
            Action.MANAGE_ALERTS,
            Action.MODIFY_ENGINE_SETTINGS,
        )
    },
}


class Resource(Protocol):
    @property
    def org_id(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Grant:
    """One reason an action is allowed, e.g. team role ADMIN holds REVOKE_ANY_TOKENS."""

    source: str
    name: str
    permission: str
    via: str = ""  # the principal it applies through: "user", "group <name>", "anonymous"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    scope: Scope
    reason: str
    grants: tuple[Grant, ...] = field(default=())
    # Denied because nobody is signed in (the API answers UNAUTHENTICATED, not FORBIDDEN).
    unauthenticated: bool = False


@dataclass(frozen=True, slots=True)
class SubscriptionResource:
    """A subscription as the policy sees it: whose it is, and the caller's role in it (read
    for this caller: `None` when they are not a member)."""

    org_id: int
    subscription_id: int
    viewer_role: SubscriptionRole | None


@dataclass(frozen=True, slots=True)
class ArtifactResource:
    """A resource asked about by `checkAccess`, with the organization's compiled index. With no
    `name`, it stands for any resource of its type in its project and environment: what the
    project's roles grant there (`Project.viewerPermissions`)."""

    org_id: int
    type: ResourceType
    name: str | None
    index: AccessIndex
    environment: Environment | None = None
    project_key: str | None = None
    # Project-wide device settings (device groups, ...): what a role grants in any environment.
    any_environment: bool = False


@dataclass(frozen=True, slots=True)
class ProjectResource:
    """A project, for seeing and administering it (R27-R30)."""

    org_id: int
    project_id: int
    index: AccessIndex


@dataclass(frozen=True, slots=True)
class TargetResource:
    """A permission target, for editing its grants (R25)."""

    org_id: int
    target_id: int
    index: AccessIndex


class GrantSource(Protocol):
    """A source of rights. `per_resource` sources depend on the resource asked about and are
    asked on every decision about a resource of one of their `resource_types`; the others
    depend on the principal alone and are memoized."""

    per_resource: bool
    resource_types: tuple[type, ...]

    def grants(
        self, principal: Principal, resource: Resource | None
    ) -> Iterable[tuple[Permission, Grant]]: ...

    def holders(self, permission: Permission) -> Iterable[str]: ...


class TeamRoleGrants:
    """R3: the caller's team role (a token's owner's current role)."""

    per_resource = False
    resource_types: tuple[type, ...] = ()

    def grants(
        self, principal: Principal, resource: Resource | None
    ) -> Iterable[tuple[Permission, Grant]]:
        if principal.role is None:
            return ()
        return (
            (permission, Grant("TEAM_ROLE", principal.role.value, permission.value))
            for permission in TEAM_ROLE_PERMISSIONS[principal.role]
        )

    def holders(self, permission: Permission) -> Iterable[str]:
        return (
            f"TeamRole.{role.value}"
            for role, permissions in TEAM_ROLE_PERMISSIONS.items()
            if permission in permissions
        )


class SubscriptionRoleGrants:
    """R19/R22: the caller's role in the subscription asked about."""

    per_resource = True
    resource_types: tuple[type, ...] = (SubscriptionResource,)

    def grants(
        self, principal: Principal, resource: Resource | None
    ) -> Iterable[tuple[Permission, Grant]]:
        if not isinstance(resource, SubscriptionResource) or resource.viewer_role is None:
            return ()
        role = resource.viewer_role
        return (
            (permission, Grant("SUBSCRIPTION_ROLE", role.value, permission.value))
            for permission in SUBSCRIPTION_ROLE_PERMISSIONS[role]
        )

    def holders(self, permission: Permission) -> Iterable[str]:
        return (
            f"SubscriptionRole.{role.value}"
            for role, permissions in SUBSCRIPTION_ROLE_PERMISSIONS.items()
            if permission in permissions
        )


class AdministratorGrants:
    """Team ADMINs administer the platform: every action on every resource."""

    per_resource = False
    resource_types: tuple[type, ...] = ()

    def grants(
        self, principal: Principal, resource: Resource | None
    ) -> Iterable[tuple[Permission, Grant]]:
        if principal.role != TeamRole.ADMIN:
            return ()
        return (
            (action, Grant("TEAM_ROLE", TeamRole.ADMIN.value, action.value, "user"))
            for action in ArtifactAction
        )

    def holders(self, permission: Permission) -> Iterable[str]:
        return ["TeamRole.ADMIN"] if isinstance(permission, ArtifactAction) else []


class AccountPermissionGrants:
    """R33: the account permissions an admin granted this user (a token's owner's, capped by the
    token like everything else)."""

    per_resource = False
    resource_types: tuple[type, ...] = ()

    def grants(
        self, principal: Principal, resource: Resource | None
    ) -> Iterable[tuple[Permission, Grant]]:
        return (
            (permission, Grant("ACCOUNT_PERMISSION", permission.value, permission.value, "user"))
            for permission in sorted(principal.account_permissions)
        )

    def holders(self, permission: Permission) -> Iterable[str]:
        return [f"AccountPermission.{permission.value}"] if isinstance(permission, AP) else []


class PermissionTargetGrants:
    """R24-R26: the grants of the permission targets covering the resource asked about, to the
    user directly, through their groups, or to the anonymous user."""

    per_resource = True
    resource_types: tuple[type, ...] = (ArtifactResource, TargetResource)

    def grants(
        self, principal: Principal, resource: Resource | None
    ) -> Iterable[tuple[Permission, Grant]]:
        if isinstance(resource, ArtifactResource) and resource.name is not None:
            index = resource.index
            keys = index.keys_for(principal.user_id, principal.group_id)
            for applied in index.applied(keys, resource.type, resource.name):
                via = index.describe(applied.via)
                bits = applied.actions
                if applied.via == ANONYMOUS_KEY:
                    bits &= ArtifactAction.READ.bit  # R26, whatever was stored
                for action in actions_in(bits):
                    grant = Grant("PERMISSION_TARGET", applied.target.name, action.value, via)
                    yield action, grant
        elif isinstance(resource, TargetResource):
            index = resource.index
            keys = index.keys_for(principal.user_id, principal.group_id)
            if index.held_on_target(keys, resource.target_id) & ArtifactAction.MANAGE.bit:
                target = index.targets[resource.target_id]
                held = [k for k in keys if target.grants.get(k, 0) & ArtifactAction.MANAGE.bit]
                via = index.describe(held[0])
                yield (
                    ArtifactAction.MANAGE,
                    Grant("PERMISSION_TARGET", target.name, ArtifactAction.MANAGE.value, via),
                )

    def holders(self, permission: Permission) -> Iterable[str]:
        if permission == ArtifactAction.MANAGE:
            return ["PermissionTarget.MANAGE"]
        return []


class ProjectRoleGrants:
    """R28-R30: the global and project roles a user holds in a project, directly or through
    their groups. On a resource of the project, each role's actions hold only in the role's
    environments; on the project itself, any role lets its holder see the project and the
    PROJECT_ADMIN global role lets them administer it."""

    per_resource = True
    resource_types: tuple[type, ...] = (ProjectResource, ArtifactResource)

    def grants(
        self, principal: Principal, resource: Resource | None
    ) -> Iterable[tuple[Permission, Grant]]:
        if isinstance(resource, ProjectResource):
            yield from self._on_project(principal, resource)
            return
        if not isinstance(resource, ArtifactResource) or resource.project_key is None:
            return
        index = resource.index
        project_id = index.projects.get(resource.project_key)
        if project_id is None or (resource.environment is None and not resource.any_environment):
            return
        keys = index.keys_for(principal.user_id, principal.group_id)
        for key, role in index.roles_in(project_id, keys):
            if resource.environment is not None and (
                resource.environment.value not in role.environments
            ):
                continue
            bits = role.bits_for(resource.type)
            via = index.describe(key)
            for action in actions_in(bits):
                yield action, Grant("PROJECT_ROLE", role.name, action.value, via)

    def _on_project(
        self, principal: Principal, resource: ProjectResource
    ) -> Iterable[tuple[Permission, Grant]]:
        index = resource.index
        keys = index.keys_for(principal.user_id, principal.group_id)
        for key, role in index.roles_in(resource.project_id, keys):
            via = index.describe(key)
            view = ProjectPermission.VIEW_PROJECT
            yield view, Grant("PROJECT_ROLE", role.name, view.value, via)
            if role.is_global and role.name == PROJECT_ADMIN:
                admin = ProjectPermission.ADMINISTER_PROJECT
                yield admin, Grant("PROJECT_ROLE", role.name, admin.value, via)

    def holders(self, permission: Permission) -> Iterable[str]:
        if permission == ProjectPermission.VIEW_PROJECT:
            return ["ProjectMember"]
        if permission == ProjectPermission.ADMINISTER_PROJECT:
            return [f"GlobalRole.{PROJECT_ADMIN}"]
        if permission in DEVICE_ACTIONS:
            return [f"ProjectRole.{permission.value}"]
        return []


# The memo of principal-level grants is keyed by the frozen principal snapshot, so it stays
# exact as long as those sources read nothing beyond it.
_HELD_CACHE_SIZE = 4096


# Mapped classes without an `owner_id` column (a user, a group): their instances have none
# either, and asking SQLModel's instance for a missing attribute raises and catches an error
# inside pydantic (~1.5 µs, three times per row of the team page).
_OWNERLESS: dict[type, bool] = {}


def _ownerless(kind: type) -> bool:
    ownerless = _OWNERLESS.get(kind)
    if ownerless is None:
        mapped = getattr(kind, "__table__", None) is not None
        ownerless = _OWNERLESS[kind] = mapped and not hasattr(kind, "owner_id")
    return ownerless


def _owner_id(resource: object) -> int | None:
    if _ownerless(type(resource)):
        return None
    owner = getattr(resource, "owner_id", None)
    return owner if isinstance(owner, int) else None


def _alike(
    principal: Principal,
    action: Action | ArtifactAction,
    kind: type,
    org_id: object,
    owner_id: int | None,
) -> tuple[object, ...]:
    """What a decision on a resource no per-resource source looks inside depends on: the
    caller, the action, the class, and whether the resource is in the caller's organization
    and theirs (`_decide` reads nothing else of it)."""
    return (
        type(action),  # an Action and an ArtifactAction may share a name (a StrEnum's hash)
        action,
        kind,
        org_id == principal.org_id,
        owner_id == principal.user_id,
    )


class Policy:
    def __init__(self, sources: Sequence[GrantSource]) -> None:
        self._sources = tuple(sources)
        self._per_principal = tuple(s for s in self._sources if not s.per_resource)
        self._per_resource = tuple(s for s in self._sources if s.per_resource)
        # The per-resource sources that may grant anything on a resource of a given class.
        self._per_resource_for: dict[type, tuple[GrantSource, ...]] = {}
        self._held_cache: dict[Principal, Mapping[Permission, list[Grant]]] = {}
        # The last caller asked about, compared by identity (a strong reference, so its id is
        # never reused): no hashing of the frozen principal for every row of a page.
        self._last_principal: Principal | None = None
        self._last_held: Mapping[Permission, list[Grant]] = {}
        # The decisions on plain resources (see `decide`) for the last caller, by identity.
        self._decided_for: Principal | None = None
        self._decided: dict[tuple[object, ...], Decision] = {}

    def decide(
        self,
        principal: Principal,
        action: Action | ArtifactAction,
        resource: Resource | None = None,
    ) -> Decision:
        if resource is None or self._resource_sources(type(resource)):
            return self._decide(principal, action, resource)
        # No source looks inside a resource of this class: the decision is the same for every
        # resource alike (`_alike`). A page asks the same question per row.
        key = _alike(principal, action, type(resource), resource.org_id, _owner_id(resource))
        if principal is not self._decided_for:
            self._decided_for, self._decided = principal, {}
        decision = self._decided.get(key)
        if decision is None:
            decision = self._decided[key] = self._decide(principal, action, resource)
        return decision

    def decided(
        self,
        principal: Principal,
        action: Action | ArtifactAction,
        kind: type,
        org_id: int | None,
        *,
        owner_id: int | None,
    ) -> Decision | None:
        """The decision `decide` made for this caller (the same object) about `action` on a
        resource of class `kind` in organization `org_id` owned by `owner_id`, when no
        per-resource source looks inside such resources: it is then the decision about any
        resource alike. None: ask `decide` with the resource itself. A page of rows asks this
        first, and makes a row's model only for the first decision of its kind. `owner_id` is
        the row's `owner_id` column (None for a class without one, which is nobody's)."""
        if principal is not self._decided_for or self._resource_sources(kind):
            return None
        if _ownerless(kind) or not isinstance(owner_id, int):
            owner_id = None  # as `_owner_id` reads a resource of the class
        return self._decided.get(_alike(principal, action, kind, org_id, owner_id))

    def _decide(
        self,
        principal: Principal,
        action: Action | ArtifactAction,
        resource: Resource | None,
    ) -> Decision:
        rule = RULES[action] if isinstance(action, Action) else _ARTIFACT_RULES[action]
        refused = self._refused_regardless(principal, rule, resource)
        if refused is not None:
            return refused
        if rule.public:
            return Decision(True, Scope.ALL, "Public operation.")
        if resource is not None and resource.org_id != principal.org_id:
            return _deny("Not found in your organization.")
        confined_to = principal.token_subscription_id
        if (
            confined_to is not None
            and resource is not None
            and not (
                isinstance(resource, SubscriptionResource)
                and resource.subscription_id == confined_to
            )
        ):
            return _deny(_CONFINED)
        if rule.any_member:
            return Decision(True, Scope.ALL, "Every member of the organization.")

        # A subscription token acts only through its owner's role in that subscription; their
        # team role (e.g. an admin's oversight of every subscription) does not come along.
        held = {} if confined_to is not None else self._held(principal)
        if resource is not None:
            held = self._with_resource_grants(held, principal, resource)
        full = _grants_for(held, rule.any_of)
        if full:
            return Decision(True, Scope.ALL, "Allowed.", full)
        own = _grants_for(held, rule.own)
        if own and (resource is None or _owner_id(resource) == principal.user_id):
            return Decision(True, Scope.OWN, "Allowed on your own resources.", own)
        return _deny(DENIED)

    def precheck(self, principal: Principal, action: Action) -> Decision | None:
        """The refusal that holds whatever the resource (read-only token writing, anonymous
        caller, scoped token outside its scope), or None: for a check whose object is not
        found, so that "not found" never hides "not allowed at all"."""
        return self._refused_regardless(principal, RULES[action], None)

    def _refused_regardless(
        self, principal: Principal, rule: Rule, resource: Resource | None
    ) -> Decision | None:
        if rule.writes and principal.is_read_only:
            return _deny("A read-only token cannot change anything.")
        if rule.public:
            return None
        # An action on a resource is decided for whoever `checkAccess` asks about, including a
        # group or the anonymous user of an organization; every other action needs a caller.
        subject = isinstance(resource, ArtifactResource) and principal.org_id is not None
        if not principal.is_authenticated and not subject:
            return Decision(False, Scope.NONE, "Authentication required.", unauthenticated=True)
        # A subscription token reaches its subscription's actions only, and never manages
        # credentials: a leaked one cannot leave a longer-lived token behind.
        if principal.token_subscription_id is not None and (
            not rule.subscription or rule.credentials
        ):
            return _deny(_CONFINED)
        return None

    def _held(self, principal: Principal) -> Mapping[Permission, list[Grant]]:
        """Every permission the principal holds, with its grants; memoized per principal (a
        frozen snapshot of one request's caller), since a page asks for it once per row."""
        if principal is self._last_principal:  # a page asks for the same caller per row
            return self._last_held
        cached = self._held_cache.get(principal)
        if cached is not None:
            self._last_principal, self._last_held = principal, cached
            return cached
        held: dict[Permission, list[Grant]] = {}
        for source in self._per_principal:
            for permission, grant in source.grants(principal, None):
                held.setdefault(permission, []).append(grant)
        if len(self._held_cache) >= _HELD_CACHE_SIZE:
            self._held_cache.clear()
        self._held_cache[principal] = held
        self._last_principal, self._last_held = principal, held
        return held

    def _resource_sources(self, resource_type: type) -> tuple[GrantSource, ...]:
        """The per-resource sources that may grant anything on a resource of this class."""
        sources = self._per_resource_for.get(resource_type)
        if sources is None:
            sources = self._per_resource_for[resource_type] = tuple(
                s for s in self._per_resource if issubclass(resource_type, s.resource_types)
            )
        return sources

    def _with_resource_grants(
        self, held: Mapping[Permission, list[Grant]], principal: Principal, resource: Resource
    ) -> Mapping[Permission, list[Grant]]:
        sources = self._resource_sources(type(resource))
        if not sources:
            return held
        extra = [pair for source in sources for pair in source.grants(principal, resource)]
        if not extra:
            return held
        merged = {permission: list(grants) for permission, grants in held.items()}
        for permission, grant in extra:
            merged.setdefault(permission, []).append(grant)
        return merged

    def scope(self, principal: Principal, action: Action) -> Scope:
        """How far a list query reaches: every row, the caller's own rows, or none."""
        return self.decide(principal, action).scope

    def holders(self, action: Action) -> list[str]:
        """Who holds an action, for the `@requires(anyOf:)` directive in the SDL."""
        rule = RULES[action]
        if rule.public:
            return ["PUBLIC"]
        if rule.any_member:
            return ["MEMBER"]
        found: list[str] = []
        for permissions, suffix in ((rule.any_of, ""), (rule.own, ":OWN")):
            for permission in permissions:
                for source in self._sources:
                    for holder in source.holders(permission):
                        name = holder + suffix
                        if holder not in found and name not in found:
                            found.append(name)
        return found

    def team_permissions(self, role: TeamRole) -> frozenset[TeamPermission]:
        return TEAM_ROLE_PERMISSIONS[role]


# R14: a READ_ONLY token reads; every other action on a resource writes.
_ARTIFACT_RULES: Mapping[ArtifactAction, Rule] = {
    action: Rule(any_of=(action,), writes=action != ArtifactAction.READ)
    for action in ArtifactAction
}


def _grants_for(
    held: Mapping[Permission, list[Grant]], wanted: Iterable[Permission]
) -> tuple[Grant, ...]:
    return tuple(grant for permission in wanted for grant in held.get(permission, ()))


def _deny(reason: str) -> Decision:
    return Decision(False, Scope.NONE, reason)


def default_policy() -> Policy:
    return Policy(
        [
            TeamRoleGrants(),
            AdministratorGrants(),
            AccountPermissionGrants(),
            SubscriptionRoleGrants(),
            PermissionTargetGrants(),
            ProjectRoleGrants(),
        ]
    )


def refuse_regardless(policy: Policy, principal: Principal, action: Action) -> None:
    """Raise the refusal that holds whatever the resource (a read-only token writing, an
    anonymous caller, a scoped token outside its scope), if any."""
    refused = policy.precheck(principal, action)
    if refused is not None:
        raise unauthenticated() if refused.unauthenticated else forbidden(refused.reason)


def require(
    policy: Policy, principal: Principal, action: Action, resource: Resource | None = None
) -> Decision:
    """The decision if allowed; otherwise the API's UNAUTHENTICATED or FORBIDDEN error."""
    decision = policy.decide(principal, action, resource)
    if decision.allowed:
        return decision
    if decision.unauthenticated:
        raise unauthenticated()
    raise forbidden(decision.reason)
