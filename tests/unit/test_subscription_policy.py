"""accessgraph.auth.policy on subscriptions: the R19/R22 role matrix decided on a
`SubscriptionResource`, and the rules above it (R1 another organization, R14 read-only tokens,
a subscription token confined to its subscription, anonymous callers), and `holders()` as the
SDL's `@requires(anyOf:)` shows it."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pytest

from accessgraph.auth.policy import (
    RULES,
    SUBSCRIPTION_ROLE_PERMISSIONS,
    Action,
    Grant,
    Policy,
    Resource,
    Scope,
    SubscriptionPermission,
    SubscriptionResource,
    default_policy,
    require,
)
from accessgraph.auth.principal import ANONYMOUS, Principal
from accessgraph.errors import ExposedError
from accessgraph.models.enums import AccountPermission, SubscriptionRole, TeamRole, TokenPermission
from accessgraph.schema import build_schema

S = SubscriptionPermission
R = SubscriptionRole
ORG, OTHER_ORG = 1, 2
SUB, OTHER_SUB = 100, 200
PA_PK, ADMIN_PK, FINANCE_PK, TECH_PK, DEV_PK, ORG_ADMIN_PK = 10, 11, 12, 13, 14, 15

# R19 and R22, copied from SPEC.md: permission -> (PRIMARY_ADMIN, ADMIN, FINANCE, TECHNICAL).
# fmt: off
R22_MATRIX: dict[SubscriptionPermission, tuple[bool, bool, bool, bool]] = {
    S.VIEW_SUBSCRIPTION:           (True, True,  True,  True),
    S.MANAGE_SUBSCRIPTION_MEMBERS: (True, True,  False, False),  # R20
    S.VIEW_SUBSCRIPTION_USAGE:     (True, True,  True,  True),
    S.MANAGE_USAGE_NOTIFICATIONS:  (True, True,  True,  True),
    S.VIEW_BILLING:                (True, True,  True,  False),
    S.MANAGE_BILLING:              (True, True,  True,  False),
    S.VIEW_NETWORK:                (True, True,  False, True),
    S.MANAGE_NETWORK:              (True, True,  False, True),
    S.VIEW_SUBSCRIPTION_TOKENS:    (True, True,  False, True),
    S.MANAGE_SUBSCRIPTION_TOKENS:  (True, False, False, False),
}
# fmt: on
ROLES = (R.PRIMARY_ADMIN, R.ADMIN, R.FINANCE_MEMBER, R.TECHNICAL_MEMBER)

# The callers, as seen by Acme's subscription SUB. Members are team DEVELOPERs, so that only
# their subscription role can explain a decision; org_admin is a team ADMIN who is no member.
COLUMNS = ("primary_admin", "admin", "finance", "technical", "developer", "org_admin")
ROLE_OF: dict[str, SubscriptionRole | None] = {
    "primary_admin": R.PRIMARY_ADMIN,
    "admin": R.ADMIN,
    "finance": R.FINANCE_MEMBER,
    "technical": R.TECHNICAL_MEMBER,
    "developer": None,
    "org_admin": None,
}
PRINCIPALS: dict[str, Principal] = {
    "primary_admin": Principal(org_id=ORG, user_id=PA_PK, role=TeamRole.DEVELOPER),
    "admin": Principal(org_id=ORG, user_id=ADMIN_PK, role=TeamRole.DEVELOPER),
    "finance": Principal(org_id=ORG, user_id=FINANCE_PK, role=TeamRole.DEVELOPER),
    "technical": Principal(org_id=ORG, user_id=TECH_PK, role=TeamRole.DEVELOPER),
    "developer": Principal(org_id=ORG, user_id=DEV_PK, role=TeamRole.DEVELOPER),
    "org_admin": Principal(org_id=ORG, user_id=ORG_ADMIN_PK, role=TeamRole.ADMIN),
}

Y, N = "ALL", "DENY"
# Policy.decide(principal, action, SubscriptionResource(ORG, SUB, <the column's role>)).
# fmt: off
DECISIONS: dict[Action, tuple[str, ...]] = {
    #                                    PA ADMIN FINANCE TECH developer org_admin
    Action.LIST_SUBSCRIPTIONS:          (Y, Y,    Y,      Y,   Y,        Y),
    Action.VIEW_SUBSCRIPTION:           (Y, Y,    Y,      Y,   N,        Y),  # oversight
    Action.MANAGE_SUBSCRIPTION_MEMBERS: (Y, Y,    N,      N,   N,        N),
    Action.VIEW_SUBSCRIPTION_USAGE:     (Y, Y,    Y,      Y,   N,        N),
    Action.MANAGE_USAGE_NOTIFICATIONS:  (Y, Y,    Y,      Y,   N,        N),
    Action.VIEW_BILLING:                (Y, Y,    Y,      N,   N,        N),
    Action.UPDATE_BILLING:              (Y, Y,    Y,      N,   N,        N),
    Action.VIEW_NETWORK:                (Y, Y,    N,      Y,   N,        N),
    Action.UPDATE_NETWORK:              (Y, Y,    N,      Y,   N,        N),
    Action.VIEW_SUBSCRIPTION_TOKENS:    (Y, Y,    N,      Y,   N,        N),
    Action.MANAGE_SUBSCRIPTION_TOKENS:  (Y, N,    N,      N,   N,        N),
}
# fmt: on
SUBSCRIPTION_ACTIONS = list(DECISIONS)
ON_ONE_SUBSCRIPTION = [a for a in SUBSCRIPTION_ACTIONS if a != Action.LIST_SUBSCRIPTIONS]
WRITING = [a for a in SUBSCRIPTION_ACTIONS if RULES[a].writes]
READING = [a for a in SUBSCRIPTION_ACTIONS if not RULES[a].writes]
NOT_ABOUT_SUBSCRIPTIONS = [a for a in Action if not RULES[a].subscription and not RULES[a].public]

# Which subscription permission each role-decided action checks (Rule.any_of).
PERMISSION_OF: dict[Action, SubscriptionPermission] = {
    Action.VIEW_SUBSCRIPTION: S.VIEW_SUBSCRIPTION,
    Action.MANAGE_SUBSCRIPTION_MEMBERS: S.MANAGE_SUBSCRIPTION_MEMBERS,
    Action.VIEW_SUBSCRIPTION_USAGE: S.VIEW_SUBSCRIPTION_USAGE,
    Action.MANAGE_USAGE_NOTIFICATIONS: S.MANAGE_USAGE_NOTIFICATIONS,
    Action.VIEW_BILLING: S.VIEW_BILLING,
    Action.UPDATE_BILLING: S.MANAGE_BILLING,
    Action.VIEW_NETWORK: S.VIEW_NETWORK,
    Action.UPDATE_NETWORK: S.MANAGE_NETWORK,
    Action.VIEW_SUBSCRIPTION_TOKENS: S.VIEW_SUBSCRIPTION_TOKENS,
    Action.MANAGE_SUBSCRIPTION_TOKENS: S.MANAGE_SUBSCRIPTION_TOKENS,
}

_MEMBERS = [
    "SubscriptionRole.PRIMARY_ADMIN",
    "SubscriptionRole.ADMIN",
    "SubscriptionRole.FINANCE_MEMBER",
    "SubscriptionRole.TECHNICAL_MEMBER",
]
# What the @requires(anyOf:) directive says for each action (R19, R22).
HOLDERS: dict[Action, list[str]] = {
    Action.LIST_SUBSCRIPTIONS: ["MEMBER"],
    Action.VIEW_SUBSCRIPTION: [*_MEMBERS, "TeamRole.ADMIN", "AccountPermission.BILLING"],
    Action.MANAGE_SUBSCRIPTION_MEMBERS: _MEMBERS[:2],
    Action.VIEW_SUBSCRIPTION_USAGE: _MEMBERS,
    Action.MANAGE_USAGE_NOTIFICATIONS: _MEMBERS,
    Action.VIEW_BILLING: [*_MEMBERS[:3], "AccountPermission.BILLING"],  # R33
    Action.UPDATE_BILLING: [*_MEMBERS[:3], "AccountPermission.BILLING"],
    Action.VIEW_NETWORK: [*_MEMBERS[:2], "SubscriptionRole.TECHNICAL_MEMBER"],
    Action.UPDATE_NETWORK: [*_MEMBERS[:2], "SubscriptionRole.TECHNICAL_MEMBER"],
    Action.VIEW_SUBSCRIPTION_TOKENS: [*_MEMBERS[:2], "SubscriptionRole.TECHNICAL_MEMBER"],
    Action.MANAGE_SUBSCRIPTION_TOKENS: ["SubscriptionRole.PRIMARY_ADMIN"],
}

# Which schema field checks which action (the SDL, schema.graphql).
FIELD_ACTIONS: dict[str, Action] = {
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
}


@dataclass(frozen=True)
class Thing:
    """A resource that is not a subscription (like a user or a personal token)."""

    org_id: int
    owner_id: int | None = None


@pytest.fixture
def policy() -> Policy:
    return default_policy()


def on(role: SubscriptionRole | None, sub: int = SUB, org: int = ORG) -> SubscriptionResource:
    return SubscriptionResource(org_id=org, subscription_id=sub, viewer_role=role)


def token(
    principal: Principal,
    permission: TokenPermission = TokenPermission.READ_WRITE,
    subscription: int | None = None,
) -> Principal:
    """The principal as the backend builds it for one of their tokens."""
    return replace(
        principal, token_id=99, token_permission=permission, token_subscription_id=subscription
    )


def outcome(
    policy: Policy, principal: Principal, action: Action, resource: Resource | None = None
) -> str:
    decision = policy.decide(principal, action, resource)
    if decision.allowed:
        return decision.scope.value
    assert decision.scope == Scope.NONE and not decision.grants
    return "UNAUTH" if decision.unauthenticated else "DENY"


# --- the R19/R22 matrix ---------------------------------------------------------------------------


def test_subscription_permissions_are_exactly_the_r22_rows() -> None:
    assert set(SubscriptionPermission) == set(R22_MATRIX)
    assert set(SUBSCRIPTION_ROLE_PERMISSIONS) == set(SubscriptionRole)


@pytest.mark.parametrize("permission", list(R22_MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_subscription_role_permissions_match_r22(
    permission: SubscriptionPermission, role: SubscriptionRole
) -> None:
    expected = R22_MATRIX[permission][ROLES.index(role)]
    assert (permission in SUBSCRIPTION_ROLE_PERMISSIONS[role]) is expected


def test_decisions_table_covers_every_subscription_action() -> None:
    assert {a for a in Action if RULES[a].subscription} == set(DECISIONS) == set(HOLDERS)
    assert set(PERMISSION_OF) == set(ON_ONE_SUBSCRIPTION)
    for action, permission in PERMISSION_OF.items():
        assert permission in RULES[action].any_of, action


# --- decide: every subscription action x every kind of caller ----------------------------------------


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("action", SUBSCRIPTION_ACTIONS)
def test_decide_on_a_subscription_matches_the_table(
    policy: Policy, action: Action, column: str
) -> None:
    expected = DECISIONS[action][COLUMNS.index(column)]
    assert outcome(policy, PRINCIPALS[column], action, on(ROLE_OF[column])) == expected


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ON_ONE_SUBSCRIPTION)
def test_decide_names_the_subscription_role_that_allows(
    policy: Policy, action: Action, role: SubscriptionRole
) -> None:
    column = COLUMNS[ROLES.index(role)]
    decision = policy.decide(PRINCIPALS[column], action, on(role))
    if decision.allowed:
        assert decision.grants == (
            Grant("SUBSCRIPTION_ROLE", role.value, PERMISSION_OF[action].value),
        )


def test_decide_org_admin_sees_a_subscription_by_the_team_role_only(policy: Policy) -> None:
    # Oversight: that it exists, its plan and its members (R22 fields stay closed, see table).
    decision = policy.decide(PRINCIPALS["org_admin"], Action.VIEW_SUBSCRIPTION, on(None))
    assert decision.allowed and decision.grants == (
        Grant("TEAM_ROLE", "ADMIN", "MANAGE_TEAM_SETTINGS"),
    )


@pytest.mark.parametrize("role", ROLES)
def test_decide_org_admin_who_is_a_member_has_the_union(
    policy: Policy, role: SubscriptionRole
) -> None:
    """A team ADMIN with a subscription role: exactly that role's rights, plus seeing it."""
    org_admin = PRINCIPALS["org_admin"]
    column = COLUMNS[ROLES.index(role)]
    for action in ON_ONE_SUBSCRIPTION:
        as_member = DECISIONS[action][COLUMNS.index(column)]
        as_org_admin = DECISIONS[action][COLUMNS.index("org_admin")]
        expected = Y if Y in (as_member, as_org_admin) else N
        assert outcome(policy, org_admin, action, on(role)) == expected, action
    grants = policy.decide(org_admin, Action.VIEW_SUBSCRIPTION, on(role)).grants
    assert set(grants) == {
        Grant("SUBSCRIPTION_ROLE", role.value, "VIEW_SUBSCRIPTION"),
        Grant("TEAM_ROLE", "ADMIN", "MANAGE_TEAM_SETTINGS"),
    }


