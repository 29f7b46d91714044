"""Subscriptions through the GraphQL API (R18-R22, R35): members and their roles, member
invitations and statuses (R5, R7-R9), billing details, network settings and usage
notifications, and the audit trail of every change.

The world's admin (a team ADMIN) is the Primary Admin of the subscription "Acme Cloud" unless
a test says otherwise.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from sqlalchemy import text

from accessgraph.models import SubscriptionRole, TokenPermission
from accessgraph.resolvers import subscriptions
from accessgraph.schema.base import from_global_id, to_global_id
from accessgraph.services import Services
from tests.conftest import (
    Actor,
    Api,
    Factory,
    RecordingMailer,
    World,
    assert_no_permission,
    database_state,
    error_codes,
    payload,
)

SUBSCRIPTION = """
query Subscription($id: ID!) {
  subscription(id: $id) {
    id name plan viewerRole viewerCanManageMembers
    members {
      totalCount
      edges {
        role status viewerCanUpdateRole viewerCanRemove viewerCanResendInvitation
        node { id email role status }
      }
    }
  }
}"""
ADD_MEMBER = """
mutation Add($input: AddSubscriptionMemberInput!) {
  addSubscriptionMember(input: $input) {
    subscription { id viewerRole viewerCanManageMembers }
    user { id email role status }
    role
    errors { code message field }
  }
}"""
UPDATE_MEMBER_ROLE = """
mutation UpdateRole($input: UpdateSubscriptionMemberRoleInput!) {
  updateSubscriptionMemberRole(input: $input) {
    subscription { id viewerRole viewerCanManageMembers }
    user { id email }
    role
    errors { code message field }
  }
}"""
REMOVE_MEMBER = """
mutation Remove($input: SubscriptionMemberInput!) {
  removeSubscriptionMember(input: $input) {
    subscription { id viewerRole members { totalCount } }
    removedUserId
    errors { code message field }
  }
}"""
RESEND_INVITATION = """
mutation Resend($input: SubscriptionMemberInput!) {
  resendSubscriptionInvitation(input: $input) {
    user { id email status }
    role
    errors { code message field }
  }
}"""
ACCEPT_INVITATION = """
mutation Accept($token: String!) {
  acceptInvitation(input: {token: $token, password: "a long enough passphrase"}) {
    user { id status } errors { code }
  }
}"""
DELETE_USER = """
mutation Delete($userId: ID!) {
  deleteUser(input: {userId: $userId}) { deletedUserId errors { code message field } }
}"""
AUDIT_EVENTS = """
query Audit($filter: AuditEventFilter) {
  auditEvents(first: 100, filter: $filter) {
    nodes {
      action actorLabel actor { id } targetType targetId targetLabel before after createdAt
    }
  }
}"""
BILLING = """
query Billing($id: ID!) {
  subscription(id: $id) {
    billing {
      contactName contactEmail company addressLine1 addressLine2 city postalCode country vatId
      paymentMethod { brand last4 expMonth expYear display }
    }
  }
}"""
UPDATE_BILLING = """
mutation Billing($input: UpdateBillingDetailsInput!) {
  updateBillingDetails(input: $input) {
    billing {
      contactName contactEmail company city postalCode country vatId
      paymentMethod { brand last4 expMonth expYear display }
    }
    errors { code message field }
  }
}"""
NETWORK = """
query Network($id: ID!) {
  subscription(id: $id) {
    network { allowedIpRanges privateLinkEnabled privateLinkServiceName updatedAt }
  }
}"""
UPDATE_NETWORK = """
mutation Network($input: UpdateNetworkSettingsInput!) {
  updateNetworkSettings(input: $input) {
    network { allowedIpRanges privateLinkEnabled privateLinkServiceName }
    errors { code message field }
  }
}"""
USAGE = """
query Usage($id: ID!) {
  subscription(id: $id) {
    usage { storageUsedBytes storageLimitBytes storagePercent transferUsedBytes transferPercent }
    usageNotifications { id metric thresholdPercent reached createdBy { email } }
  }
}"""
SET_USAGE_NOTIFICATION = """
mutation SetNotification($input: SetUsageNotificationInput!) {
  setUsageNotification(input: $input) {
    notification { id metric thresholdPercent reached }
    errors { code message field }
  }
}"""
REMOVE_USAGE_NOTIFICATION = """
mutation RemoveNotification($id: ID!) {
  removeUsageNotification(input: {notificationId: $id}) {
    removedNotificationId
    errors { code message field }
  }
}"""
CREATE_SUBSCRIPTION_TOKEN = """
mutation CreateToken($input: CreateSubscriptionTokenInput!) {
  createSubscriptionToken(input: $input) { token { id name } secret errors { code } }
}"""
REVOKE_SUBSCRIPTION_TOKEN = """
mutation RevokeToken($id: ID!) {
  revokeSubscriptionToken(input: {tokenId: $id}) { token { id status } errors { code } }
}"""

NEWCOMER = "newcomer@acme.test"
GIB = 1024**3
CARD = "4242 4242 4242 4242"
CARD_DIGITS = "4242424242424242"
OPERATOR_LABEL = "operator (accessgraph command line)"


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
async def sub_id(factory: Factory, world: World) -> str:
    """The subscription "Acme Cloud"; the world's admin is its Primary Admin (operator-made)."""
    return await factory.subscription("Acme", world.admin)


