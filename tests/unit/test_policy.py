"""accessgraph.auth.policy: the R3 matrix, every decision, and the rules above the matrix
(R1 other organization, R14 read-only tokens, anonymous callers, OWN scope).

Decisions on one subscription are in tests/unit/test_subscription_policy.py; decisions on a
resource or a permission target (R24-R26, R34) in tests/unit/test_access.py."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import pytest

from accessgraph.auth.access import DEVICE_ACTIONS, ArtifactAction
from accessgraph.auth.policy import (
    RULES,
    TEAM_PERMISSION_DESCRIPTIONS,
    TEAM_ROLE_PERMISSIONS,
    Action,
    Grant,
    Permission,
    Policy,
    Resource,
    Scope,
    TeamPermission,
    TeamRoleGrants,
    _owner_id,
    default_policy,
    require,
)
from accessgraph.auth.principal import ANONYMOUS, Principal
from accessgraph.errors import ExposedError
from accessgraph.models.enums import SubscriptionRole, TeamRole, TokenPermission
from accessgraph.schema import build_schema

P = TeamPermission
ORG = 1
OTHER_ORG = 2
ADMIN_PK, DEV_PK, DEV2_PK = 10, 20, 30

# R3, copied from SPEC.md: permission -> (ADMIN, DEVELOPER).
# fmt: off
R3_MATRIX: dict[TeamPermission, tuple[bool, bool]] = {
    P.PUSH_PULL_ARTIFACTS: (True, True),
    P.VIEW_ARTIFACTS: (True, True),
    P.MANAGE_WORKFLOWS: (True, True),
    P.VIEW_USERS: (True, True),
    P.CREATE_TOKENS: (True, True),
    P.REVOKE_OWN_TOKENS: (True, True),
    P.INVITE_USERS: (True, False),
    P.UPDATE_USER_ROLES: (True, False),
    P.DELETE_USERS: (True, False),
    P.REVOKE_ANY_TOKENS: (True, False),
    P.MANAGE_TEAM_SETTINGS: (True, False),
}
# fmt: on

PRINCIPALS: dict[str, Principal] = {
    "admin": Principal(org_id=ORG, user_id=ADMIN_PK, role=TeamRole.ADMIN, email="admin@acme.test"),
    "developer": Principal(
        org_id=ORG, user_id=DEV_PK, role=TeamRole.DEVELOPER, email="dev@acme.test"
    ),
    "anonymous": ANONYMOUS,
    "admin_ro": Principal(
        org_id=ORG,
        user_id=ADMIN_PK,
        role=TeamRole.ADMIN,
        email="admin@acme.test",
        token_id=1,
        token_permission=TokenPermission.READ_ONLY,
    ),
    "admin_rw": Principal(
        org_id=ORG,
        user_id=ADMIN_PK,
        role=TeamRole.ADMIN,
        email="admin@acme.test",
        token_id=2,
        token_permission=TokenPermission.READ_WRITE,
    ),
    "dev_ro": Principal(
        org_id=ORG,
        user_id=DEV_PK,
        role=TeamRole.DEVELOPER,
        email="dev@acme.test",
        token_id=3,
        token_permission=TokenPermission.READ_ONLY,
    ),
    "dev_rw": Principal(
        org_id=ORG,
        user_id=DEV_PK,
        role=TeamRole.DEVELOPER,
        email="dev@acme.test",
        token_id=4,
        token_permission=TokenPermission.READ_WRITE,
    ),
}
COLUMNS = ("admin", "developer", "anonymous", "admin_ro", "admin_rw", "dev_ro", "dev_rw")

# Policy.decide(principal, action) without a resource: ALL / OWN (allowed, with that scope),
# DENY (FORBIDDEN), UNAUTH (denied, unauthenticated).
# fmt: off
DECISIONS: dict[Action, tuple[str, ...]] = {
    #                              admin  developer anonymous admin_ro admin_rw dev_ro  dev_rw
    Action.AUTHENTICATE:         ("ALL", "ALL",    "ALL",    "DENY",  "ALL",   "DENY", "ALL"),
    Action.REPORT_LEAKED_TOKEN:  ("ALL", "ALL",    "ALL",    "ALL",   "ALL",   "ALL",  "ALL"),
    Action.VIEW_ORGANIZATION:    ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.VIEW_TEAM_ROLES:      ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.VIEW_USERS:           ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.INVITE_USER:          ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.UPDATE_USER_ROLE:     ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.DELETE_USER:          ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.VIEW_TOKENS:          ("ALL", "OWN",    "UNAUTH", "ALL",   "ALL",   "OWN",  "OWN"),
    Action.CREATE_TOKEN:         ("ALL", "ALL",    "UNAUTH", "DENY",  "ALL",   "DENY", "ALL"),
    Action.REVOKE_TOKEN:         ("ALL", "OWN",    "UNAUTH", "DENY",  "ALL",   "DENY", "OWN"),
    Action.DELETE_TOKEN:         ("ALL", "OWN",    "UNAUTH", "DENY",  "ALL",   "DENY", "OWN"),
    Action.MANAGE_TEAM_SETTINGS: ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.VIEW_AUDIT_EVENTS:    ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    # Subscriptions: the list is for every member (filtered by SQL); team admins see that each
    # subscription exists (oversight); everything else needs a role in the subscription, so
    # without a SubscriptionResource nobody holds it (tests/unit/test_subscription_policy.py).
    Action.LIST_SUBSCRIPTIONS:   ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.VIEW_SUBSCRIPTION:    ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    **dict.fromkeys(
        [
            Action.MANAGE_SUBSCRIPTION_MEMBERS, Action.VIEW_SUBSCRIPTION_USAGE,
            Action.MANAGE_USAGE_NOTIFICATIONS, Action.VIEW_BILLING, Action.UPDATE_BILLING,
            Action.VIEW_NETWORK, Action.UPDATE_NETWORK, Action.VIEW_SUBSCRIPTION_TOKENS,
            Action.MANAGE_SUBSCRIPTION_TOKENS,
        ],
        ("DENY", "DENY", "UNAUTH", "DENY", "DENY", "DENY", "DENY"),
    ),
    # Groups, resources and permission targets (R23-R26). Groups are seen like the user list
    # and managed by admins (R23). A target's grants are also seen and edited by whoever holds
    # MANAGE on that target (R25): that is decided on a TargetResource, so without one only
    # the admins' grants count (tests/unit/test_access.py has the TargetResource cases).
    #                                  admin  developer anonymous admin_ro admin_rw dev_ro  dev_rw
    Action.VIEW_GROUPS:              ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.MANAGE_ACCESS:            ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.LIST_PERMISSION_TARGETS:  ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.VIEW_RESOURCES:           ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    # Projects (R27, R28): the list is for everyone (filtered by SQL); admins see all and
    # create; the global roles are readable by every member and edited by admins.
    Action.LIST_PROJECTS:            ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.VIEW_ALL_PROJECTS:        ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    Action.MANAGE_PROJECTS:          ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.VIEW_GLOBAL_ROLES:        ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.UPDATE_GLOBAL_ROLES:      ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    # A project's members see it and its Project Admins administer it: decided on a
    # ProjectResource (tests/unit/test_project_policy.py), so without one only admins hold them.
    Action.VIEW_PROJECT:             ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    Action.ADMINISTER_PROJECT:       ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.VIEW_PERMISSION_TARGETS:  ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    Action.EDIT_TARGET_GRANTS:       ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    # R34: about yourself, every member; about any other principal, admins only.
    Action.CHECK_ACCESS:             ("ALL", "ALL",    "UNAUTH", "ALL",   "ALL",   "ALL",  "ALL"),
    Action.CHECK_ACCESS_OF_OTHERS:   ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    # R32: device permissions come from admins and project roles; the roles are decided on a
    # device resource (tests/unit/test_project_policy.py), so without one only admins hold them.
    **dict.fromkeys(
        [
            Action.MANAGE_DEVICE_GROUPS, Action.REGISTER_DEVICES, Action.MODIFY_DEVICES,
            Action.REMOTE_CONTROL, Action.CREATE_UPDATES, Action.DEPLOY_UPDATES,
            Action.MANAGE_COMMANDS, Action.RUN_COMMANDS, Action.MANAGE_DATA_MONITOR,
            Action.MANAGE_PROCESS_MONITOR, Action.MANAGE_ALERTS, Action.MODIFY_ENGINE_SETTINGS,
        ],
        ("ALL", "DENY", "UNAUTH", "DENY", "ALL", "DENY", "DENY"),
    ),
    Action.VIEW_DEVICE_LOGS:         ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    # R33: granting account permissions, making admins and appointing Project Admins stay with
    # admins, whatever account permissions a user holds.
    Action.MANAGE_ACCOUNT_PERMISSIONS: ("ALL", "DENY", "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.GRANT_ADMIN_ROLE:         ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    Action.APPOINT_PROJECT_ADMINS:   ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
}

# Policy.decide(principal, artifact action) without a resource: only the admins' "administer
# the platform" grant can allow it (targets need the resource asked about); a read-only token
# keeps READ and loses every other action, which all write (R14).
ARTIFACT_DECISIONS: dict[ArtifactAction, tuple[str, ...]] = {
    #                         admin  developer anonymous admin_ro admin_rw dev_ro  dev_rw
    ArtifactAction.READ:       ("ALL", "DENY",   "UNAUTH", "ALL",   "ALL",   "DENY", "DENY"),
    ArtifactAction.ANNOTATE:   ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    ArtifactAction.WRITE:      ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    ArtifactAction.DELETE:     ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    ArtifactAction.MANAGE:     ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    ArtifactAction.DISTRIBUTE: ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    ArtifactAction.TRIGGER:    ("ALL", "DENY",   "UNAUTH", "DENY",  "ALL",   "DENY", "DENY"),
    # R32: the device permissions all change something, so a read-only token holds none.
    **dict.fromkeys(
        DEVICE_ACTIONS, ("ALL", "DENY", "UNAUTH", "DENY", "ALL", "DENY", "DENY")
    ),
}
# fmt: on

# What the @requires(anyOf:) directive says for each action.
HOLDERS: dict[Action, list[str]] = {
    Action.AUTHENTICATE: ["PUBLIC"],
    Action.REPORT_LEAKED_TOKEN: ["PUBLIC"],
    Action.VIEW_ORGANIZATION: ["MEMBER"],
    Action.VIEW_TEAM_ROLES: ["MEMBER"],
    Action.VIEW_USERS: ["TeamRole.ADMIN", "TeamRole.DEVELOPER"],
    Action.INVITE_USER: ["TeamRole.ADMIN", "AccountPermission.INVITE_AND_MODIFY_ACCOUNTS"],
    Action.UPDATE_USER_ROLE: ["TeamRole.ADMIN"],
    Action.DELETE_USER: ["TeamRole.ADMIN"],
    Action.VIEW_TOKENS: ["TeamRole.ADMIN", "TeamRole.DEVELOPER:OWN"],
    Action.CREATE_TOKEN: ["TeamRole.ADMIN", "TeamRole.DEVELOPER"],
    Action.REVOKE_TOKEN: ["TeamRole.ADMIN", "TeamRole.DEVELOPER:OWN"],
    Action.DELETE_TOKEN: ["TeamRole.ADMIN", "TeamRole.DEVELOPER:OWN"],
    Action.MANAGE_TEAM_SETTINGS: ["TeamRole.ADMIN"],
    Action.VIEW_AUDIT_EVENTS: ["TeamRole.ADMIN"],
    Action.LIST_SUBSCRIPTIONS: ["MEMBER"],
    Action.VIEW_SUBSCRIPTION: [
        *(f"SubscriptionRole.{r}" for r in SubscriptionRole),
        "TeamRole.ADMIN",
        "AccountPermission.BILLING",
    ],
    Action.MANAGE_SUBSCRIPTION_MEMBERS: [
        "SubscriptionRole.PRIMARY_ADMIN",
        "SubscriptionRole.ADMIN",
    ],
    Action.VIEW_SUBSCRIPTION_USAGE: [f"SubscriptionRole.{r}" for r in SubscriptionRole],
    Action.MANAGE_USAGE_NOTIFICATIONS: [f"SubscriptionRole.{r}" for r in SubscriptionRole],
    Action.VIEW_BILLING: [
        "SubscriptionRole.PRIMARY_ADMIN",
        "SubscriptionRole.ADMIN",
        "SubscriptionRole.FINANCE_MEMBER",
        "AccountPermission.BILLING",
    ],
    Action.UPDATE_BILLING: [
        "SubscriptionRole.PRIMARY_ADMIN",
        "SubscriptionRole.ADMIN",
        "SubscriptionRole.FINANCE_MEMBER",
        "AccountPermission.BILLING",
    ],
    Action.VIEW_NETWORK: [
        "SubscriptionRole.PRIMARY_ADMIN",
        "SubscriptionRole.ADMIN",
        "SubscriptionRole.TECHNICAL_MEMBER",
    ],
    Action.UPDATE_NETWORK: [
        "SubscriptionRole.PRIMARY_ADMIN",
        "SubscriptionRole.ADMIN",
        "SubscriptionRole.TECHNICAL_MEMBER",
    ],
    Action.VIEW_SUBSCRIPTION_TOKENS: [
        "SubscriptionRole.PRIMARY_ADMIN",
        "SubscriptionRole.ADMIN",
        "SubscriptionRole.TECHNICAL_MEMBER",
    ],
    Action.MANAGE_SUBSCRIPTION_TOKENS: ["SubscriptionRole.PRIMARY_ADMIN"],
    Action.VIEW_GROUPS: ["TeamRole.ADMIN", "TeamRole.DEVELOPER"],
    Action.MANAGE_ACCESS: ["TeamRole.ADMIN"],
    Action.LIST_PERMISSION_TARGETS: ["MEMBER"],
    Action.VIEW_RESOURCES: ["TeamRole.ADMIN"],
    Action.LIST_PROJECTS: ["MEMBER"],
    Action.VIEW_ALL_PROJECTS: ["TeamRole.ADMIN"],
    Action.MANAGE_PROJECTS: ["TeamRole.ADMIN", "AccountPermission.CREATE_AND_MODIFY_PROJECTS"],
    Action.APPOINT_PROJECT_ADMINS: ["TeamRole.ADMIN"],
    Action.MANAGE_ACCOUNT_PERMISSIONS: ["TeamRole.ADMIN"],
    Action.GRANT_ADMIN_ROLE: ["TeamRole.ADMIN"],
    Action.VIEW_GLOBAL_ROLES: ["MEMBER"],
    Action.UPDATE_GLOBAL_ROLES: ["TeamRole.ADMIN"],
    Action.VIEW_PROJECT: ["TeamRole.ADMIN", "ProjectMember"],
    Action.ADMINISTER_PROJECT: ["TeamRole.ADMIN", "GlobalRole.PROJECT_ADMIN"],
    Action.VIEW_PERMISSION_TARGETS: ["TeamRole.ADMIN", "PermissionTarget.MANAGE"],
    Action.MANAGE_DEVICE_GROUPS: ["TeamRole.ADMIN", "ProjectRole.MANAGE_GROUPS"],
    Action.REGISTER_DEVICES: ["TeamRole.ADMIN", "ProjectRole.REGISTER_DEVICES"],
    Action.MODIFY_DEVICES: ["TeamRole.ADMIN", "ProjectRole.MODIFY_DEVICES"],
    Action.REMOTE_CONTROL: ["TeamRole.ADMIN", "ProjectRole.REMOTE_CONTROL"],
    Action.VIEW_DEVICE_LOGS: ["TeamRole.ADMIN", "ProjectRole.VIEW_DEVICE_LOGS"],
    **{
        action: ["TeamRole.ADMIN", f"ProjectRole.{action.value}"]
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
    Action.EDIT_TARGET_GRANTS: ["TeamRole.ADMIN", "PermissionTarget.MANAGE"],
    Action.CHECK_ACCESS: ["MEMBER"],
    Action.CHECK_ACCESS_OF_OTHERS: ["TeamRole.ADMIN"],
}

# Which root field asks which action (API.md root fields).
FIELD_ACTIONS: dict[str, Action] = {
    "login": Action.AUTHENTICATE,
    "logout": Action.AUTHENTICATE,
    "acceptInvitation": Action.AUTHENTICATE,
    "inviteUser": Action.INVITE_USER,
    "resendInvitation": Action.INVITE_USER,
    "createUser": Action.INVITE_USER,
    "updateUserRole": Action.UPDATE_USER_ROLE,
    "deleteUser": Action.DELETE_USER,
    "createToken": Action.CREATE_TOKEN,
    "revokeToken": Action.REVOKE_TOKEN,
    "deleteToken": Action.DELETE_TOKEN,
    "updateOrganizationSettings": Action.MANAGE_TEAM_SETTINGS,
    "organization": Action.VIEW_ORGANIZATION,
    "teamRoles": Action.VIEW_TEAM_ROLES,
    "users": Action.VIEW_USERS,
    "user": Action.VIEW_USERS,
    "tokens": Action.VIEW_TOKENS,
    "auditEvents": Action.VIEW_AUDIT_EVENTS,
    "subscriptions": Action.LIST_SUBSCRIPTIONS,
    "subscription": Action.LIST_SUBSCRIPTIONS,
    "members": Action.VIEW_SUBSCRIPTION,
    "usage": Action.VIEW_SUBSCRIPTION_USAGE,
    "usageNotifications": Action.VIEW_SUBSCRIPTION_USAGE,
    "billing": Action.VIEW_BILLING,
    "network": Action.VIEW_NETWORK,
    "apiTokens": Action.VIEW_SUBSCRIPTION_TOKENS,
    "addSubscriptionMember": Action.MANAGE_SUBSCRIPTION_MEMBERS,
    "updateSubscriptionMemberRole": Action.MANAGE_SUBSCRIPTION_MEMBERS,
    "removeSubscriptionMember": Action.MANAGE_SUBSCRIPTION_MEMBERS,
    "resendSubscriptionInvitation": Action.MANAGE_SUBSCRIPTION_MEMBERS,
    "updateBillingDetails": Action.UPDATE_BILLING,
    "updateNetworkSettings": Action.UPDATE_NETWORK,
    "setUsageNotification": Action.MANAGE_USAGE_NOTIFICATIONS,
    "removeUsageNotification": Action.MANAGE_USAGE_NOTIFICATIONS,
    "createSubscriptionToken": Action.MANAGE_SUBSCRIPTION_TOKENS,
    "revokeSubscriptionToken": Action.MANAGE_SUBSCRIPTION_TOKENS,
    "groups": Action.VIEW_GROUPS,
    "createGroup": Action.MANAGE_ACCESS,
    "updateGroupMembers": Action.MANAGE_ACCESS,
    "deleteGroup": Action.MANAGE_ACCESS,
    "registerRepository": Action.MANAGE_ACCESS,
    "registerResource": Action.MANAGE_ACCESS,
    "resources": Action.VIEW_RESOURCES,
    "projects": Action.LIST_PROJECTS,
    "project": Action.LIST_PROJECTS,
    "globalRoles": Action.VIEW_GLOBAL_ROLES,
    "createProject": Action.MANAGE_PROJECTS,
    "updateGlobalRole": Action.UPDATE_GLOBAL_ROLES,
    "updateProjectGlobalRole": Action.ADMINISTER_PROJECT,
    "resetProjectGlobalRole": Action.ADMINISTER_PROJECT,
    "createProjectRole": Action.ADMINISTER_PROJECT,
    "updateProjectRole": Action.ADMINISTER_PROJECT,
    "deleteProjectRole": Action.ADMINISTER_PROJECT,
    "assignProjectRole": Action.ADMINISTER_PROJECT,
    "removeProjectMember": Action.ADMINISTER_PROJECT,
    "permissionTargets": Action.LIST_PERMISSION_TARGETS,
    "createPermissionTarget": Action.MANAGE_ACCESS,
    "updatePermissionTarget": Action.EDIT_TARGET_GRANTS,
    "deletePermissionTarget": Action.MANAGE_ACCESS,
    "checkAccess": Action.CHECK_ACCESS,
}

WRITE_ACTIONS = [a for a in Action if RULES[a].writes]
READ_ACTIONS = [a for a in Action if not RULES[a].writes]
NON_PUBLIC_ACTIONS = [a for a in Action if not RULES[a].public]
# Team actions: decided by the team role alone (subscription actions also need a role there).
TEAM_ACTIONS = [a for a in NON_PUBLIC_ACTIONS if not RULES[a].subscription]


@dataclass(frozen=True)
class Thing:
    """A resource of some organization, optionally owned by a user (like a token)."""

    org_id: int
    owner_id: int | None = None


@pytest.fixture
def policy() -> Policy:
    return default_policy()


def outcome(
    policy: Policy,
    principal: Principal,
    action: Action | ArtifactAction,
    resource: Thing | None = None,
) -> str:
    decision = policy.decide(principal, action, resource)
    if decision.allowed:
        return decision.scope.value
    assert decision.scope == Scope.NONE and not decision.grants
    return "UNAUTH" if decision.unauthenticated else "DENY"


# --- the R3 matrix ----------------------------------------------------------------------------


def test_team_permissions_are_exactly_the_r3_rows() -> None:
    assert set(TeamPermission) == set(R3_MATRIX)
    assert set(TEAM_PERMISSION_DESCRIPTIONS) == set(TeamPermission)
    assert set(TEAM_ROLE_PERMISSIONS) == {TeamRole.ADMIN, TeamRole.DEVELOPER}


@pytest.mark.parametrize("permission", list(R3_MATRIX))
@pytest.mark.parametrize("role", [TeamRole.ADMIN, TeamRole.DEVELOPER])
def test_team_role_permissions_match_r3(
    policy: Policy, permission: TeamPermission, role: TeamRole
) -> None:
    expected = R3_MATRIX[permission][0 if role == TeamRole.ADMIN else 1]
    assert (permission in TEAM_ROLE_PERMISSIONS[role]) is expected
    assert (permission in policy.team_permissions(role)) is expected


# --- decide: every action x principal ----------------------------------------------------------


def test_decisions_table_covers_every_action() -> None:
    assert set(DECISIONS) == set(Action) == set(HOLDERS)


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("action", list(Action))
def test_decide_matches_the_table(policy: Policy, action: Action, column: str) -> None:
    expected = DECISIONS[action][COLUMNS.index(column)]
    assert outcome(policy, PRINCIPALS[column], action) == expected


def test_artifact_decisions_table_covers_every_artifact_action() -> None:
    assert set(ARTIFACT_DECISIONS) == set(ArtifactAction)


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("action", list(ArtifactAction))
def test_decide_artifact_action_without_a_resource_matches_the_table(
    policy: Policy, action: ArtifactAction, column: str
) -> None:
    expected = ARTIFACT_DECISIONS[action][COLUMNS.index(column)]
    assert outcome(policy, PRINCIPALS[column], action) == expected
    decision = policy.decide(PRINCIPALS[column], action)
    if decision.allowed:
        assert decision.grants == (Grant("TEAM_ROLE", "ADMIN", action.value, "user"),)


@pytest.mark.parametrize("action", WRITE_ACTIONS)
@pytest.mark.parametrize("who", ["admin_ro", "dev_ro"])
def test_decide_read_only_token_is_refused_every_write(
    policy: Policy, action: Action, who: str
) -> None:
    principal = PRINCIPALS[who]
    own = Thing(ORG, owner_id=principal.user_id)
    for resource in (None, own):
        decision = policy.decide(principal, action, resource)
        assert not decision.allowed
        assert not decision.unauthenticated
        assert "read-only" in decision.reason


@pytest.mark.parametrize("action", READ_ACTIONS)
@pytest.mark.parametrize(("token", "owner"), [("admin_ro", "admin"), ("dev_ro", "developer")])
def test_decide_read_only_token_reads_what_its_owner_reads(
    policy: Policy, action: Action, token: str, owner: str
) -> None:
    assert outcome(policy, PRINCIPALS[token], action) == outcome(policy, PRINCIPALS[owner], action)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize(("token", "owner"), [("admin_rw", "admin"), ("dev_rw", "developer")])
def test_decide_read_write_token_does_exactly_what_its_owner_does(
    policy: Policy, action: Action, token: str, owner: str
) -> None:
    assert outcome(policy, PRINCIPALS[token], action) == outcome(policy, PRINCIPALS[owner], action)


def test_decide_token_follows_its_owners_current_role(policy: Policy) -> None:
    # The backend builds the principal from the owner's role now; a demoted owner's RW token
    # has developer rights only.
    demoted = Principal(
        org_id=ORG,
        user_id=ADMIN_PK,
        role=TeamRole.DEVELOPER,
        token_id=2,
        token_permission=TokenPermission.READ_WRITE,
    )
    assert outcome(policy, demoted, Action.INVITE_USER) == "DENY"
    assert outcome(policy, demoted, Action.VIEW_TOKENS) == "OWN"


@pytest.mark.parametrize("action", list(Action))
def test_decide_member_without_a_role_gets_only_member_actions(
    policy: Policy, action: Action
) -> None:
    roleless = Principal(org_id=ORG, user_id=99, role=None)
    rule = RULES[action]
    expected = "ALL" if rule.public or rule.any_member else "DENY"
    assert outcome(policy, roleless, action) == expected


# --- R1: another organization's resource ------------------------------------------------------


@pytest.mark.parametrize("action", NON_PUBLIC_ACTIONS)
@pytest.mark.parametrize("who", ["admin", "admin_rw", "developer", "dev_rw"])
def test_decide_other_organizations_resource_is_always_denied(
    policy: Policy, action: Action, who: str
) -> None:
    principal = PRINCIPALS[who]
    for resource in (Thing(OTHER_ORG), Thing(OTHER_ORG, owner_id=principal.user_id)):
        decision = policy.decide(principal, action, resource)
        assert not decision.allowed, (action, who, resource)
        assert not decision.unauthenticated


@pytest.mark.parametrize("action", TEAM_ACTIONS)
def test_decide_own_organizations_resource_is_allowed_to_admin(
    policy: Policy, action: Action
) -> None:
    assert outcome(policy, PRINCIPALS["admin"], action, Thing(ORG, owner_id=DEV_PK)) == "ALL"


# --- OWN scope ----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", [Action.VIEW_TOKENS, Action.REVOKE_TOKEN, Action.DELETE_TOKEN])
def test_decide_developer_reaches_own_token(policy: Policy, action: Action) -> None:
    decision = policy.decide(PRINCIPALS["developer"], action, Thing(ORG, owner_id=DEV_PK))
    assert decision.allowed and decision.scope == Scope.OWN
    assert decision.grants == (Grant("TEAM_ROLE", "DEVELOPER", "REVOKE_OWN_TOKENS"),)


@pytest.mark.parametrize("action", [Action.VIEW_TOKENS, Action.REVOKE_TOKEN, Action.DELETE_TOKEN])
@pytest.mark.parametrize(
    "resource",
    [Thing(ORG, owner_id=DEV2_PK), Thing(ORG, owner_id=ADMIN_PK), Thing(ORG)],
    ids=["other-developers", "admins", "unowned"],
)
def test_decide_developer_cannot_reach_another_users_token(
    policy: Policy, action: Action, resource: Thing
) -> None:
    assert outcome(policy, PRINCIPALS["developer"], action, resource) == "DENY"


def test_decide_developer_read_write_token_revokes_own_token(policy: Policy) -> None:
    assert (
        outcome(policy, PRINCIPALS["dev_rw"], Action.REVOKE_TOKEN, Thing(ORG, owner_id=DEV_PK))
        == "OWN"
    )
    assert (
        outcome(policy, PRINCIPALS["dev_rw"], Action.REVOKE_TOKEN, Thing(ORG, owner_id=DEV2_PK))
        == "DENY"
    )


def test_decide_admin_revokes_any_token_with_the_admin_grant(policy: Policy) -> None:
    decision = policy.decide(PRINCIPALS["admin"], Action.REVOKE_TOKEN, Thing(ORG, owner_id=DEV_PK))
    assert decision.allowed and decision.scope == Scope.ALL
    assert decision.grants == (Grant("TEAM_ROLE", "ADMIN", "REVOKE_ANY_TOKENS"),)


def _every_question(
    callers: list[Principal],
) -> list[tuple[Principal, Action | ArtifactAction, Thing]]:
    """Each caller, each action, about things of both organizations, owned or not."""
    resources = [
        Thing(org, owner) for org in (ORG, OTHER_ORG) for owner in (None, ADMIN_PK, DEV_PK, DEV2_PK)
    ]
    actions: list[Action | ArtifactAction] = [*Action, *ArtifactAction]
    return [(c, a, r) for c in callers for a in actions for r in resources]


def test_decisions_kept_for_a_caller_equal_fresh_decisions() -> None:
    """Issue 8: a policy keeps one caller's decisions on plain resources (a page asks per
    row); interleaving callers, actions, organizations and owners, every answer equals the
    answer of a fresh policy, which keeps nothing."""
    import random

    shared = default_policy()
    callers = [*PRINCIPALS.values(), *(replace(p, email=p.email) for p in PRINCIPALS.values())]
    asked = _every_question(callers)
    rng = random.Random(8)
    for order in (asked, sorted(asked, key=lambda _: rng.random())):
        for caller, action, resource in order:
            fresh = default_policy().decide(caller, action, resource)
            assert shared.decide(caller, action, resource) == fresh, (caller, action, resource)


def test_scope_of_token_list(policy: Policy) -> None:
    assert policy.scope(PRINCIPALS["admin"], Action.VIEW_TOKENS) == Scope.ALL
    assert policy.scope(PRINCIPALS["developer"], Action.VIEW_TOKENS) == Scope.OWN
    assert policy.scope(ANONYMOUS, Action.VIEW_TOKENS) == Scope.NONE


# --- anonymous ------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", NON_PUBLIC_ACTIONS)
def test_decide_anonymous_is_unauthenticated(policy: Policy, action: Action) -> None:
    for resource in (None, Thing(ORG)):
        decision = policy.decide(ANONYMOUS, action, resource)
        assert not decision.allowed and decision.unauthenticated


def test_decide_anonymous_may_authenticate(policy: Policy) -> None:
    decision = policy.decide(ANONYMOUS, Action.AUTHENTICATE)
    assert decision.allowed and not decision.unauthenticated


def test_require_raises_unauthenticated_for_anonymous(policy: Policy) -> None:
    with pytest.raises(ExposedError) as caught:
        require(policy, ANONYMOUS, Action.VIEW_USERS)
    assert caught.value.extensions == {"code": "UNAUTHENTICATED"}


def test_require_raises_forbidden_for_a_member_without_the_right(policy: Policy) -> None:
    with pytest.raises(ExposedError) as caught:
        require(policy, PRINCIPALS["developer"], Action.INVITE_USER)
    assert caught.value.extensions == {"code": "FORBIDDEN"}


def test_require_returns_the_decision_when_allowed(policy: Policy) -> None:
    decision = require(policy, PRINCIPALS["developer"], Action.CREATE_TOKEN)
    assert decision.allowed and decision.grants == (
        Grant("TEAM_ROLE", "DEVELOPER", "CREATE_TOKENS"),
    )


# --- holders() and the @requires directive ---------------------------------------------------------


@pytest.mark.parametrize("action", list(Action))
def test_holders_lists_who_holds_each_action(policy: Policy, action: Action) -> None:
    assert policy.holders(action) == HOLDERS[action]


@pytest.mark.parametrize("action", list(Action))
def test_holders_agree_with_decide(policy: Policy, action: Action) -> None:
    # A role is listed plainly iff decide gives it ALL, with :OWN iff it gives OWN.
    for role, column in ((TeamRole.ADMIN, "admin"), (TeamRole.DEVELOPER, "developer")):
        got = outcome(policy, PRINCIPALS[column], action)
        listed = policy.holders(action)
        if RULES[action].public or RULES[action].any_member:
            assert got == "ALL"
        else:
            assert (f"TeamRole.{role.value}" in listed) is (got == "ALL")
            assert (f"TeamRole.{role.value}:OWN" in listed) is (got == "OWN")


def test_requires_directive_in_the_sdl_is_the_policys_holders(policy: Policy) -> None:
    sdl = build_schema().as_str()
    found = {
        name: (action, anyof)
        for name, action, anyof in re.findall(
            r"^\s*(\w+)\(?[^\n]*?@requires\(action: \"(\w+)\", anyOf: \[(.*?)\]\)",
            sdl,
            re.MULTILINE | re.DOTALL,
        )
    }
    assert set(FIELD_ACTIONS) <= set(found)
    for name, (action, anyof) in found.items():
        holders = re.findall(r"\"([^\"]+)\"", anyof)
        assert holders == policy.holders(Action(action)), name
    for name, action in FIELD_ACTIONS.items():
        assert found[name][0] == action.value, name


# --- another grant source ---------------------------------------------------------------------------


class ExtraGrants:
    """A later grant source (e.g. account permissions, R33): one user may invite."""

    per_resource = False

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id

    def grants(
        self, principal: Principal, resource: Resource | None
    ) -> Iterable[tuple[Permission, Grant]]:
        if principal.user_id == self.user_id:
            yield P.INVITE_USERS, Grant("ACCOUNT_PERMISSION", "invite", P.INVITE_USERS.value)

    def holders(self, permission: Permission) -> Iterable[str]:
        return ["AccountPermission.INVITE"] if permission == P.INVITE_USERS else []


def test_decide_with_another_source_lists_its_grant() -> None:
    policy = Policy([TeamRoleGrants(), ExtraGrants(DEV_PK)])
    decision = policy.decide(PRINCIPALS["developer"], Action.INVITE_USER)
    assert decision.allowed and decision.grants == (
        Grant("ACCOUNT_PERMISSION", "invite", "INVITE_USERS"),
    )
    assert policy.holders(Action.INVITE_USER) == ["TeamRole.ADMIN", "AccountPermission.INVITE"]


def test_decide_with_another_source_still_caps_read_only_tokens_and_other_orgs() -> None:
    policy = Policy([TeamRoleGrants(), ExtraGrants(DEV_PK)])
    assert outcome(policy, PRINCIPALS["dev_ro"], Action.INVITE_USER) == "DENY"
    assert outcome(policy, PRINCIPALS["developer"], Action.INVITE_USER, Thing(OTHER_ORG)) == "DENY"
    assert outcome(policy, PRINCIPALS["developer"], Action.INVITE_USER, Thing(ORG)) == "ALL"


def test_the_owner_of_a_model_is_its_owner_id_column(policy: Policy) -> None:
    """A token (a mapped class with `owner_id`) is its owner's own; a user (a mapped class
    without one) is nobody's, not even their own, whatever its id."""
    from datetime import UTC, datetime

    from accessgraph.models import AccessToken, User

    developer = PRINCIPALS["developer"]
    now = datetime(2026, 12, 5, tzinfo=UTC)

    def token(owner: int) -> AccessToken:
        return AccessToken(
            id=7,
            org_id=ORG,
            owner_id=owner,
            name="ci",
            permission=TokenPermission.READ_ONLY,
            username="agt-x",
            secret_hash="0" * 64,
            created_at=now,
        )

    assert policy.decide(developer, Action.REVOKE_TOKEN, token(DEV_PK)).scope == Scope.OWN
    assert not policy.decide(developer, Action.REVOKE_TOKEN, token(DEV_PK + 1)).allowed
    assert developer.user_id is not None
    yourself = User(
        id=developer.user_id,
        org_id=ORG,
        email="dev@acme.test",
        role=TeamRole.DEVELOPER,
        status="ACTIVE",
        created_at=now,
    )
    assert _owner_id(yourself) is None and _owner_id(token(DEV_PK)) == DEV_PK
    # An "own" rule reaches a token of theirs, never a user: not even their own row.
    assert not policy.decide(developer, Action.REVOKE_TOKEN, yourself).allowed
    assert policy.decide(PRINCIPALS["admin"], Action.UPDATE_USER_ROLE, yourself).allowed