@pytest.mark.parametrize("action", ON_ONE_SUBSCRIPTION)
def test_decide_without_a_subscription_gives_no_subscription_role(
    policy: Policy, action: Action
) -> None:
    # The role comes from the resource asked about: with none, only team grants count
    # (a team admin may see that subscriptions exist: the `subscriptions` list).
    for column in COLUMNS:
        expected = Y if column == "org_admin" and action == Action.VIEW_SUBSCRIPTION else N
        assert outcome(policy, PRINCIPALS[column], action) == expected, column


@pytest.mark.parametrize("action", ON_ONE_SUBSCRIPTION)
def test_decide_role_grants_do_not_outlive_their_resource(policy: Policy, action: Action) -> None:
    # Principal-level grants are memoized; per-resource ones must not leak into that memo.
    principal = PRINCIPALS["primary_admin"]
    assert outcome(policy, principal, action, on(R.PRIMARY_ADMIN)) == Y
    assert outcome(policy, principal, action, on(None, sub=OTHER_SUB)) == N
    assert outcome(policy, principal, action) == N


def test_require_raises_forbidden_for_a_member_without_the_right(policy: Policy) -> None:
    with pytest.raises(ExposedError) as caught:
        require(policy, PRINCIPALS["technical"], Action.VIEW_BILLING, on(R.TECHNICAL_MEMBER))
    assert caught.value.extensions == {"code": "FORBIDDEN"}