async def state(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """database_state plus the subscription tables, to prove a refusal changed nothing."""
    snapshot = await database_state(services)
    queries = {
        "subscriptions": "SELECT * FROM subscriptions ORDER BY id",
        "members": "SELECT id, subscription_id, user_id, role FROM subscription_members ORDER BY id",
        "notifications": "SELECT id, subscription_id, metric, threshold_percent FROM usage_notifications ORDER BY id",
    }
    async with services.db.session() as session:
        for name, sql in queries.items():
            rows = (await session.execute(text(sql))).all()
            snapshot[name] = [tuple(str(value) for value in row) for row in rows]
    return snapshot


async def read_subscription(api: Api, actor: Actor, sub_id: str) -> dict[str, Any] | None:
    body = await api(SUBSCRIPTION, {"id": sub_id}, as_=actor)
    assert not body.get("errors"), body
    result: dict[str, Any] | None = body["data"]["subscription"]
    return result


async def members(api: Api, actor: Actor, sub_id: str) -> dict[str, dict[str, Any]]:
    """email -> member edge, as `actor` sees the member list."""
    subscription = await read_subscription(api, actor, sub_id)
    assert subscription is not None
    return {edge["node"]["email"]: edge for edge in subscription["members"]["edges"]}


async def add(api: Api, actor: Actor, sub_id: str, **fields: Any) -> dict[str, Any]:
    return await api(ADD_MEMBER, {"input": {"subscriptionId": sub_id, **fields}}, as_=actor)


async def added(api: Api, actor: Actor, sub_id: str, **fields: Any) -> dict[str, Any]:
    result = payload(await add(api, actor, sub_id, **fields), "addSubscriptionMember")
    assert result["errors"] == [], result
    return result


async def update_role(
    api: Api, actor: Actor, sub_id: str, user_id: str, role: str
) -> dict[str, Any]:
    return await api(
        UPDATE_MEMBER_ROLE,
        {"input": {"subscriptionId": sub_id, "userId": user_id, "role": role}},
        as_=actor,
    )


async def remove(api: Api, actor: Actor, sub_id: str, user_id: str) -> dict[str, Any]:
    return await api(
        REMOVE_MEMBER, {"input": {"subscriptionId": sub_id, "userId": user_id}}, as_=actor
    )


async def resend(api: Api, actor: Actor, sub_id: str, user_id: str) -> dict[str, Any]:
    return await api(
        RESEND_INVITATION, {"input": {"subscriptionId": sub_id, "userId": user_id}}, as_=actor
    )


async def events(api: Api, actor: Actor, action: str) -> list[dict[str, Any]]:
    body = await api(AUDIT_EVENTS, {"filter": {"action": action}}, as_=actor)
    assert not body.get("errors"), body
    nodes: list[dict[str, Any]] = body["data"]["auditEvents"]["nodes"]
    return nodes


async def update_billing(api: Api, actor: Actor, sub_id: str, **fields: Any) -> dict[str, Any]:
    return await api(UPDATE_BILLING, {"input": {"subscriptionId": sub_id, **fields}}, as_=actor)


async def read_billing(api: Api, actor: Actor, sub_id: str) -> dict[str, Any]:
    body = await api(BILLING, {"id": sub_id}, as_=actor)
    assert not body.get("errors"), body
    billing: dict[str, Any] = body["data"]["subscription"]["billing"]
    return billing


async def update_network(api: Api, actor: Actor, sub_id: str, **fields: Any) -> dict[str, Any]:
    return await api(UPDATE_NETWORK, {"input": {"subscriptionId": sub_id, **fields}}, as_=actor)


async def read_network(api: Api, actor: Actor, sub_id: str) -> dict[str, Any]:
    body = await api(NETWORK, {"id": sub_id}, as_=actor)
    assert not body.get("errors"), body
    network: dict[str, Any] = body["data"]["subscription"]["network"]
    return network


async def set_notification(
    api: Api, actor: Actor, sub_id: str, threshold: int, metric: str = "STORAGE"
) -> dict[str, Any]:
    return await api(
        SET_USAGE_NOTIFICATION,
        {"input": {"subscriptionId": sub_id, "metric": metric, "thresholdPercent": threshold}},
        as_=actor,
    )


async def read_usage(api: Api, actor: Actor, sub_id: str) -> dict[str, Any]:
    body = await api(USAGE, {"id": sub_id}, as_=actor)
    assert not body.get("errors"), body
    subscription: dict[str, Any] = body["data"]["subscription"]
    return subscription


def pk(sub_id: str) -> int:
    value = from_global_id(sub_id, "BillingSubscription")
    assert value is not None
    return value


def only_error(body: dict[str, Any], field_name: str) -> dict[str, Any]:
    """The one UserError of a refused mutation, whose object fields are null."""
    result = payload(body, field_name)
    assert len(result["errors"]) == 1, result
    for key, value in result.items():
        if key != "errors":
            assert value is None, result
    error: dict[str, Any] = result["errors"][0]
    return error


# --- addSubscriptionMember (R18, R20) -----------------------------------------------------------


async def test_add_subscription_member_by_user_id_defaults_to_admin(
    api: Api, world: World, sub_id: str
) -> None:
    """R20: a member added without a role is ADMIN."""
    result = await added(api, world.admin, sub_id, userId=world.dev.id)
    assert result["role"] == "ADMIN"
    assert result["user"] == {
        "id": world.dev.id,
        "email": "dev@acme.test",
        "role": "DEVELOPER",
        "status": "ACTIVE",
    }
    assert result["subscription"]["id"] == sub_id
    listed = await members(api, world.admin, sub_id)
    assert {email: edge["role"] for email, edge in listed.items()} == {
        "admin@acme.test": "PRIMARY_ADMIN",
        "dev@acme.test": "ADMIN",
    }
    assert listed["dev@acme.test"]["status"] == "ACTIVE"


async def test_add_subscription_member_with_explicit_role(
    api: Api, world: World, sub_id: str
) -> None:
    """R20: Primary Admins and Admins set FINANCE_MEMBER or TECHNICAL_MEMBER."""
    for actor, role in [(world.dev, "FINANCE_MEMBER"), (world.dev2, "TECHNICAL_MEMBER")]:
        result = await added(api, world.admin, sub_id, userId=actor.id, role=role)
        assert result["role"] == role
        assert (await members(api, world.admin, sub_id))[actor.email]["role"] == role
        own_view = await read_subscription(api, actor, sub_id)
        assert own_view is not None
        assert own_view["viewerRole"] == role


async def test_add_subscription_member_by_an_admin_member(
    api: Api, world: World, factory: Factory, sub_id: str
) -> None:
    """R20: an ADMIN of the subscription (here a team developer) adds existing users too."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.ADMIN)
    result = await added(api, world.dev, sub_id, userId=world.dev2.id, role="FINANCE_MEMBER")
    assert result["role"] == "FINANCE_MEMBER"
    assert result["subscription"]["viewerRole"] == "ADMIN"


async def test_add_subscription_member_by_email_invites_new_person(
    api: Api, world: World, mailer: RecordingMailer, sub_id: str
) -> None:
    """R7, R20: a team admin who manages the subscription invites a new person: a DEVELOPER,
    INVITED, emailed a sign-up link, and listed as a member with status INVITED."""
    result = await added(
        api, world.admin, sub_id, email=NEWCOMER, firstName="New", lastName="Comer"
    )
    assert result["role"] == "ADMIN"
    assert result["user"]["email"] == NEWCOMER
    assert result["user"]["role"] == "DEVELOPER"
    assert result["user"]["status"] == "INVITED"
    assert [message.to for message in mailer.sent] == [NEWCOMER]
    assert "Acme" in mailer.sent[0].body
    edge = (await members(api, world.admin, sub_id))[NEWCOMER]
    assert (edge["role"], edge["status"]) == ("ADMIN", "INVITED")
    assert edge["node"]["status"] == "INVITED"
    assert edge["viewerCanResendInvitation"] is True

    accepted = payload(
        await api(ACCEPT_INVITATION, {"token": mailer.last_secret(NEWCOMER)}), "acceptInvitation"
    )
    assert accepted["errors"] == []
    edge = (await members(api, world.admin, sub_id))[NEWCOMER]
    assert (edge["role"], edge["status"]) == ("ADMIN", "ACTIVE")
    assert edge["viewerCanResendInvitation"] is False


async def test_add_subscription_member_by_email_as_developer_admin_is_forbidden(
    api: Api,
    world: World,
    factory: Factory,
    services: Services,
    mailer: RecordingMailer,
    sub_id: str,
) -> None:
    """R7: only team admins invite people into the organization, even when the caller may
    manage the subscription's members; nothing is created and no email goes out."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.ADMIN)
    before = await state(services)
    body = await add(api, world.dev, sub_id, email=NEWCOMER)
    assert_no_permission(body, "addSubscriptionMember")
    assert await state(services) == before
    assert mailer.sent == []


async def test_add_subscription_member_needs_user_id_or_email(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """Exactly one of userId and email: both or neither is INVALID_INPUT."""
    before = await state(services)
    for fields in [{"userId": world.dev.id, "email": NEWCOMER}, {}]:
        error = only_error(await add(api, world.admin, sub_id, **fields), "addSubscriptionMember")
        assert error["code"] == "INVALID_INPUT", fields
    assert await state(services) == before


async def test_add_subscription_member_by_bad_email_is_refused(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """R2: an invalid email, or one that is already a user's (add them by userId instead)."""
    before = await state(services)
    for email, code in [("not an email", "INVALID_EMAIL"), ("DEV@acme.test", "EMAIL_TAKEN")]:
        error = only_error(
            await add(api, world.admin, sub_id, email=email), "addSubscriptionMember"
        )
        assert (error["code"], error["field"]) == (code, ["email"]), email
    assert await state(services) == before


async def test_add_subscription_member_second_role_is_already_member(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """R18: at most one role per user and subscription."""
    await added(api, world.admin, sub_id, userId=world.dev.id)
    before = await state(services)
    error = only_error(
        await add(api, world.admin, sub_id, userId=world.dev.id, role="FINANCE_MEMBER"),
        "addSubscriptionMember",
    )
    assert error["code"] == "ALREADY_MEMBER"
    assert error["field"] == ["userId"]
    error = only_error(
        await add(api, world.admin, sub_id, userId=world.admin.id), "addSubscriptionMember"
    )
    assert error["code"] == "ALREADY_MEMBER"
    assert await state(services) == before


async def test_add_subscription_member_same_user_on_two_subscriptions(
    api: Api, world: World, factory: Factory, sub_id: str
) -> None:
    """R18: a user may have roles on several subscriptions."""
    other = await factory.subscription("Acme", world.admin, name="Acme Edge")
    await added(api, world.admin, sub_id, userId=world.dev.id, role="FINANCE_MEMBER")
    await added(api, world.admin, other, userId=world.dev.id, role="TECHNICAL_MEMBER")
    assert (await members(api, world.admin, sub_id))["dev@acme.test"]["role"] == "FINANCE_MEMBER"
    assert (await members(api, world.admin, other))["dev@acme.test"]["role"] == "TECHNICAL_MEMBER"


async def test_add_subscription_member_by_non_admin_member_is_forbidden(
    api: Api, world: World, factory: Factory, services: Services, sub_id: str
) -> None:
    """R20: only Primary Admins and Admins add members."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.FINANCE_MEMBER)
    await factory.subscription_member(sub_id, world.dev2, SubscriptionRole.TECHNICAL_MEMBER)
    outsider = await factory.member(world.org, "outsider@acme.test")
    before = await state(services)
    for actor in (world.dev, world.dev2):
        assert_no_permission(
            await add(api, actor, sub_id, userId=outsider.id), "addSubscriptionMember"
        )
    assert await state(services) == before


async def test_add_subscription_member_team_admin_outside_subscription_is_forbidden(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R20: being a team admin is not enough: the subscription's own admins manage members."""
    sub_of_dev = await factory.subscription("Acme", world.dev, name="Dev Cloud")
    before = await state(services)
    assert_no_permission(
        await add(api, world.admin, sub_of_dev, userId=world.dev2.id), "addSubscriptionMember"
    )
    assert await state(services) == before


# --- unknown and foreign IDs: NOT_FOUND, nothing changed (R1) ------------------------------------


MEMBER_MUTATIONS = ["add", "update", "remove", "resend"]


async def call_member_mutation(
    api: Api, actor: Actor, which: str, sub_id: str, user_id: str
) -> tuple[dict[str, Any], str]:
    if which == "add":
        return await add(api, actor, sub_id, userId=user_id), "addSubscriptionMember"
    if which == "update":
        body = await update_role(api, actor, sub_id, user_id, "FINANCE_MEMBER")
        return body, "updateSubscriptionMemberRole"
    if which == "remove":
        return await remove(api, actor, sub_id, user_id), "removeSubscriptionMember"
    return await resend(api, actor, sub_id, user_id), "resendSubscriptionInvitation"


async def assert_refused_by_every_member_mutation(
    api: Api, world: World, services: Services, sub_id: str, user_id: str, code: str, field: str
) -> None:
    before = await state(services)
    for which in MEMBER_MUTATIONS:
        body, field_name = await call_member_mutation(api, world.admin, which, sub_id, user_id)
        error = only_error(body, field_name)
        assert (error["code"], error["field"]) == (code, [field]), which
    assert await state(services) == before


@pytest.mark.parametrize("subscription", ["unknown", "malformed", "wrong type", "other org"])
async def test_member_mutations_unknown_subscription_is_not_found(
    api: Api, world: World, factory: Factory, services: Services, sub_id: str, subscription: str
) -> None:
    """R1: an unknown, malformed or foreign subscription ID is NOT_FOUND, never FORBIDDEN, for
    adding, updating, removing and re-inviting alike."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.FINANCE_MEMBER)
    target = {
        "unknown": to_global_id("BillingSubscription", 9999),
        "malformed": "not-a-global-id",
        "wrong type": world.admin.id,
        "other org": await factory.subscription("Globex", world.other_admin, name="Acme Cloud"),
    }[subscription]
    await assert_refused_by_every_member_mutation(
        api, world, services, target, world.dev.id, "NOT_FOUND", "subscriptionId"
    )


@pytest.mark.parametrize("user", ["unknown", "other org", "deleted"])
async def test_member_mutations_unknown_user_is_not_found(
    api: Api, world: World, services: Services, sub_id: str, user: str
) -> None:
    """R1: an unknown user, a user of another organization or a deleted one is NOT_FOUND."""
    target = {
        "unknown": to_global_id("User", 9999),
        "other org": world.other_admin.id,
        "deleted": world.dev2.id,
    }[user]
    if user == "deleted":
        deleted = payload(
            await api(DELETE_USER, {"userId": world.dev2.id}, as_=world.admin), "deleteUser"
        )
        assert deleted["errors"] == []
    await assert_refused_by_every_member_mutation(
        api, world, services, sub_id, target, "NOT_FOUND", "userId"
    )


async def test_member_mutations_out_of_range_id_is_not_found(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """STYLE 4: an ID that names nothing resolves to nothing, whatever number it carries."""
    huge = 2**64
    before = await state(services)
    error = only_error(
        await add(api, world.admin, to_global_id("BillingSubscription", huge), userId=world.dev.id),
        "addSubscriptionMember",
    )
    assert error["code"] == "NOT_FOUND"
    error = only_error(
        await add(api, world.admin, sub_id, userId=to_global_id("User", huge)),
        "addSubscriptionMember",
    )
    assert error["code"] == "NOT_FOUND"
    body = await api(
        SUBSCRIPTION, {"id": to_global_id("BillingSubscription", huge)}, as_=world.admin
    )
    assert body == {"data": {"subscription": None}}
    assert await state(services) == before


async def test_member_mutations_on_non_member_are_not_member(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """Changing the role of, removing or re-inviting someone without a role here: NOT_MEMBER."""
    before = await state(services)
    for which in ["update", "remove", "resend"]:
        body, field_name = await call_member_mutation(api, world.admin, which, sub_id, world.dev.id)
        error = only_error(body, field_name)
        assert (error["code"], error["field"]) == ("NOT_MEMBER", ["userId"]), which
    assert await state(services) == before


# --- updateSubscriptionMemberRole and removeSubscriptionMember (R20, R21) -------------------------


async def test_update_subscription_member_role_changes_role(
    api: Api, world: World, sub_id: str
) -> None:
    await added(api, world.admin, sub_id, userId=world.dev.id)
    result = payload(
        await update_role(api, world.admin, sub_id, world.dev.id, "TECHNICAL_MEMBER"),
        "updateSubscriptionMemberRole",
    )
    assert result["errors"] == []
    assert result["role"] == "TECHNICAL_MEMBER"
    assert result["user"]["id"] == world.dev.id
    assert (await members(api, world.admin, sub_id))["dev@acme.test"]["role"] == "TECHNICAL_MEMBER"
    dev_view = await read_subscription(api, world.dev, sub_id)
    assert dev_view is not None
    assert (dev_view["viewerRole"], dev_view["viewerCanManageMembers"]) == (
        "TECHNICAL_MEMBER",
        False,
    )


async def test_role_primary_admin_is_never_set_by_editing(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """R21: PRIMARY_ADMIN moves only by the operator's transfer: adding or updating with it is
    refused."""
    await added(api, world.admin, sub_id, userId=world.dev.id)
    before = await state(services)
    error = only_error(
        await add(api, world.admin, sub_id, userId=world.dev2.id, role="PRIMARY_ADMIN"),
        "addSubscriptionMember",
    )
    assert (error["code"], error["field"]) == ("PRIMARY_ADMIN_TRANSFER_ONLY", ["role"])
    error = only_error(
        await update_role(api, world.admin, sub_id, world.dev.id, "PRIMARY_ADMIN"),
        "updateSubscriptionMemberRole",
    )
    assert (error["code"], error["field"]) == ("PRIMARY_ADMIN_TRANSFER_ONLY", ["role"])
    assert await state(services) == before


async def test_primary_admin_is_never_demoted_or_removed_by_editing(
    api: Api, world: World, factory: Factory, services: Services, sub_id: str
) -> None:
    """R19, R21: exactly one Primary Admin, moved only by the operator: neither they nor an
    ADMIN can demote or remove them."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.ADMIN)
    before = await state(services)
    for actor in (world.admin, world.dev):
        for role in ("ADMIN", "FINANCE_MEMBER"):
            error = only_error(
                await update_role(api, actor, sub_id, world.admin.id, role),
                "updateSubscriptionMemberRole",
            )
            assert (error["code"], error["field"]) == ("PRIMARY_ADMIN_TRANSFER_ONLY", ["userId"])
        error = only_error(
            await remove(api, actor, sub_id, world.admin.id), "removeSubscriptionMember"
        )
        assert (error["code"], error["field"]) == ("PRIMARY_ADMIN_TRANSFER_ONLY", ["userId"])
    assert await state(services) == before


async def test_update_subscription_member_role_admin_demoting_self_loses_rights_at_once(
    api: Api, world: World, factory: Factory, services: Services, sub_id: str
) -> None:
    """R20: an ADMIN who makes themselves a FINANCE_MEMBER manages no members afterwards; the
    payload already shows it."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.ADMIN)
    result = payload(
        await update_role(api, world.dev, sub_id, world.dev.id, "FINANCE_MEMBER"),
        "updateSubscriptionMemberRole",
    )
    assert result["errors"] == []
    assert result["role"] == "FINANCE_MEMBER"
    assert result["subscription"]["viewerRole"] == "FINANCE_MEMBER"
    assert result["subscription"]["viewerCanManageMembers"] is False
    before = await state(services)
    assert_no_permission(
        await add(api, world.dev, sub_id, userId=world.dev2.id), "addSubscriptionMember"
    )
    assert_no_permission(
        await update_role(api, world.dev, sub_id, world.dev.id, "ADMIN"),
        "updateSubscriptionMemberRole",
    )
    assert await state(services) == before


async def test_remove_subscription_member_removes_access(
    api: Api, world: World, sub_id: str
) -> None:
    await added(api, world.admin, sub_id, userId=world.dev.id, role="FINANCE_MEMBER")
    assert await read_subscription(api, world.dev, sub_id) is not None
    result = payload(
        await remove(api, world.admin, sub_id, world.dev.id), "removeSubscriptionMember"
    )
    assert result["errors"] == []
    assert result["removedUserId"] == world.dev.id
    assert result["subscription"]["members"]["totalCount"] == 1
    assert list(await members(api, world.admin, sub_id)) == ["admin@acme.test"]
    assert await read_subscription(api, world.dev, sub_id) is None


async def test_remove_subscription_member_then_add_again(
    api: Api, world: World, sub_id: str
) -> None:
    await added(api, world.admin, sub_id, userId=world.dev.id)
    payload(await remove(api, world.admin, sub_id, world.dev.id), "removeSubscriptionMember")
    result = await added(api, world.admin, sub_id, userId=world.dev.id, role="TECHNICAL_MEMBER")
    assert result["role"] == "TECHNICAL_MEMBER"


async def test_remove_subscription_member_admin_removing_self(
    api: Api, world: World, factory: Factory, sub_id: str
) -> None:
    """An ADMIN may leave; the payload's subscription is then out of their sight."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.ADMIN)
    result = payload(await remove(api, world.dev, sub_id, world.dev.id), "removeSubscriptionMember")
    assert result["errors"] == []
    assert result["subscription"] is None
    assert await read_subscription(api, world.dev, sub_id) is None


# --- member statuses and resending (R5, R8, R9) --------------------------------------------------


async def test_subscription_members_show_every_status(
    api: Api, world: World, mailer: RecordingMailer, advance: Any, sub_id: str
) -> None:
    """R5 and seed 001: the member list shows ACTIVE, INVITED, EXPIRED and FAILED."""
    await added(api, world.admin, sub_id, email="expired@acme.test")
    await advance(hours=25)
    await added(api, world.admin, sub_id, email="invited@acme.test")
    mailer.fail = True
    failed = await added(api, world.admin, sub_id, email="failed@acme.test")
    assert failed["user"]["status"] == "FAILED"
    await added(api, world.admin, sub_id, userId=world.dev.id, role="TECHNICAL_MEMBER")
    listed = await members(api, world.admin, sub_id)
    assert {email: edge["status"] for email, edge in listed.items()} == {
        "admin@acme.test": "ACTIVE",
        "expired@acme.test": "EXPIRED",
        "invited@acme.test": "INVITED",
        "failed@acme.test": "FAILED",
        "dev@acme.test": "ACTIVE",
    }
    assert {email: edge["viewerCanResendInvitation"] for email, edge in listed.items()} == {
        "admin@acme.test": False,
        "expired@acme.test": True,
        "invited@acme.test": True,
        "failed@acme.test": True,
        "dev@acme.test": False,
    }
    assert listed["expired@acme.test"]["node"]["status"] == "EXPIRED"
    assert (
        listed["admin@acme.test"]["viewerCanUpdateRole"],
        listed["admin@acme.test"]["viewerCanRemove"],
    ) == (False, False)
    assert (
        listed["dev@acme.test"]["viewerCanUpdateRole"],
        listed["dev@acme.test"]["viewerCanRemove"],
    ) == (True, True)


async def test_subscription_members_viewer_without_manage_rights_sees_no_actions(
    api: Api, world: World, factory: Factory, mailer: RecordingMailer, sub_id: str
) -> None:
    """R20: a FINANCE_MEMBER sees the list but none of the member actions."""
    mailer.fail = True
    await added(api, world.admin, sub_id, email="failed@acme.test")
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.FINANCE_MEMBER)
    listed = await members(api, world.dev, sub_id)
    assert listed["failed@acme.test"]["status"] == "FAILED"
    for edge in listed.values():
        assert edge["viewerCanResendInvitation"] is False
        assert edge["viewerCanUpdateRole"] is False
        assert edge["viewerCanRemove"] is False


async def test_resend_subscription_invitation_for_expired_member(
    api: Api, world: World, mailer: RecordingMailer, advance: Any, sub_id: str
) -> None:
    """R8, R9: a new link is sent, the old one stops working, the member is INVITED again."""
    user_id = (await added(api, world.admin, sub_id, email=NEWCOMER))["user"]["id"]
    old_secret = mailer.last_secret(NEWCOMER)
    await advance(hours=25)
    assert (await members(api, world.admin, sub_id))[NEWCOMER]["status"] == "EXPIRED"
    result = payload(
        await resend(api, world.admin, sub_id, user_id), "resendSubscriptionInvitation"
    )
    assert result["errors"] == []
    assert result["user"]["status"] == "INVITED"
    assert result["role"] == "ADMIN"
    assert [message.to for message in mailer.sent] == [NEWCOMER, NEWCOMER]
    new_secret = mailer.last_secret(NEWCOMER)
    assert new_secret != old_secret
    edge = (await members(api, world.admin, sub_id))[NEWCOMER]
    assert (edge["status"], edge["viewerCanResendInvitation"]) == ("INVITED", True)

    refused = payload(await api(ACCEPT_INVITATION, {"token": old_secret}), "acceptInvitation")
    assert [e["code"] for e in refused["errors"]] == ["INVITATION_REPLACED"]
    accepted = payload(await api(ACCEPT_INVITATION, {"token": new_secret}), "acceptInvitation")
    assert accepted["errors"] == []
    assert (await members(api, world.admin, sub_id))[NEWCOMER]["status"] == "ACTIVE"


async def test_resend_subscription_invitation_for_failed_member(
    api: Api, world: World, mailer: RecordingMailer, sub_id: str
) -> None:
    """R9: an undelivered invitation (FAILED) is sent again; the member shows INVITED."""
    mailer.fail = True
    user_id = (await added(api, world.admin, sub_id, email=NEWCOMER))["user"]["id"]
    assert mailer.sent == []
    assert (await members(api, world.admin, sub_id))[NEWCOMER]["status"] == "FAILED"
    mailer.fail = False
    result = payload(
        await resend(api, world.admin, sub_id, user_id), "resendSubscriptionInvitation"
    )
    assert result["errors"] == []
    assert result["user"]["status"] == "INVITED"
    assert [message.to for message in mailer.sent] == [NEWCOMER]
    assert (await members(api, world.admin, sub_id))[NEWCOMER]["status"] == "INVITED"
    accepted = payload(
        await api(ACCEPT_INVITATION, {"token": mailer.last_secret(NEWCOMER)}), "acceptInvitation"
    )
    assert accepted["errors"] == []


async def test_resend_subscription_invitation_failing_again_shows_failed(
    api: Api, world: World, mailer: RecordingMailer, sub_id: str
) -> None:
    mailer.fail = True
    user_id = (await added(api, world.admin, sub_id, email=NEWCOMER))["user"]["id"]
    result = payload(
        await resend(api, world.admin, sub_id, user_id), "resendSubscriptionInvitation"
    )
    assert result["errors"] == []
    assert result["user"]["status"] == "FAILED"
    assert (await members(api, world.admin, sub_id))[NEWCOMER]["status"] == "FAILED"


async def test_resend_subscription_invitation_for_active_member_is_refused(
    api: Api, world: World, services: Services, mailer: RecordingMailer, sub_id: str
) -> None:
    """R9: only members who have not signed up get a new link."""
    await added(api, world.admin, sub_id, userId=world.dev.id)
    before = await state(services)
    error = only_error(
        await resend(api, world.admin, sub_id, world.dev.id), "resendSubscriptionInvitation"
    )
    assert error["code"] == "INVITATION_NOT_PENDING"
    assert await state(services) == before
    assert mailer.sent == []


async def test_resend_subscription_invitation_by_finance_member_is_forbidden(
    api: Api,
    world: World,
    factory: Factory,
    services: Services,
    mailer: RecordingMailer,
    sub_id: str,
) -> None:
    mailer.fail = True
    user_id = (await added(api, world.admin, sub_id, email=NEWCOMER))["user"]["id"]
    mailer.fail = False
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.FINANCE_MEMBER)
    before = await state(services)
    assert_no_permission(
        await resend(api, world.dev, sub_id, user_id), "resendSubscriptionInvitation"
    )
    assert await state(services) == before
    assert mailer.sent == []


async def test_resend_subscription_invitation_by_developer_admin_is_forbidden(
    api: Api,
    world: World,
    factory: Factory,
    services: Services,
    mailer: RecordingMailer,
    sub_id: str,
) -> None:
    """R7, R9: only team admins invite, and a resend is a new invitation (a new sign-up link
    emailed), exactly as adding a new person by email is."""
    mailer.fail = True
    user_id = (await added(api, world.admin, sub_id, email=NEWCOMER))["user"]["id"]
    mailer.fail = False
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.ADMIN)
    before = await state(services)
    assert_no_permission(
        await resend(api, world.dev, sub_id, user_id), "resendSubscriptionInvitation"
    )
    assert await state(services) == before
    assert mailer.sent == []
    assert (await members(api, world.dev, sub_id))[NEWCOMER]["viewerCanResendInvitation"] is False


# --- deleteUser and subscriptions (R6, R21) ------------------------------------------------------


async def test_delete_user_primary_admin_is_refused(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R21: a Primary Admin stays until the operator transfers the role."""
    await factory.subscription("Acme", world.dev, name="Dev Cloud")
    before = await state(services)
    result = payload(
        await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser"
    )
    assert [e["code"] for e in result["errors"]] == ["PRIMARY_ADMIN_TRANSFER_ONLY"]
    assert result["deletedUserId"] is None
    assert await state(services) == before


async def test_delete_user_removes_their_memberships(
    api: Api, world: World, factory: Factory, sub_id: str
) -> None:
    """R6: a deleted user leaves every subscription, recorded in the audit log (R35)."""
    other = await factory.subscription("Acme", world.admin, name="Acme Edge")
    await added(api, world.admin, sub_id, userId=world.dev.id, role="FINANCE_MEMBER")
    await added(api, world.admin, other, userId=world.dev.id, role="TECHNICAL_MEMBER")
    result = payload(
        await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser"
    )
    assert result["errors"] == []
    assert list(await members(api, world.admin, sub_id)) == ["admin@acme.test"]
    assert list(await members(api, world.admin, other)) == ["admin@acme.test"]
    removals = await events(api, world.admin, "subscription.member_remove")
    assert sorted(event["targetLabel"] for event in removals) == ["Acme Cloud", "Acme Edge"]
    for event in removals:
        assert event["before"]["email"] == "dev@acme.test"
        assert event["actor"] == {"id": world.admin.id}


async def test_delete_user_pending_member_removes_membership(
    api: Api, world: World, sub_id: str
) -> None:
    """R9: an admin may delete an invited person; they leave the subscription too."""
    user_id = (await added(api, world.admin, sub_id, email=NEWCOMER))["user"]["id"]
    result = payload(await api(DELETE_USER, {"userId": user_id}, as_=world.admin), "deleteUser")
    assert result["errors"] == []
    assert NEWCOMER not in await members(api, world.admin, sub_id)


# --- audit (R35) ----------------------------------------------------------------------------------


async def test_subscription_create_is_audited_as_the_operator(
    api: Api, world: World, sub_id: str
) -> None:
    [event] = await events(api, world.admin, "subscription.create")
    assert event["actor"] is None
    assert event["actorLabel"] == OPERATOR_LABEL
    assert event["targetLabel"] == "Acme Cloud"
    assert event["before"] is None
    assert event["after"] == {
        "name": "Acme Cloud",
        "plan": "PRO",
        "primaryAdmin": "admin@acme.test",
    }


async def test_subscription_member_changes_are_audited(
    api: Api, world: World, later: Any, sub_id: str
) -> None:
    """R35: add, role change and removal each write who, what, when and before/after."""
    await added(api, world.admin, sub_id, userId=world.dev.id)
    later(minutes=1)
    payload(
        await update_role(api, world.admin, sub_id, world.dev.id, "FINANCE_MEMBER"),
        "updateSubscriptionMemberRole",
    )
    later(minutes=1)
    payload(await remove(api, world.admin, sub_id, world.dev.id), "removeSubscriptionMember")

    def member(snapshot: dict[str, Any] | None) -> tuple[str, str] | None:
        return (snapshot["email"], snapshot["role"]) if snapshot is not None else None

    [added_event] = await events(api, world.admin, "subscription.member_add")
    assert member(added_event["before"]) is None
    assert member(added_event["after"]) == ("dev@acme.test", "ADMIN")
    [updated] = await events(api, world.admin, "subscription.member_role_update")
    assert member(updated["before"]) == ("dev@acme.test", "ADMIN")
    assert member(updated["after"]) == ("dev@acme.test", "FINANCE_MEMBER")
    [removed] = await events(api, world.admin, "subscription.member_remove")
    assert member(removed["before"]) == ("dev@acme.test", "FINANCE_MEMBER")
    assert removed["after"] is None
    for event in (added_event, updated, removed):
        assert event["actor"] == {"id": world.admin.id}
        assert event["actorLabel"] == "admin@acme.test"
        assert event["targetLabel"] == "Acme Cloud"
    assert added_event["createdAt"] < updated["createdAt"] < removed["createdAt"]


async def test_subscription_member_invite_is_audited_twice(
    api: Api, world: World, sub_id: str
) -> None:
    """Adding a new person writes the invitation (user.invite) and the membership."""
    await added(api, world.admin, sub_id, email=NEWCOMER, role="TECHNICAL_MEMBER")
    [invite] = await events(api, world.admin, "user.invite")
    assert invite["after"]["email"] == NEWCOMER
    [member_add] = await events(api, world.admin, "subscription.member_add")
    assert member_add["after"]["email"] == NEWCOMER
    assert member_add["after"]["role"] == "TECHNICAL_MEMBER"


async def test_update_subscription_member_role_to_same_role_writes_nothing(
    api: Api, world: World, sub_id: str
) -> None:
    await added(api, world.admin, sub_id, userId=world.dev.id)
    result = payload(
        await update_role(api, world.admin, sub_id, world.dev.id, "ADMIN"),
        "updateSubscriptionMemberRole",
    )
    assert result["errors"] == []
    assert await events(api, world.admin, "subscription.member_role_update") == []


async def test_primary_admin_transfer_is_audited(
    api: Api, world: World, factory: Factory, services: Services, sub_id: str
) -> None:
    """R21, R35: the operator's transfer names the previous and the new Primary Admin."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.TECHNICAL_MEMBER)
    await subscriptions.transfer_primary(services, pk(sub_id), "dev@acme.test")
    [event] = await events(api, world.admin, "subscription.primary_admin_transfer")
    assert event["actor"] is None
    assert event["actorLabel"] == OPERATOR_LABEL
    assert event["before"] == {"primaryAdmin": "admin@acme.test", "toRole": "TECHNICAL_MEMBER"}
    assert event["after"] == {"primaryAdmin": "dev@acme.test", "previousRole": "ADMIN"}
    listed = await members(api, world.admin, sub_id)
    assert {email: edge["role"] for email, edge in listed.items()} == {
        "admin@acme.test": "ADMIN",
        "dev@acme.test": "PRIMARY_ADMIN",
    }


async def test_billing_network_and_notification_changes_are_audited(
    api: Api, world: World, sub_id: str
) -> None:
    """R35: every settings change is recorded: who, when, what changed."""
    payload(
        await update_billing(api, world.admin, sub_id, company="Acme Inc", card=card()),
        "updateBillingDetails",
    )
    payload(
        await update_network(api, world.admin, sub_id, allowedIpRanges=["10.0.0.0/8"]),
        "updateNetworkSettings",
    )
    notification = payload(
        await set_notification(api, world.admin, sub_id, 80), "setUsageNotification"
    )
    payload(
        await api(
            REMOVE_USAGE_NOTIFICATION, {"id": notification["notification"]["id"]}, as_=world.admin
        ),
        "removeUsageNotification",
    )

    # R22 over R35: team admins read the log but not billing or network values, so these
    # events name the changed fields only.
    [billing] = await events(api, world.admin, "subscription.billing_update")
    assert billing["before"] is None
    assert billing["after"] == {"changed": ["card", "company"]}
    assert "Acme Inc" not in json.dumps(billing)
    assert "4242" not in json.dumps(billing)
    [network] = await events(api, world.admin, "subscription.network_update")
    assert network["before"] is None
    assert network["after"] == {"changed": ["allowedIpRanges"]}
    assert "10.0.0.0" not in json.dumps(network)
    [set_event] = await events(api, world.admin, "subscription.usage_notification_set")
    assert set_event["after"] == {"metric": "STORAGE", "thresholdPercent": 80}
    [remove_event] = await events(api, world.admin, "subscription.usage_notification_remove")
    assert remove_event["before"] == {"metric": "STORAGE", "thresholdPercent": 80}
    for event in (billing, network, set_event, remove_event):
        assert event["actor"] == {"id": world.admin.id}
        assert event["targetLabel"] == "Acme Cloud"


async def test_subscription_token_create_and_revoke_are_audited(
    api: Api, world: World, sub_id: str
) -> None:
    """R22, R35: the Primary Admin's subscription tokens are audited like any token."""
    created = payload(
        await api(
            CREATE_SUBSCRIPTION_TOKEN,
            {
                "input": {
                    "subscriptionId": sub_id,
                    "name": "billing-export",
                    "permission": "READ_ONLY",
                }
            },
            as_=world.admin,
        ),
        "createSubscriptionToken",
    )
    assert created["errors"] == []
    token_id = created["token"]["id"]
    revoked = payload(
        await api(REVOKE_SUBSCRIPTION_TOKEN, {"id": token_id}, as_=world.admin),
        "revokeSubscriptionToken",
    )
    assert revoked["errors"] == []
    [create_event] = await events(api, world.admin, "token.create")
    assert create_event["targetId"] == token_id
    assert create_event["after"]["name"] == "billing-export"
    assert created["secret"] not in str(create_event)
    [revoke_event] = await events(api, world.admin, "token.revoke")
    assert revoke_event["targetId"] == token_id
    assert revoke_event["before"]["status"] == "ACTIVE"
    assert revoke_event["after"]["status"] == "REVOKED"


async def test_subscription_audit_events_name_the_subscription_by_its_id(
    api: Api, world: World, sub_id: str
) -> None:
    """R35 and STYLE 4: an event's target is the object's global ID, usable as a filter."""
    await added(api, world.admin, sub_id, userId=world.dev.id)
    [event] = await events(api, world.admin, "subscription.member_add")
    assert (event["targetType"], event["targetId"]) == ("BillingSubscription", sub_id)
    body = await api(AUDIT_EVENTS, {"filter": {"targetId": sub_id}}, as_=world.admin)
    actions = sorted(node["action"] for node in body["data"]["auditEvents"]["nodes"])
    assert actions == ["subscription.create", "subscription.member_add"]


async def test_refused_subscription_changes_write_no_audit_event(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    before = await state(services)
    only_error(
        await update_role(api, world.admin, sub_id, world.admin.id, "ADMIN"),
        "updateSubscriptionMemberRole",
    )
    only_error(
        await update_billing(api, world.admin, sub_id, company="X", card=card("4242424242424241")),
        "updateBillingDetails",
    )
    only_error(
        await update_network(api, world.admin, sub_id, allowedIpRanges=["10.0.0.1/8"]),
        "updateNetworkSettings",
    )
    only_error(await set_notification(api, world.admin, sub_id, 0), "setUsageNotification")
    assert await state(services) == before


# --- billing (R22) ---------------------------------------------------------------------------------


def card(number: str = CARD, month: int = 12, year: int = 2028) -> dict[str, Any]:
    return {"number": number, "expMonth": month, "expYear": year}


async def test_update_billing_details_stores_only_brand_and_last4(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """The card number is never stored: brand, last four digits and expiry only."""
    result = payload(
        await update_billing(api, world.admin, sub_id, contactName="Ada Lovelace", card=card()),
        "updateBillingDetails",
    )
    assert result["errors"] == []
    method = {
        "brand": "VISA",
        "last4": "4242",
        "expMonth": 12,
        "expYear": 2028,
        "display": "VISA •••• 4242",
    }
    assert result["billing"]["paymentMethod"] == method
    assert (await read_billing(api, world.admin, sub_id))["paymentMethod"] == method
    async with services.db.session() as session:
        for table in ("subscriptions", "audit_events", "outbox_emails"):
            for row in (await session.execute(text(f"SELECT * FROM {table}"))).all():
                stored = " ".join(str(value) for value in row)
                assert CARD_DIGITS not in stored, (table, row)
                assert CARD not in stored, (table, row)
                assert CARD_DIGITS[:12] not in stored, (table, row)


async def test_update_billing_details_card_brands(api: Api, world: World, sub_id: str) -> None:
    for number, display in [
        ("5555-5555-5555-4444", "MASTERCARD •••• 4444"),
        ("378282246310005", "AMEX •••• 0005"),
    ]:
        result = payload(
            await update_billing(api, world.admin, sub_id, card=card(number)),
            "updateBillingDetails",
        )
        assert result["errors"] == []
        assert result["billing"]["paymentMethod"]["display"] == display
        assert display.startswith(result["billing"]["paymentMethod"]["brand"] + " ")


async def test_update_billing_details_omitted_fields_unchanged_and_null_clears(
    api: Api, world: World, sub_id: str
) -> None:
    first = payload(
        await update_billing(
            api,
            world.admin,
            sub_id,
            contactName="  Ada   Lovelace ",
            contactEmail="billing@acme.test",
            company="Acme Inc",
            city="London",
            postalCode="N1 9GU",
            country="gb",
            vatId="gb 123 4567 89",
            card=card(),
        ),
        "updateBillingDetails",
    )
    assert first["errors"] == []
    assert first["billing"]["contactName"] == "Ada Lovelace"
    assert first["billing"]["country"] == "GB"
    assert first["billing"]["vatId"] == "GB123456789"

    second = payload(
        await update_billing(api, world.admin, sub_id, city=None, company="Acme Ltd"),
        "updateBillingDetails",
    )
    assert second["errors"] == []
    billing = await read_billing(api, world.admin, sub_id)
    assert billing["city"] is None
    assert billing["company"] == "Acme Ltd"
    assert billing["contactName"] == "Ada Lovelace"
    assert billing["contactEmail"] == "billing@acme.test"
    assert billing["postalCode"] == "N1 9GU"
    assert billing["country"] == "GB"
    assert billing["vatId"] == "GB123456789"
    assert billing["paymentMethod"]["last4"] == "4242"


async def assert_billing_refused(
    api: Api,
    world: World,
    services: Services,
    sub_id: str,
    cases: list[tuple[dict[str, Any], str, list[str]]],
) -> None:
    """Each bad field refuses the whole update: the valid field given with it is not saved."""
    before = await state(services)
    for fields, code, field in cases:
        error = only_error(
            await update_billing(api, world.admin, sub_id, company="Acme Inc", **fields),
            "updateBillingDetails",
        )
        assert (error["code"], error["field"]) == (code, field), fields
    assert await state(services) == before


async def test_update_billing_details_invalid_card_is_refused(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """Luhn check, digits only, 12 to 19 of them, month 1..12, not expired (clock: 11/2026)."""
    number, month = ["card", "number"], ["card", "expMonth"]
    cases = [
        ({"card": card("4242424242424241")}, "INVALID_CARD", number),
        ({"card": card("4242-4242-abcd-4242")}, "INVALID_CARD", number),
        ({"card": card("42")}, "INVALID_CARD", number),
        ({"card": card(month=10, year=2026)}, "INVALID_CARD", ["card", "expYear"]),
        ({"card": card(month=13)}, "INVALID_CARD", month),
        ({"card": card(month=0)}, "INVALID_CARD", month),
    ]
    await assert_billing_refused(api, world, services, sub_id, cases)


async def test_update_billing_details_invalid_details_are_refused(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    cases = [
        ({"country": "DEU"}, "INVALID_BILLING_DETAILS", ["country"]),
        ({"country": "1A"}, "INVALID_BILLING_DETAILS", ["country"]),
        ({"vatId": "DE-123"}, "INVALID_BILLING_DETAILS", ["vatId"]),
        ({"postalCode": "x" * 21}, "INVALID_BILLING_DETAILS", ["postalCode"]),
        ({"contactEmail": "not an email"}, "INVALID_EMAIL", ["contactEmail"]),
    ]
    await assert_billing_refused(api, world, services, sub_id, cases)


async def test_update_billing_details_card_expiring_this_month_is_accepted(
    api: Api, world: World, sub_id: str
) -> None:
    """The clock is at November 2026: a card valid through 11/2026 is still valid."""
    result = payload(
        await update_billing(api, world.admin, sub_id, card=card(month=11, year=2026)),
        "updateBillingDetails",
    )
    assert result["errors"] == []


async def test_update_settings_follow_subscription_role(
    api: Api, world: World, factory: Factory, sub_id: str
) -> None:
    """R22: billing for PRIMARY_ADMIN, ADMIN, FINANCE_MEMBER; network for PRIMARY_ADMIN, ADMIN,
    TECHNICAL_MEMBER."""
    technical = await factory.member(world.org, "tech@acme.test")
    cases = [
        (world.dev, SubscriptionRole.ADMIN, True, True),
        (world.dev2, SubscriptionRole.FINANCE_MEMBER, True, False),
        (technical, SubscriptionRole.TECHNICAL_MEMBER, False, True),
    ]
    for actor, role, billing, network in cases:
        await factory.subscription_member(sub_id, actor, role)
        body = await update_billing(api, actor, sub_id, company="Acme Inc")
        if billing:
            assert payload(body, "updateBillingDetails")["errors"] == [], role
        else:
            assert_no_permission(body, "updateBillingDetails")
        body = await update_network(api, actor, sub_id, allowedIpRanges=["10.0.0.0/8"])
        if network:
            assert payload(body, "updateNetworkSettings")["errors"] == [], role
        else:
            assert_no_permission(body, "updateNetworkSettings")


# --- network (R22) ---------------------------------------------------------------------------------


async def test_update_network_settings_normalizes_and_dedupes_ranges(
    api: Api, world: World, sub_id: str
) -> None:
    ranges = [
        "10.0.0.0/8",
        " 10.0.0.0/8 ",
        "192.168.1.7",
        "2001:DB8::/32",
        "2001:0db8:0000::/32",
        "fe80::1",
        "192.168.1.7/32",
    ]
    result = payload(
        await update_network(api, world.admin, sub_id, allowedIpRanges=ranges),
        "updateNetworkSettings",
    )
    assert result["errors"] == []
    expected = ["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32", "fe80::1/128"]
    assert result["network"]["allowedIpRanges"] == expected
    network = await read_network(api, world.admin, sub_id)
    assert network["allowedIpRanges"] == expected
    assert network["updatedAt"] is not None


async def test_update_network_settings_empty_list_clears_and_omitted_keeps(
    api: Api, world: World, sub_id: str
) -> None:
    payload(
        await update_network(api, world.admin, sub_id, allowedIpRanges=["10.0.0.0/8"]),
        "updateNetworkSettings",
    )
    kept = payload(
        await update_network(api, world.admin, sub_id, privateLinkEnabled=False),
        "updateNetworkSettings",
    )
    assert kept["network"]["allowedIpRanges"] == ["10.0.0.0/8"]
    cleared = payload(
        await update_network(api, world.admin, sub_id, allowedIpRanges=[]), "updateNetworkSettings"
    )
    assert cleared["network"]["allowedIpRanges"] == []


async def test_update_network_settings_invalid_range_is_refused(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """Malformed ranges and host bits set (a likely typo) are refused, naming the entry."""
    before = await state(services)
    for bad in [
        "10.0.0.1/8",
        "2001:db8::1/32",
        "300.1.1.1",
        "10.0.0.0/33",
        "10.0.0/8",
        "not-an-ip",
        "",
        "10.0.0.0/8, 11.0.0.0/8",
    ]:
        error = only_error(
            await update_network(
                api, world.admin, sub_id, allowedIpRanges=["192.168.0.0/16", bad, "10.1.0.0/16"]
            ),
            "updateNetworkSettings",
        )
        assert (error["code"], error["field"]) == ("INVALID_IP_RANGE", ["allowedIpRanges", "1"]), (
            bad
        )
    assert await state(services) == before


async def test_update_network_settings_limits_range_count(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    many = [f"10.{i // 256}.{i % 256}.0/24" for i in range(201)]
    before = await state(services)
    error = only_error(
        await update_network(api, world.admin, sub_id, allowedIpRanges=many),
        "updateNetworkSettings",
    )
    assert error["code"] == "TOO_MANY_IP_RANGES"
    assert await state(services) == before
    result = payload(
        await update_network(api, world.admin, sub_id, allowedIpRanges=many[:200]),
        "updateNetworkSettings",
    )
    assert result["errors"] == []
    assert len(result["network"]["allowedIpRanges"]) == 200


async def test_update_network_settings_private_link_needs_service_name(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    before = await state(services)
    error = only_error(
        await update_network(api, world.admin, sub_id, privateLinkEnabled=True),
        "updateNetworkSettings",
    )
    assert (error["code"], error["field"]) == ("INVALID_PRIVATE_LINK", ["privateLinkServiceName"])
    assert await state(services) == before

    enabled = payload(
        await update_network(
            api,
            world.admin,
            sub_id,
            privateLinkEnabled=True,
            privateLinkServiceName="com.amazonaws.vpce.eu-west-1.vpce-svc-0123",
        ),
        "updateNetworkSettings",
    )
    assert enabled["errors"] == []
    assert enabled["network"]["privateLinkEnabled"] is True

    before = await state(services)
    error = only_error(
        await update_network(api, world.admin, sub_id, privateLinkServiceName=None),
        "updateNetworkSettings",
    )
    assert error["code"] == "INVALID_PRIVATE_LINK"
    assert await state(services) == before


async def test_update_network_settings_invalid_service_name_is_refused(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    before = await state(services)
    for name in ["", "   ", "bad name with spaces", "x" * 201, "svc;drop"]:
        error = only_error(
            await update_network(api, world.admin, sub_id, privateLinkServiceName=name),
            "updateNetworkSettings",
        )
        assert (error["code"], error["field"]) == (
            "INVALID_PRIVATE_LINK",
            ["privateLinkServiceName"],
        ), name
    assert await state(services) == before


async def test_update_network_settings_disable_private_link_keeps_name(
    api: Api, world: World, sub_id: str
) -> None:
    payload(
        await update_network(
            api, world.admin, sub_id, privateLinkEnabled=True, privateLinkServiceName="svc-1"
        ),
        "updateNetworkSettings",
    )
    result = payload(
        await update_network(api, world.admin, sub_id, privateLinkEnabled=False),
        "updateNetworkSettings",
    )
    assert result["errors"] == []
    assert result["network"] == {
        "allowedIpRanges": [],
        "privateLinkEnabled": False,
        "privateLinkServiceName": "svc-1",
    }


# --- usage notifications (R22) ----------------------------------------------------------------------


async def test_set_usage_notification_threshold_out_of_range_is_refused(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """Thresholds are 1 to 100 (% of the plan's limit)."""
    before = await state(services)
    for threshold in (0, 101, -5):
        error = only_error(
            await set_notification(api, world.admin, sub_id, threshold), "setUsageNotification"
        )
        assert (error["code"], error["field"]) == ("INVALID_THRESHOLD", ["thresholdPercent"])
    assert await state(services) == before


async def test_set_usage_notification_threshold_bounds_are_accepted(
    api: Api, world: World, sub_id: str
) -> None:
    for threshold in (1, 100):
        result = payload(
            await set_notification(api, world.admin, sub_id, threshold, "TRANSFER"),
            "setUsageNotification",
        )
        assert result["errors"] == []
        assert result["notification"]["thresholdPercent"] == threshold
        assert result["notification"]["metric"] == "TRANSFER"
        assert result["notification"]["reached"] is False
    notifications = (await read_usage(api, world.admin, sub_id))["usageNotifications"]
    assert [n["thresholdPercent"] for n in notifications] == [1, 100]


async def test_set_usage_notification_twice_is_idempotent(
    api: Api, world: World, sub_id: str
) -> None:
    first = payload(await set_notification(api, world.admin, sub_id, 80), "setUsageNotification")
    second = payload(await set_notification(api, world.admin, sub_id, 80), "setUsageNotification")
    assert second["errors"] == []
    assert second["notification"]["id"] == first["notification"]["id"]
    notifications = (await read_usage(api, world.admin, sub_id))["usageNotifications"]
    assert [n["id"] for n in notifications] == [first["notification"]["id"]]
    assert len(await events(api, world.admin, "subscription.usage_notification_set")) == 1


async def test_set_usage_notification_by_any_member(
    api: Api, world: World, factory: Factory, sub_id: str
) -> None:
    """R19, R22: usage notifications are for every member."""
    await factory.subscription_member(sub_id, world.dev, SubscriptionRole.FINANCE_MEMBER)
    result = payload(await set_notification(api, world.dev, sub_id, 90), "setUsageNotification")
    assert result["errors"] == []
    [notification] = (await read_usage(api, world.admin, sub_id))["usageNotifications"]
    assert notification["createdBy"] == {"email": "dev@acme.test"}


async def test_remove_usage_notification(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    created = payload(await set_notification(api, world.admin, sub_id, 75), "setUsageNotification")
    notification_id = created["notification"]["id"]
    result = payload(
        await api(REMOVE_USAGE_NOTIFICATION, {"id": notification_id}, as_=world.admin),
        "removeUsageNotification",
    )
    assert result == {"removedNotificationId": notification_id, "errors": []}
    assert (await read_usage(api, world.admin, sub_id))["usageNotifications"] == []
    before = await state(services)
    error = only_error(
        await api(REMOVE_USAGE_NOTIFICATION, {"id": notification_id}, as_=world.admin),
        "removeUsageNotification",
    )
    assert error["code"] == "NOT_FOUND"
    assert await state(services) == before


async def test_remove_usage_notification_of_another_org_is_not_found(
    api: Api, world: World, factory: Factory, services: Services, sub_id: str
) -> None:
    """R1: another organization's notification is not reachable."""
    globex = await factory.subscription("Globex", world.other_admin, name="Globex Cloud")
    created = payload(
        await set_notification(api, world.other_admin, globex, 50), "setUsageNotification"
    )
    before = await state(services)
    error = only_error(
        await api(
            REMOVE_USAGE_NOTIFICATION, {"id": created["notification"]["id"]}, as_=world.admin
        ),
        "removeUsageNotification",
    )
    assert error["code"] == "NOT_FOUND"
    assert await state(services) == before


async def test_usage_notification_reached_after_usage_is_recorded(
    api: Api, world: World, services: Services, sub_id: str
) -> None:
    """A notification is reached once usage is at or above its share of the limit."""
    for threshold, metric in [(50, "STORAGE"), (80, "STORAGE"), (10, "TRANSFER")]:
        payload(
            await set_notification(api, world.admin, sub_id, threshold, metric),
            "setUsageNotification",
        )
    before = await read_usage(api, world.admin, sub_id)
    assert [n["reached"] for n in before["usageNotifications"]] == [False, False, False]

    await subscriptions.record_usage(services, pk(sub_id), 600 * GIB, 200 * GIB)
    after = await read_usage(api, world.admin, sub_id)
    assert after["usage"]["storageUsedBytes"] == 600 * GIB
    assert after["usage"]["storageLimitBytes"] == 1024 * GIB
    assert after["usage"]["storagePercent"] == pytest.approx(58.59, abs=0.01)
    assert after["usage"]["transferPercent"] == pytest.approx(19.53, abs=0.01)
    reached = {
        (n["metric"], n["thresholdPercent"]): n["reached"] for n in after["usageNotifications"]
    }
    assert reached == {("STORAGE", 50): True, ("STORAGE", 80): False, ("TRANSFER", 10): True}
    set_now = payload(await set_notification(api, world.admin, sub_id, 55), "setUsageNotification")
    assert set_now["notification"]["reached"] is True


async def test_update_billing_details_null_card_removes_the_card_on_file(
    api: Api, factory: Factory, world: World
) -> None:
    """Omitted `card` keeps the card; `card: null` removes it (the input's contract)."""
    sid = await factory.subscription("Acme", world.admin)
    card = {"number": "4242 4242 4242 4242", "expMonth": 12, "expYear": 2030}
    body = await api(
        UPDATE_BILLING, {"input": {"subscriptionId": sid, "card": card}}, as_=world.admin
    )
    assert payload(body, "updateBillingDetails")["billing"]["paymentMethod"]["last4"] == "4242"
    body = await api(
        UPDATE_BILLING, {"input": {"subscriptionId": sid, "city": "Oslo"}}, as_=world.admin
    )
    assert payload(body, "updateBillingDetails")["billing"]["paymentMethod"]["last4"] == "4242"
    body = await api(
        UPDATE_BILLING, {"input": {"subscriptionId": sid, "card": None}}, as_=world.admin
    )
    billing = payload(body, "updateBillingDetails")["billing"]
    assert billing["paymentMethod"] is None
    assert billing["city"] == "Oslo"


async def test_update_network_settings_zone_id_is_invalid(
    api: Api, factory: Factory, world: World, services: Services
) -> None:
    """An IPv6 zone (fe80::1%eth0) names an interface on one host, not a range anyone can
    connect from."""
    sid = await factory.subscription("Acme", world.admin)
    before = await state(services)
    body = await api(
        UPDATE_NETWORK,
        {"input": {"subscriptionId": sid, "allowedIpRanges": ["10.0.0.0/8", "fe80::1%eth0"]}},
        as_=world.admin,
    )
    errors = payload(body, "updateNetworkSettings")["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [
        ("INVALID_IP_RANGE", ["allowedIpRanges", "1"])
    ]
    assert await state(services) == before


async def test_subscription_members_cursor_beyond_any_id_is_bad_user_input(
    api: Api, factory: Factory, world: World
) -> None:
    """A forged cursor naming an id past the database's integer range is refused as bad input,
    never sent to SQL (where PostgreSQL would fail the request)."""
    sid = await factory.subscription("Acme", world.admin)
    cursor = base64.urlsafe_b64encode(f"cursor:v1:{2**40}".encode()).decode()
    body = await api(
        "query($id: ID!, $after: String) { subscription(id: $id) { members(after: $after) { totalCount } } }",
        {"id": sid, "after": cursor},
        as_=world.admin,
    )
    assert error_codes(body) == ["BAD_USER_INPUT"], body


async def test_update_network_settings_read_only_token_on_unknown_subscription_is_forbidden(
    api: Api, factory: Factory, world: World
) -> None:
    """R14 first: a READ_ONLY token is refused a write even when the subscription it names
    does not exist (not found must never hide not allowed)."""
    token = await factory.token(world.admin, TokenPermission.READ_ONLY)
    missing = to_global_id("BillingSubscription", 999)
    body = await api(
        UPDATE_NETWORK,
        {"input": {"subscriptionId": missing, "allowedIpRanges": ["10.0.0.0/8"]}},
        as_=token,
    )
    assert error_codes(body) == ["FORBIDDEN"], body
    assert body["data"]["updateNetworkSettings"] is None
