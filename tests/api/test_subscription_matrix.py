"""THE subscription matrix (R18-R22): every protected field of `BillingSubscription` and every
subscription mutation, called by every kind of viewer, against one literal table.

Viewers of the Acme subscription:
- its PRIMARY_ADMIN (the organization's admin, world.admin), and members holding ADMIN,
  FINANCE_MEMBER and TECHNICAL_MEMBER (team DEVELOPERs, so that only the subscription role
  can explain what they may do);
- a developer of the organization who is not a member: the subscription does not exist for
  them (`subscription(id)` is null, `subscriptions` does not list it);
- a second team ADMIN who is not a member: oversight only. They see that the subscription
  exists, its name, plan and members, but every field R22 protects answers null with
  FORBIDDEN at its path, and every mutation is FORBIDDEN. (For the non-member developer,
  mutations naming the subscription answer NOT_FOUND: it does not exist for them.)

An allowed field answers its data; an unauthorized one is null with a FORBIDDEN error at its
path while the rest of the query answers (API.md). An allowed mutation takes effect; a refused
one changes nothing (database and outbox compared before and after).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from accessgraph.models import SubscriptionRole, TeamRole, TokenPermission, UserStatus
from accessgraph.schema import build_schema
from accessgraph.schema.base import from_global_id, to_global_id
from accessgraph.services import Services
from tests.conftest import (
    ANONYMOUS,
    Actor,
    Api,
    Factory,
    RecordingMailer,
    World,
    database_state,
    error_codes,
    payload,
)

GIB = 1024**3
OK, FORBIDDEN, HIDDEN = "ok", "FORBIDDEN", "HIDDEN"  # HIDDEN: subscription(id) is null
# A mutation naming a subscription the viewer cannot see answers NOT_FOUND, exactly as for an
# ID that does not exist: nobody learns that a hidden subscription exists.
NOT_FOUND = "NOT_FOUND"
VIEWERS = ("primary_admin", "admin", "finance", "technical", "developer", "org_admin")

# R19/R22 (and R20 for members), in the order of VIEWERS. Fields are read through
# `subscription(id)`; mutations name the subscription (or its notification / token).
# fmt: off
# resendSubscriptionInvitation sends a sign-up link: an invitation, which only team admins send
# (R7, R9); of the members only the Primary Admin (world.admin) is a team admin.
EXPECTED: dict[str, tuple[str, ...]] = {
    #                               PA  ADMIN  FINANCE    TECHNICAL  developer  org_admin
    # --- fields ---
    "members":                      (OK, OK,   OK,        OK,        HIDDEN,    OK),
    "usage":                        (OK, OK,   OK,        OK,        HIDDEN,    FORBIDDEN),
    "usageNotifications":           (OK, OK,   OK,        OK,        HIDDEN,    FORBIDDEN),
    "billing":                      (OK, OK,   OK,        FORBIDDEN, HIDDEN,    FORBIDDEN),
    "network":                      (OK, OK,   FORBIDDEN, OK,        HIDDEN,    FORBIDDEN),
    "apiTokens":                    (OK, OK,   FORBIDDEN, OK,        HIDDEN,    FORBIDDEN),
    # --- mutations ---
    "addSubscriptionMember":        (OK, OK,   FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "updateSubscriptionMemberRole": (OK, OK,   FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "removeSubscriptionMember":     (OK, OK,   FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "resendSubscriptionInvitation": (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "updateBillingDetails":         (OK, OK,   OK,        FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "updateNetworkSettings":        (OK, OK,   FORBIDDEN, OK,        NOT_FOUND, FORBIDDEN),
    "setUsageNotification":         (OK, OK,   OK,        OK,        NOT_FOUND, FORBIDDEN),
    "removeUsageNotification":      (OK, OK,   OK,        OK,        NOT_FOUND, FORBIDDEN),
    "createSubscriptionToken":      (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    "revokeSubscriptionToken":      (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN),
    # after revokeSubscriptionToken: R16, only a non-active token is deleted
    "deleteSubscriptionToken":      (OK, FORBIDDEN, FORBIDDEN, FORBIDDEN, NOT_FOUND, FORBIDDEN),
}
# fmt: on

FIELDS = ("members", "usage", "usageNotifications", "billing", "network", "apiTokens")
MUTATIONS = tuple(name for name in EXPECTED if name not in FIELDS)
# The policy actions decided on a subscription that a mutation may check.
SUBSCRIPTION_ACTIONS = {
    "MANAGE_SUBSCRIPTION_MEMBERS",
    "MANAGE_USAGE_NOTIFICATIONS",
    "UPDATE_BILLING",
    "UPDATE_NETWORK",
    "MANAGE_SUBSCRIPTION_TOKENS",
}

# --- query documents ---------------------------------------------------------------------------

SELECTIONS = {
    "members": "members { totalCount edges { role node { email } } }",
    "usage": "usage { storageLimitBytes transferLimitBytes storageUsedBytes }",
    "usageNotifications": "usageNotifications { id metric thresholdPercent }",
    "billing": "billing { company contactEmail paymentMethod { last4 } }",
    "network": "network { allowedIpRanges privateLinkEnabled }",
    "apiTokens": "apiTokens { totalCount nodes { id name viewerCanRevoke } }",
}
SUBSCRIPTION_FIELD = """
query SubscriptionField($id: ID!) {{
  subscription(id: $id) {{ id name plan {selection} }}
}}"""
EVERY_FIELD = (
    "query EveryField($id: ID!) { subscription(id: $id) { id name plan "
    + " ".join(SELECTIONS.values())
    + " } }"
)
VISIBILITY = """
query Visibility($id: ID!, $tokenId: ID!) {
  subscriptions { totalCount nodes { id viewerRole } }
  subscription(id: $id) {
    id name viewerRole
    viewerCanManageMembers viewerCanUpdateBilling viewerCanUpdateNetwork viewerCanManageTokens
    members {
      edges { role node { email } viewerCanUpdateRole viewerCanRemove viewerCanResendInvitation }
    }
  }
  node(id: $id) { id }
  tokenNode: node(id: $tokenId) { id }
}"""
ADD_MEMBER = """
mutation Add($sub: ID!, $user: ID!) {
  addSubscriptionMember(input: {subscriptionId: $sub, userId: $user, role: FINANCE_MEMBER}) {
    role user { email } errors { code }
  }
}"""
UPDATE_MEMBER_ROLE = """
mutation UpdateRole($sub: ID!, $user: ID!) {
  updateSubscriptionMemberRole(input: {subscriptionId: $sub, userId: $user, role: FINANCE_MEMBER}) {
    role user { email } errors { code }
  }
}"""
REMOVE_MEMBER = """
mutation Remove($sub: ID!, $user: ID!) {
  removeSubscriptionMember(input: {subscriptionId: $sub, userId: $user}) {
    removedUserId errors { code }
  }
}"""
RESEND_INVITATION = """
mutation Resend($sub: ID!, $user: ID!) {
  resendSubscriptionInvitation(input: {subscriptionId: $sub, userId: $user}) {
    user { email status } errors { code }
  }
}"""
UPDATE_BILLING = """
mutation Billing($sub: ID!) {
  updateBillingDetails(input: {
    subscriptionId: $sub, company: "Matrix Corp",
    card: {number: "5555555555554444", expMonth: 12, expYear: 2031}
  }) { billing { company paymentMethod { last4 } } errors { code } }
}"""
UPDATE_NETWORK = """
mutation Network($sub: ID!) {
  updateNetworkSettings(input: {subscriptionId: $sub, allowedIpRanges: ["192.168.0.0/16"]}) {
    network { allowedIpRanges } errors { code }
  }
}"""
SET_NOTIFICATION = """
mutation SetNotification($sub: ID!) {
  setUsageNotification(input: {subscriptionId: $sub, metric: TRANSFER, thresholdPercent: 90}) {
    notification { id metric thresholdPercent } errors { code }
  }
}"""
REMOVE_NOTIFICATION = """
mutation RemoveNotification($id: ID!) {
  removeUsageNotification(input: {notificationId: $id}) { removedNotificationId errors { code } }
}"""
CREATE_TOKEN = """
mutation CreateToken($sub: ID!) {
  createSubscriptionToken(input: {subscriptionId: $sub, name: "matrix", permission: READ_ONLY}) {
    secret token { id name } errors { code }
  }
}"""
REVOKE_TOKEN = """
mutation RevokeToken($id: ID!) {
  revokeSubscriptionToken(input: {tokenId: $id}) { token { id status } errors { code } }
}"""
DELETE_TOKEN = """
mutation DeleteToken($id: ID!) {
  deleteSubscriptionToken(input: {tokenId: $id}) { deletedTokenId errors { code } }
}"""
# Personal-token mutations: a subscription's token is not reachable through them (R22).
REVOKE_PERSONAL_TOKEN = """
mutation Revoke($id: ID!) { revokeToken(input: {tokenId: $id}) { token { id } errors { code } } }"""
DELETE_PERSONAL_TOKEN = """
mutation Delete($id: ID!) { deleteToken(input: {tokenId: $id}) { deletedTokenId errors { code } } }"""
TOKENS = "{ tokens { totalCount nodes { id name } } }"
AUDIT_EVENTS = "{ auditEvents(first: 100) { nodes { action before after } } }"
SUBSCRIPTIONS = "{ subscriptions { totalCount nodes { id } } }"

# Seeding, through the API as the Primary Admin: one request, four mutations (run in order).
SEED = """
mutation Seed($sub: ID!) {
  billing: updateBillingDetails(input: {
    subscriptionId: $sub, company: "Acme Corp", contactEmail: "billing@acme.test",
    card: {number: "4242424242424242", expMonth: 11, expYear: 2030}
  }) { errors { code } }
  network: updateNetworkSettings(input: {subscriptionId: $sub, allowedIpRanges: ["10.0.0.0/8"]}) {
    errors { code }
  }
  notification: setUsageNotification(
    input: {subscriptionId: $sub, metric: STORAGE, thresholdPercent: 80}
  ) { notification { id } errors { code } }
  token: createSubscriptionToken(
    input: {subscriptionId: $sub, name: "ci-deploy", permission: READ_WRITE}
  ) { token { id } errors { code } }
}"""

# --- the scene ---------------------------------------------------------------------------------

# The members besides the Primary Admin (team DEVELOPERs), email -> subscription role: the
# three viewers holding ADMIN, FINANCE_MEMBER, TECHNICAL_MEMBER, and two mutation targets.
TARGET_MEMBERS = {
    "subadmin@acme.test": SubscriptionRole.ADMIN,
    "finance@acme.test": SubscriptionRole.FINANCE_MEMBER,
    "tech@acme.test": SubscriptionRole.TECHNICAL_MEMBER,
    "target@acme.test": SubscriptionRole.TECHNICAL_MEMBER,  # updateSubscriptionMemberRole
    "leaver@acme.test": SubscriptionRole.FINANCE_MEMBER,  # removeSubscriptionMember
}
PENDING_EMAIL = "pending@acme.test"  # an INVITED member: resendSubscriptionInvitation
VIEWER_EMAILS = {
    "primary_admin": "admin@acme.test",
    "admin": "subadmin@acme.test",
    "finance": "finance@acme.test",
    "technical": "tech@acme.test",
    "developer": "dev@acme.test",
    "org_admin": "orgadmin@acme.test",
}
# Every member of the seeded subscription, with their role (what `members` lists).
ALL_MEMBERS = {
    "admin@acme.test": "PRIMARY_ADMIN",
    **{email: role.value for email, role in TARGET_MEMBERS.items()},
    PENDING_EMAIL: "TECHNICAL_MEMBER",
}


@dataclass
class Scene:
    services: Services
    factory: Factory
    world: World
    mailer: RecordingMailer
    subscription_id: str
    notification_id: str
    token_id: str
    user_pks: dict[str, int]  # email -> user pk
    actors: dict[str, Actor] = field(default_factory=dict)

    async def actor(self, viewer: str) -> Actor:
        """The viewer's console session (started on first use: sessions cost a write)."""
        if viewer not in self.actors:
            if viewer == "primary_admin":
                self.actors[viewer] = self.world.admin
            elif viewer == "developer":
                self.actors[viewer] = self.world.dev
            else:
                email = VIEWER_EMAILS[viewer]
                self.actors[viewer] = await self.factory.session_actor(viewer, self.user_pks[email])
        return self.actors[viewer]

    def user_id(self, email: str) -> str:
        return to_global_id("User", self.user_pks[email])