# --- R1: another organization's subscription --------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ON_ONE_SUBSCRIPTION)
def test_decide_other_organizations_subscription_is_always_denied(
    policy: Policy, action: Action, role: SubscriptionRole
) -> None:
    foreign = on(role, org=OTHER_ORG)
    for column in COLUMNS:
        decision = policy.decide(PRINCIPALS[column], action, foreign)
        assert not decision.allowed and not decision.unauthenticated, (column, action)
        assert not decision.grants


# --- a subscription's API token: its subscription and nothing else ---------------------------------------


@pytest.mark.parametrize("column", ["primary_admin", "org_admin"])
@pytest.mark.parametrize("action", ON_ONE_SUBSCRIPTION)
def test_decide_subscription_token_acts_as_its_owner_in_its_subscription(
    policy: Policy, action: Action, column: str
) -> None:
    # The owner's role in SUB (PRIMARY_ADMIN: they made it) decides, as for the owner; but a
    # subscription token never manages credentials (a leaked one cannot mint a successor).
    owner = PRINCIPALS[column]
    scoped = token(owner, subscription=SUB)
    resource = on(R.PRIMARY_ADMIN)
    if action == Action.MANAGE_SUBSCRIPTION_TOKENS:
        assert outcome(policy, owner, action, resource) == Y
        assert outcome(policy, scoped, action, resource) != Y
        return
    assert outcome(policy, scoped, action, resource) == outcome(policy, owner, action, resource)
    assert outcome(policy, scoped, action, resource) == Y