def test_a_decision_about_resources_alike_is_the_one_decide_made() -> None:
    """Issue 8: `decided` gives, without the resource, what `decide` decided for the same
    caller (the same object) about a resource alike: same class, same organization (or not),
    same owner (or not); None until `decide` has decided it, for another caller, and for
    classes a per-resource source looks inside."""
    import random

    shared = default_policy()
    asked = _every_question(list(PRINCIPALS.values()))
    rng = random.Random(9)
    found = 0
    for caller, action, resource in sorted(asked, key=lambda _: rng.random()):
        known = shared.decided(caller, action, Thing, resource.org_id, owner_id=resource.owner_id)
        fresh = default_policy().decide(caller, action, resource)
        if known is not None:
            found += 1
            assert known == fresh, (caller, action, resource)
        assert shared.decide(caller, action, resource) == fresh
        assert (
            shared.decided(caller, action, Thing, resource.org_id, owner_id=resource.owner_id)
            == fresh
        )
    assert found  # callers repeat: some answers were known before `decide` was asked

    admin = PRINCIPALS["admin"]
    thing = Thing(ORG, ADMIN_PK)
    shared.decide(admin, Action.REVOKE_TOKEN, thing)
    # Another caller (even an equal one), another organization, another owner: not known.
    assert (
        shared.decided(replace(admin), Action.REVOKE_TOKEN, Thing, ORG, owner_id=ADMIN_PK) is None
    )
    assert shared.decided(admin, Action.REVOKE_TOKEN, Thing, OTHER_ORG, owner_id=ADMIN_PK) is None
    assert shared.decided(admin, Action.REVOKE_TOKEN, Thing, ORG, owner_id=DEV_PK) is None
    assert shared.decided(admin, Action.REVOKE_TOKEN, Thing, ORG, owner_id=ADMIN_PK) is not None