@pytest.fixture
async def scene(
    api: Api, factory: Factory, world: World, services: Services, mailer: RecordingMailer
) -> Scene:
    subscription_id = await factory.subscription("Acme", world.admin)
    user_pks = {
        "admin@acme.test": world.admin.user_pk or 0,
        "dev@acme.test": world.dev.user_pk or 0,
        "dev2@acme.test": world.dev2.user_pk or 0,
    }
    for email, role in TARGET_MEMBERS.items():
        pk = await factory.user(world.org, email)
        user_pks[email] = pk
        await factory.subscription_member(subscription_id, Actor(email, {}, pk, email), role)
    pending = await factory.user(world.org, PENDING_EMAIL, status=UserStatus.INVITED)
    user_pks[PENDING_EMAIL] = pending
    await factory.subscription_member(
        subscription_id,
        Actor(PENDING_EMAIL, {}, pending, PENDING_EMAIL),
        SubscriptionRole.TECHNICAL_MEMBER,
    )
    # A team ADMIN who is not a member of the subscription (world.admin is its Primary Admin).
    user_pks["orgadmin@acme.test"] = await factory.user(
        world.org, "orgadmin@acme.test", TeamRole.ADMIN
    )
    body = await api(SEED, {"sub": subscription_id}, as_=world.admin)
    assert not body.get("errors"), body
    seeded = body["data"]
    assert all(result["errors"] == [] for result in seeded.values()), body
    return Scene(
        services=services,
        factory=factory,
        world=world,
        mailer=mailer,
        subscription_id=subscription_id,
        notification_id=seeded["notification"]["notification"]["id"],
        token_id=seeded["token"]["token"]["id"],
        user_pks=user_pks,
    )