@pytest.mark.parametrize("column", ["primary_admin", "org_admin"])
@pytest.mark.parametrize("action", ON_ONE_SUBSCRIPTION)
def test_decide_subscription_token_is_denied_on_another_subscription(
    policy: Policy, action: Action, column: str
) -> None:
    # Even where its owner holds every right (Primary Admin there, or team admin oversight).
    scoped = token(PRINCIPALS[column], subscription=SUB)
    other = on(R.PRIMARY_ADMIN, sub=OTHER_SUB)
    assert outcome(policy, PRINCIPALS[column], action, other) == Y
    decision = policy.decide(scoped, action, other)
    assert not decision.allowed and not decision.unauthenticated
    assert "scoped to one subscription" in decision.reason


@pytest.mark.parametrize("action", NOT_ABOUT_SUBSCRIPTIONS)
def test_decide_subscription_token_reaches_nothing_outside_subscriptions(
    policy: Policy, action: Action
) -> None:
    # The owner is a team ADMIN (VIEW_USERS, INVITE_USER, ...): the token reaches none of it.
    owner = PRINCIPALS["org_admin"]
    scoped = token(owner, subscription=SUB)
    resources: tuple[Resource | None, ...] = (
        None,
        Thing(ORG),
        Thing(ORG, owner_id=owner.user_id),
        on(R.PRIMARY_ADMIN),
    )
    assert outcome(policy, owner, action) == Y
    for resource in resources:
        decision = policy.decide(scoped, action, resource)
        assert not decision.allowed and not decision.unauthenticated, (action, resource)