def test_interleaved_callers_never_get_each_others_decisions() -> None:
    """Two requests in one event loop share the policy: after another caller's decision, the
    first caller's are not known (asked again, on the model), never the other's."""
    policy = default_policy()
    admin, developer = PRINCIPALS["admin"], PRINCIPALS["developer"]
    thing = Thing(ORG, DEV2_PK)
    assert policy.decide(admin, Action.DELETE_TOKEN, thing).allowed
    assert not policy.decide(developer, Action.DELETE_TOKEN, thing).allowed
    assert policy.decided(admin, Action.DELETE_TOKEN, Thing, ORG, owner_id=DEV2_PK) is None
    denied = policy.decided(developer, Action.DELETE_TOKEN, Thing, ORG, owner_id=DEV2_PK)
    assert denied is not None and not denied.allowed
    assert policy.decide(admin, Action.DELETE_TOKEN, thing).allowed
    allowed = policy.decided(admin, Action.DELETE_TOKEN, Thing, ORG, owner_id=DEV2_PK)
    assert allowed is not None and allowed.allowed
    assert policy.decided(developer, Action.DELETE_TOKEN, Thing, ORG, owner_id=DEV2_PK) is None


def test_no_decision_about_alike_resources_a_source_looks_inside() -> None:
    """A resource class some per-resource source reads (a subscription, an artifact) is
    decided on the resource itself, every time."""
    from accessgraph.auth.policy import ArtifactResource, SubscriptionResource

    policy = default_policy()
    admin = PRINCIPALS["admin"]
    subscription = SubscriptionResource(ORG, 5, SubscriptionRole.PRIMARY_ADMIN)
    assert policy.decide(admin, Action.MANAGE_SUBSCRIPTION_MEMBERS, subscription).allowed
    assert (
        policy.decided(
            admin, Action.MANAGE_SUBSCRIPTION_MEMBERS, SubscriptionResource, ORG, owner_id=None
        )
        is None
    )
    assert policy.decided(admin, Action.VIEW_USERS, ArtifactResource, ORG, owner_id=None) is None


def test_a_users_owner_is_nobody_alike_or_not() -> None:
    """A user (a mapped class without `owner_id`) is nobody's: asked with an owner, `decided`
    reads it as `decide` reads the user, with none."""
    from accessgraph.models import User

    policy = default_policy()
    developer = PRINCIPALS["developer"]
    assert developer.user_id is not None
    yourself = User(
        id=developer.user_id, org_id=ORG, email="dev@acme.test", role=TeamRole.DEVELOPER
    )
    decision = policy.decide(developer, Action.DELETE_USER, yourself)
    assert not decision.allowed
    for owner in (None, developer.user_id, ADMIN_PK):
        assert policy.decided(developer, Action.DELETE_USER, User, ORG, owner_id=owner) == decision