# --- reading state back ------------------------------------------------------------------------

SUBSCRIPTION_QUERIES = {
    "subscriptions": (
        "SELECT id, org_id, name, plan, billing_company, billing_contact_email, card_last4, "
        "card_exp_month, card_exp_year, allowed_ip_ranges, private_link_enabled, "
        "private_link_service_name FROM subscriptions ORDER BY id"
    ),
    "subscription_members": (
        "SELECT id, subscription_id, user_id, role FROM subscription_members ORDER BY id"
    ),
    "usage_notifications": (
        "SELECT id, subscription_id, metric, threshold_percent FROM usage_notifications ORDER BY id"
    ),
    "subscription_tokens": (
        "SELECT id, subscription_id, owner_id, name, permission, revoked_at FROM access_tokens "
        "WHERE subscription_id IS NOT NULL ORDER BY id"
    ),
}


async def state(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """database_state plus the subscription tables it does not cover."""
    snapshot = await database_state(services)
    async with services.db.session() as session:
        for name, sql in SUBSCRIPTION_QUERIES.items():
            rows = (await session.execute(text(sql))).all()
            snapshot[name] = [tuple(str(v) if isinstance(v, list) else v for v in r) for r in rows]
    return snapshot


async def _rows(services: Services, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with services.db.session() as session:
        return [tuple(row) for row in (await session.execute(text(sql), params)).all()]


async def _member_role(scene: Scene, email: str) -> str | None:
    sub_pk = _pk(scene.subscription_id, "BillingSubscription")
    rows = await _rows(
        scene.services,
        "SELECT role FROM subscription_members WHERE subscription_id = :s AND user_id = :u",
        s=sub_pk,
        u=scene.user_pks[email],
    )
    return str(rows[0][0]) if rows else None


def _pk(global_id: str, type_name: str) -> int:
    pk = from_global_id(global_id, type_name)
    assert pk is not None
    return pk


# --- the fields: what an allowed answer holds ------------------------------------------------------

FieldCheck = Callable[[Scene, str, Any], None]


def _members_ok(scene: Scene, viewer: str, data: Any) -> None:
    got = {edge["node"]["email"]: edge["role"] for edge in data["edges"]}
    assert got == ALL_MEMBERS and data["totalCount"] == len(ALL_MEMBERS)


def _usage_ok(scene: Scene, viewer: str, data: Any) -> None:
    assert data == {
        "storageLimitBytes": 1024 * GIB,
        "transferLimitBytes": 1024 * GIB,
        "storageUsedBytes": 0,
    }


def _notifications_ok(scene: Scene, viewer: str, data: Any) -> None:
    assert data == [{"id": scene.notification_id, "metric": "STORAGE", "thresholdPercent": 80}]


def _billing_ok(scene: Scene, viewer: str, data: Any) -> None:
    assert data == {
        "company": "Acme Corp",
        "contactEmail": "billing@acme.test",
        "paymentMethod": {"last4": "4242"},
    }


def _network_ok(scene: Scene, viewer: str, data: Any) -> None:
    assert data == {"allowedIpRanges": ["10.0.0.0/8"], "privateLinkEnabled": False}


def _api_tokens_ok(scene: Scene, viewer: str, data: Any) -> None:
    # R22: visible to PRIMARY_ADMIN, ADMIN and TECHNICAL_MEMBER, managed by PRIMARY_ADMIN only.
    assert data == {
        "totalCount": 1,
        "nodes": [
            {
                "id": scene.token_id,
                "name": "ci-deploy",
                "viewerCanRevoke": viewer == "primary_admin",
            }
        ],
    }


FIELD_CHECKS: dict[str, FieldCheck] = {
    "members": _members_ok,
    "usage": _usage_ok,
    "usageNotifications": _notifications_ok,
    "billing": _billing_ok,
    "network": _network_ok,
    "apiTokens": _api_tokens_ok,
}


# --- the mutations: how to call each, and what "took effect" means ---------------------------------

Prepare = Callable[[Scene], tuple[str, dict[str, Any]]]
Effect = Callable[[Scene, Any, dict[str, list[tuple[Any, ...]]]], Awaitable[None]]


@dataclass(frozen=True)
class Mutation:
    prepare: Prepare
    took_effect: Effect


async def _added(scene: Scene, data: Any, before: Any) -> None:
    assert data == {"role": "FINANCE_MEMBER", "user": {"email": "dev2@acme.test"}, "errors": []}
    assert await _member_role(scene, "dev2@acme.test") == "FINANCE_MEMBER"


async def _role_updated(scene: Scene, data: Any, before: Any) -> None:
    assert data == {"role": "FINANCE_MEMBER", "user": {"email": "target@acme.test"}, "errors": []}
    assert await _member_role(scene, "target@acme.test") == "FINANCE_MEMBER"


async def _removed(scene: Scene, data: Any, before: Any) -> None:
    assert data == {"removedUserId": scene.user_id("leaver@acme.test"), "errors": []}
    assert await _member_role(scene, "leaver@acme.test") is None


async def _resent(scene: Scene, data: Any, before: Any) -> None:
    assert data == {"user": {"email": PENDING_EMAIL, "status": "INVITED"}, "errors": []}
    links = await _rows(
        scene.services,
        "SELECT id FROM invitations WHERE user_id = :u",
        u=scene.user_pks[PENDING_EMAIL],
    )
    assert len(links) == 1 and scene.mailer.sent[-1].to == PENDING_EMAIL


async def _billing_updated(scene: Scene, data: Any, before: Any) -> None:
    assert data == {
        "billing": {"company": "Matrix Corp", "paymentMethod": {"last4": "4444"}},
        "errors": [],
    }
    [row] = await _rows(scene.services, "SELECT billing_company, card_last4 FROM subscriptions")
    assert row == ("Matrix Corp", "4444")


async def _network_updated(scene: Scene, data: Any, before: Any) -> None:
    assert data == {"network": {"allowedIpRanges": ["192.168.0.0/16"]}, "errors": []}
    [(ranges,)] = await _rows(scene.services, "SELECT allowed_ip_ranges FROM subscriptions")
    assert "192.168.0.0/16" in str(ranges) and "10.0.0.0/8" not in str(ranges)


async def _notification_set(scene: Scene, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["notification"]["metric"] == "TRANSFER"
    rows = await _rows(scene.services, "SELECT metric, threshold_percent FROM usage_notifications")
    assert ("TRANSFER", 90) in [(str(m), t) for m, t in rows]


async def _notification_removed(scene: Scene, data: Any, before: Any) -> None:
    assert data == {"removedNotificationId": scene.notification_id, "errors": []}
    assert (
        await _rows(
            scene.services,
            "SELECT id FROM usage_notifications WHERE id = :n",
            n=_pk(scene.notification_id, "UsageNotification"),
        )
        == []
    )


async def _token_created(scene: Scene, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["secret"] and data["token"]["name"] == "matrix"
    rows = await _rows(
        scene.services,
        "SELECT owner_id, permission FROM access_tokens WHERE name = 'matrix' "
        "AND subscription_id IS NOT NULL",
    )
    assert [(owner, str(p)) for owner, p in rows] == [
        (scene.world.admin.user_pk, TokenPermission.READ_ONLY.value)
    ]


async def _token_revoked(scene: Scene, data: Any, before: Any) -> None:
    assert data == {"token": {"id": scene.token_id, "status": "REVOKED"}, "errors": []}
    [(revoked_at,)] = await _rows(
        scene.services,
        "SELECT revoked_at FROM access_tokens WHERE id = :t",
        t=_pk(scene.token_id, "Token"),
    )
    assert revoked_at is not None


async def _token_deleted(scene: Scene, data: Any, before: Any) -> None:
    assert data == {"deletedTokenId": scene.token_id, "errors": []}
    rows = await _rows(
        scene.services, "SELECT id FROM access_tokens WHERE id = :t", t=_pk(scene.token_id, "Token")
    )
    assert rows == []


def _on_subscription(document: str, member: str | None = None) -> Prepare:
    def prepare(scene: Scene) -> tuple[str, dict[str, Any]]:
        variables: dict[str, Any] = {"sub": scene.subscription_id}
        if member is not None:
            variables["user"] = scene.user_id(member)
        return document, variables

    return prepare


OPERATIONS: dict[str, Mutation] = {
    "addSubscriptionMember": Mutation(_on_subscription(ADD_MEMBER, "dev2@acme.test"), _added),
    "updateSubscriptionMemberRole": Mutation(
        _on_subscription(UPDATE_MEMBER_ROLE, "target@acme.test"), _role_updated
    ),
    "removeSubscriptionMember": Mutation(
        _on_subscription(REMOVE_MEMBER, "leaver@acme.test"), _removed
    ),
    "resendSubscriptionInvitation": Mutation(
        _on_subscription(RESEND_INVITATION, PENDING_EMAIL), _resent
    ),
    "updateBillingDetails": Mutation(_on_subscription(UPDATE_BILLING), _billing_updated),
    "updateNetworkSettings": Mutation(_on_subscription(UPDATE_NETWORK), _network_updated),
    "setUsageNotification": Mutation(_on_subscription(SET_NOTIFICATION), _notification_set),
    "removeUsageNotification": Mutation(
        lambda s: (REMOVE_NOTIFICATION, {"id": s.notification_id}), _notification_removed
    ),
    "createSubscriptionToken": Mutation(_on_subscription(CREATE_TOKEN), _token_created),
    "deleteSubscriptionToken": Mutation(
        lambda s: (DELETE_TOKEN, {"id": s.token_id}), _token_deleted
    ),
    "revokeSubscriptionToken": Mutation(
        lambda s: (REVOKE_TOKEN, {"id": s.token_id}), _token_revoked
    ),
}


def _assert_forbidden_at(body: dict[str, Any], path: list[str | int]) -> None:
    """Exactly one error, FORBIDDEN, at `path`."""
    errors = body.get("errors") or []
    assert [(e.get("path"), e.get("extensions", {}).get("code")) for e in errors] == [
        (path, "FORBIDDEN")
    ], body


# --- the matrix ------------------------------------------------------------------------------------


def test_matrix_covers_every_protected_field_and_subscription_mutation() -> None:
    assert set(FIELDS) == set(SELECTIONS) == set(FIELD_CHECKS)
    assert set(MUTATIONS) == set(OPERATIONS)
    assert all(len(row) == len(VIEWERS) for row in EXPECTED.values())


def test_matrix_covers_what_the_sdl_protects() -> None:
    """Every field of BillingSubscription carrying @requires, and every mutation checking a
    subscription action, is in the table (and nothing else is)."""
    sdl = build_schema().as_str()
    body = sdl.split("type BillingSubscription implements Node {", 1)[1].split("\n}\n", 1)[0]
    protected = set(re.findall(r"^  (\w+)\b.*@requires", body, re.MULTILINE))
    assert protected == set(FIELDS)
    mutations = sdl.split("type Mutation {", 1)[1].split("\n}\n", 1)[0]
    found = dict(re.findall(r"^  (\w+)\(input: .*@requires\(action: \"(\w+)\"", mutations, re.M))
    assert {name for name, action in found.items() if action in SUBSCRIPTION_ACTIONS} == set(
        MUTATIONS
    )


async def _check_field(scene: Scene, api: Api, viewer: str, name: str, outcome: str) -> None:
    actor = await scene.actor(viewer)
    before = await state(scene.services)
    document = SUBSCRIPTION_FIELD.format(selection=SELECTIONS[name])
    body = await api(document, {"id": scene.subscription_id}, as_=actor)
    subscription = body["data"]["subscription"]
    if outcome == HIDDEN:
        # The developer who is not a member cannot even see that the subscription exists.
        assert subscription is None and not body.get("errors"), body
    else:
        # The rest of the query answers in every case.
        assert subscription is not None, body
        assert subscription["id"] == scene.subscription_id
        assert (subscription["name"], subscription["plan"]) == ("Acme Cloud", "PRO")
        if outcome == OK:
            assert not body.get("errors"), body
            FIELD_CHECKS[name](scene, viewer, subscription[name])
        else:
            assert subscription[name] is None, body
            _assert_forbidden_at(body, ["subscription", name])
    assert await state(scene.services) == before  # reading writes nothing


async def _check_mutation(scene: Scene, api: Api, viewer: str, name: str, outcome: str) -> None:
    actor = await scene.actor(viewer)
    mutation = OPERATIONS[name]
    before = await state(scene.services)
    mails_before = len(scene.mailer.sent)
    document, variables = mutation.prepare(scene)
    body = await api(document, variables, as_=actor)
    if outcome == OK:
        await mutation.took_effect(scene, payload(body, name), before)
        after = await state(scene.services)
        assert len(after["audit"]) == len(before["audit"]) + 1  # R35: the change is audited
        return
    if outcome == NOT_FOUND:
        assert [e["code"] for e in payload(body, name)["errors"]] == ["NOT_FOUND"], body
    else:
        assert outcome == FORBIDDEN
        assert body["data"][name] is None, body
        _assert_forbidden_at(body, [name])
    assert await state(scene.services) == before
    assert len(scene.mailer.sent) == mails_before


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_subscription_matrix(api: Api, scene: Scene, viewer: str) -> None:
    """R19/R22 (R20 for members): every protected field, then every mutation, as one viewer,
    against EXPECTED. One scene per viewer: the fields only read, and each allowed mutation
    aims at its own target, so the cells do not depend on each other. Every mismatching cell
    is reported, not just the first."""
    failures: list[str] = []
    for name, outcomes in EXPECTED.items():
        outcome = outcomes[VIEWERS.index(viewer)]
        check = _check_field if name in FIELDS else _check_mutation
        try:
            await check(scene, api, viewer, name, outcome)
        except AssertionError as exc:
            failures.append(f"{name} as {viewer}, expected {outcome}: {exc}")
    assert not failures, "\n".join(failures)


# --- viewerCan... booleans, and who sees the subscription at all -----------------------------------


def _allowed(operation: str, viewer: str) -> bool:
    return EXPECTED[operation][VIEWERS.index(viewer)] == OK


@pytest.mark.parametrize("viewer", VIEWERS)
async def test_subscription_viewer_can_flags_follow_the_matrix(
    api: Api, scene: Scene, viewer: str
) -> None:
    """The console's viewerCan... booleans say exactly what the matrix lets the viewer do, and
    every path to the subscription (subscription, subscriptions, node) agrees on who sees it."""
    actor = await scene.actor(viewer)
    body = await api(
        VISIBILITY, {"id": scene.subscription_id, "tokenId": scene.token_id}, as_=actor
    )
    assert not body.get("errors"), body
    data = body["data"]
    expected_role = ALL_MEMBERS.get(VIEWER_EMAILS[viewer])

    if viewer == "developer":
        # Not a member, not a team admin: the subscription does not exist for them.
        assert data["subscriptions"] == {"totalCount": 0, "nodes": []}
        assert data["subscription"] is None and data["node"] is None
        assert data["tokenNode"] is None
        return

    assert data["subscriptions"] == {
        "totalCount": 1,
        "nodes": [{"id": scene.subscription_id, "viewerRole": expected_role}],
    }
    assert data["node"] == {"id": scene.subscription_id}
    # A subscription token is reachable by node(id) exactly where apiTokens is readable (R22).
    assert (data["tokenNode"] is not None) is _allowed("apiTokens", viewer)

    subscription = data["subscription"]
    manage = _allowed("addSubscriptionMember", viewer)
    assert subscription["viewerRole"] == expected_role
    assert {
        "viewerCanManageMembers": subscription["viewerCanManageMembers"],
        "viewerCanUpdateBilling": subscription["viewerCanUpdateBilling"],
        "viewerCanUpdateNetwork": subscription["viewerCanUpdateNetwork"],
        "viewerCanManageTokens": subscription["viewerCanManageTokens"],
    } == {
        "viewerCanManageMembers": manage,
        "viewerCanUpdateBilling": _allowed("updateBillingDetails", viewer),
        "viewerCanUpdateNetwork": _allowed("updateNetworkSettings", viewer),
        "viewerCanManageTokens": _allowed("createSubscriptionToken", viewer),
    }
    # The member edges: the Primary Admin is never edited or removed (R21); the others by
    # whoever manages members (R20); a pending member's link is resent only by those of them
    # who are team admins, since a sign-up link is an invitation (R7, R9).
    edges = subscription["members"]["edges"]
    assert {e["node"]["email"] for e in edges} == set(ALL_MEMBERS)
    for edge in edges:
        editable = manage and edge["role"] != "PRIMARY_ADMIN"
        pending = edge["node"]["email"] == PENDING_EMAIL
        assert edge["viewerCanUpdateRole"] is editable, edge
        assert edge["viewerCanRemove"] is editable, edge
        resend = _allowed("resendSubscriptionInvitation", viewer)
        assert edge["viewerCanResendInvitation"] is (resend and pending), edge


# --- tokens, other organizations, anonymous ----------------------------------------------------------


async def _every_mutation_refused(
    api: Api, scene: Scene, actor: Actor, check: Callable[[dict[str, Any], str], None]
) -> None:
    for operation, mutation in OPERATIONS.items():
        before = await state(scene.services)
        mails_before = len(scene.mailer.sent)
        document, variables = mutation.prepare(scene)
        body = await api(document, variables, as_=actor)
        check(body, operation)
        assert await state(scene.services) == before, operation
        assert len(scene.mailer.sent) == mails_before, operation


async def test_subscription_read_only_token_of_primary_admin_reads_every_field(
    api: Api, scene: Scene, factory: Factory
) -> None:
    """R14 with R22: a READ_ONLY personal token of the Primary Admin reads what they read."""
    token = await factory.token(scene.world.admin, TokenPermission.READ_ONLY, "console-ro")
    body = await api(EVERY_FIELD, {"id": scene.subscription_id}, as_=token)
    assert not body.get("errors"), body
    subscription = body["data"]["subscription"]
    for name in FIELDS:
        # viewerCanRevoke: false for the token, as for every viewer but the Primary Admin.
        FIELD_CHECKS[name](scene, "read-only token", subscription[name])
    # ... but the console must not offer it any action (R14: it can change nothing).
    assert subscription["apiTokens"]["nodes"][0]["viewerCanRevoke"] is False
    flags = await api(
        VISIBILITY, {"id": scene.subscription_id, "tokenId": scene.token_id}, as_=token
    )
    assert not flags.get("errors"), flags
    got = flags["data"]["subscription"]
    assert got["viewerRole"] == "PRIMARY_ADMIN"
    assert not any(
        got[flag]
        for flag in (
            "viewerCanManageMembers",
            "viewerCanUpdateBilling",
            "viewerCanUpdateNetwork",
            "viewerCanManageTokens",
        )
    ), got
    assert not any(
        e[flag]
        for e in got["members"]["edges"]
        for flag in ("viewerCanUpdateRole", "viewerCanRemove", "viewerCanResendInvitation")
    ), got


async def test_subscription_mutations_read_only_token_of_primary_admin_is_refused(
    api: Api, scene: Scene, factory: Factory
) -> None:
    """R14: every subscription mutation is FORBIDDEN for a READ_ONLY token, nothing changes."""
    token = await factory.token(scene.world.admin, TokenPermission.READ_ONLY, "console-ro")

    def forbidden(body: dict[str, Any], operation: str) -> None:
        assert body["data"][operation] is None, body
        _assert_forbidden_at(body, [operation])

    await _every_mutation_refused(api, scene, token, forbidden)


async def test_subscription_other_organizations_admin_finds_nothing(api: Api, scene: Scene) -> None:
    """R1: Globex's admin gets null for Acme's subscription ID, and NOT_FOUND (a UserError)
    for every mutation naming it, its notification or its token; nothing of Acme leaks."""
    other = scene.world.other_admin
    body = await api(EVERY_FIELD, {"id": scene.subscription_id}, as_=other)
    assert body == {"data": {"subscription": None}}, body
    body = await api(
        VISIBILITY, {"id": scene.subscription_id, "tokenId": scene.token_id}, as_=other
    )
    assert not body.get("errors"), body
    assert body["data"]["subscriptions"] == {"totalCount": 0, "nodes": []}
    assert body["data"]["subscription"] is None and body["data"]["node"] is None
    assert body["data"]["tokenNode"] is None

    def not_found(body: dict[str, Any], operation: str) -> None:
        result = payload(body, operation)
        assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"], body
        assert all(v is None for k, v in result.items() if k != "errors"), body
        assert "acme" not in str(body).lower(), body

    await _every_mutation_refused(api, scene, other, not_found)


async def test_subscription_anonymous_is_unauthenticated(api: Api, scene: Scene) -> None:
    body = await api(EVERY_FIELD, {"id": scene.subscription_id}, as_=ANONYMOUS)
    assert body["data"] is None or body["data"]["subscription"] is None, body
    assert error_codes(body) == ["UNAUTHENTICATED"], body
    body = await api(SUBSCRIPTIONS, as_=ANONYMOUS)
    assert (body["data"] or {}).get("subscriptions") is None
    assert error_codes(body) == ["UNAUTHENTICATED"], body

    def unauthenticated(body: dict[str, Any], operation: str) -> None:
        assert body["data"] is None or body["data"][operation] is None, body
        assert error_codes(body) == ["UNAUTHENTICATED"], body

    await _every_mutation_refused(api, scene, ANONYMOUS, unauthenticated)


async def test_revoke_token_org_admin_cannot_reach_a_subscription_token(
    api: Api, scene: Scene
) -> None:
    """R22: a subscription's tokens are managed by its PRIMARY_ADMIN only; the team admin's
    personal-token powers (R15, R16) do not reach them, nor list them."""
    org_admin = await scene.actor("org_admin")
    before = await state(scene.services)
    for document, name in (
        (REVOKE_PERSONAL_TOKEN, "revokeToken"),
        (DELETE_PERSONAL_TOKEN, "deleteToken"),
    ):
        body = await api(document, {"id": scene.token_id}, as_=org_admin)
        assert [e["code"] for e in payload(body, name)["errors"]] == ["NOT_FOUND"], body
    body = await api(TOKENS, as_=org_admin)
    assert scene.token_id not in str(body), body
    assert await state(scene.services) == before


async def test_subscription_roles_are_per_subscription(
    api: Api, scene: Scene, factory: Factory
) -> None:
    """R18: a role holds in its own subscription only. finance@ is FINANCE_MEMBER of Acme Cloud
    and TECHNICAL_MEMBER of a second subscription, Acme Edge; dev2, Acme Edge's Primary Admin,
    cannot reach Acme Cloud's settings, notification, token or members, whichever argument
    (subscription, notification or token ID) names them."""
    dev2 = scene.world.dev2
    edge_id = await factory.subscription("Acme", dev2, name="Acme Edge")
    await factory.subscription_member(
        edge_id, await scene.actor("finance"), SubscriptionRole.TECHNICAL_MEMBER
    )
    finance = await scene.actor("finance")

    # finance: FINANCE_MEMBER of Acme Cloud, TECHNICAL_MEMBER of Acme Edge.
    for sub_id, billing_ok, network_ok in (
        (scene.subscription_id, True, False),
        (edge_id, False, True),
    ):
        body = await api(EVERY_FIELD, {"id": sub_id}, as_=finance)
        got = body["data"]["subscription"]
        assert (got["billing"] is not None) is billing_ok, body
        assert (got["network"] is not None) is network_ok, body
        assert got["usage"] is not None, body

    # dev2 is Primary Admin of Acme Edge only: Acme Cloud does not exist for them.
    before = await state(scene.services)
    for operation in (
        "updateBillingDetails",
        "removeUsageNotification",
        "revokeSubscriptionToken",
        "addSubscriptionMember",
    ):
        document, variables = OPERATIONS[operation].prepare(scene)
        body = await api(document, variables, as_=dev2)
        assert [e["code"] for e in payload(body, operation)["errors"]] == ["NOT_FOUND"], body
    assert await state(scene.services) == before


async def test_audit_events_org_admin_does_not_read_a_subscriptions_billing_or_network(
    api: Api, scene: Scene
) -> None:
    """R22 holds on every path: the team admin who is not a member keeps the audit trail of
    the subscription (R35: who changed billing and network, when), never the protected values
    themselves, which `subscription(id)` refuses them."""
    org_admin = await scene.actor("org_admin")
    fields = await api(EVERY_FIELD, {"id": scene.subscription_id}, as_=org_admin)
    assert fields["data"]["subscription"]["billing"] is None
    assert fields["data"]["subscription"]["network"] is None

    body = await api(AUDIT_EVENTS, as_=org_admin)
    assert not body.get("errors"), body
    actions = {node["action"] for node in body["data"]["auditEvents"]["nodes"]}
    assert {"subscription.billing_update", "subscription.network_update"} <= actions
    answer = json.dumps(body)
    leaked = [
        value
        for value in ("Acme Corp", "billing@acme.test", "**** 4242", "10.0.0.0/8")
        if value in answer
    ]
    assert leaked == [], answer