def test_decide_subscription_token_may_list_subscriptions(policy: Policy) -> None:
    # The list itself is filtered to the token's subscription by the query.
    scoped = token(PRINCIPALS["developer"], subscription=SUB)
    assert outcome(policy, scoped, Action.LIST_SUBSCRIPTIONS) == Y


@pytest.mark.parametrize("action", WRITING)
def test_decide_read_only_subscription_token_is_refused_writes(
    policy: Policy, action: Action
) -> None:
    scoped = token(PRINCIPALS["primary_admin"], TokenPermission.READ_ONLY, subscription=SUB)
    decision = policy.decide(scoped, action, on(R.PRIMARY_ADMIN))
    assert not decision.allowed and "read-only" in decision.reason


# --- R14: a READ_ONLY personal token ---------------------------------------------------------------------


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("action", WRITING)
def test_decide_read_only_token_is_refused_every_subscription_write(
    policy: Policy, action: Action, column: str
) -> None:
    read_only = token(PRINCIPALS[column], TokenPermission.READ_ONLY)
    for resource in (on(R.PRIMARY_ADMIN), on(ROLE_OF[column]), None):
        decision = policy.decide(read_only, action, resource)
        assert not decision.allowed and not decision.unauthenticated
        assert "read-only" in decision.reason


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("action", READING)
def test_decide_read_only_token_reads_what_its_owner_reads(
    policy: Policy, action: Action, column: str
) -> None:
    owner = PRINCIPALS[column]
    resource = on(ROLE_OF[column])
    expected = DECISIONS[action][COLUMNS.index(column)]
    assert outcome(policy, token(owner, TokenPermission.READ_ONLY), action, resource) == expected


@pytest.mark.parametrize("column", COLUMNS)
@pytest.mark.parametrize("action", SUBSCRIPTION_ACTIONS)
def test_decide_read_write_token_does_exactly_what_its_owner_does(
    policy: Policy, action: Action, column: str
) -> None:
    resource = on(ROLE_OF[column])
    owner = PRINCIPALS[column]
    assert outcome(policy, token(owner), action, resource) == outcome(
        policy, owner, action, resource
    )


# --- anonymous ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", SUBSCRIPTION_ACTIONS)
def test_decide_anonymous_is_unauthenticated_on_subscriptions(
    policy: Policy, action: Action
) -> None:
    for resource in (None, on(None), on(R.PRIMARY_ADMIN)):
        decision = policy.decide(ANONYMOUS, action, resource)
        assert not decision.allowed and decision.unauthenticated


# --- holders() and the @requires directive in the SDL -------------------------------------------------


@pytest.mark.parametrize("action", SUBSCRIPTION_ACTIONS)
def test_holders_lists_who_holds_each_subscription_action(policy: Policy, action: Action) -> None:
    assert policy.holders(action) == HOLDERS[action]


@pytest.mark.parametrize("action", ON_ONE_SUBSCRIPTION)
def test_holders_agree_with_decide(policy: Policy, action: Action) -> None:
    listed = policy.holders(action)
    for role in ROLES:
        column = COLUMNS[ROLES.index(role)]
        allowed = outcome(policy, PRINCIPALS[column], action, on(role)) == Y
        assert (f"SubscriptionRole.{role.value}" in listed) is allowed, role
    org_admin = outcome(policy, PRINCIPALS["org_admin"], action, on(None)) == Y
    assert ("TeamRole.ADMIN" in listed) is org_admin
    assert "TeamRole.DEVELOPER" not in listed


def test_requires_directive_in_the_sdl_is_the_policys_holders(policy: Policy) -> None:
    sdl = build_schema().as_str()
    found = {
        name: (action, re.findall(r"\"([^\"]+)\"", any_of))
        for name, action, any_of in re.findall(
            r"^  (\w+)\b[^\n]*?@requires\(action: \"(\w+)\", anyOf: \[(.*?)\]\)",
            sdl,
            re.MULTILINE | re.DOTALL,
        )
    }
    assert set(FIELD_ACTIONS) <= set(found)
    for name, action in FIELD_ACTIONS.items():
        assert found[name] == (action.value, HOLDERS[action]), name
        assert found[name][1] == policy.holders(action), name


# --- R33: the BILLING account permission -------------------------------------------------------


def test_billing_account_permission_reaches_billing_of_every_subscription(policy: Policy) -> None:
    holder = replace(
        PRINCIPALS["developer"], account_permissions=frozenset({AccountPermission.BILLING})
    )
    anywhere = SubscriptionResource(org_id=ORG, subscription_id=SUB, viewer_role=None)
    for action in (Action.VIEW_SUBSCRIPTION, Action.VIEW_BILLING, Action.UPDATE_BILLING):
        decision = policy.decide(holder, action, anywhere)
        assert decision.allowed, action
        assert decision.grants[0].source == "ACCOUNT_PERMISSION"
    # Nothing else of the subscription comes with it (R22): not its network, tokens, members.
    for action in (
        Action.VIEW_NETWORK,
        Action.VIEW_SUBSCRIPTION_TOKENS,
        Action.MANAGE_SUBSCRIPTION_MEMBERS,
        Action.VIEW_SUBSCRIPTION_USAGE,
    ):
        assert not policy.decide(holder, action, anywhere).allowed, action
    # Another organization's subscription, a read-only token, a subscription-scoped token:
    # refused (the last acts through its subscription role only).
    assert not policy.decide(
        holder, Action.VIEW_BILLING, SubscriptionResource(OTHER_ORG, OTHER_SUB, None)
    ).allowed
    assert not policy.decide(
        token(holder, TokenPermission.READ_ONLY), Action.UPDATE_BILLING, anywhere
    ).allowed
    scoped = token(holder, subscription=SUB)
    technical = SubscriptionResource(ORG, SUB, R.TECHNICAL_MEMBER)
    assert not policy.decide(scoped, Action.VIEW_BILLING, technical).allowed
