"""Subscription API tokens (R22, with R13-R15, R17, R6): created and revoked by the Primary Admin
only, the value shown once; a token acts as its creator's *current* role in its subscription,
capped by its permission, and reaches nothing outside that subscription."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from accessgraph.models import SubscriptionRole
from accessgraph.resolvers import subscriptions
from accessgraph.schema.base import from_global_id
from accessgraph.services import Services
from tests.conftest import (
    Actor,
    Api,
    Factory,
    World,
    assert_no_permission,
    error_codes,
    payload,
    user_error_codes,
)

TOKEN_FIELDS = "id name permission username status revokedAt viewerCanRevoke viewerCanDelete"
CREATE_SUBSCRIPTION_TOKEN = f"""
mutation CreateSubscriptionToken($input: CreateSubscriptionTokenInput!) {{
  createSubscriptionToken(input: $input) {{
    secret
    token {{ {TOKEN_FIELDS} createdBy {{ id }} }}
    errors {{ code message field }}
  }}
}}"""
REVOKE_SUBSCRIPTION_TOKEN = f"""
mutation RevokeSubscriptionToken($id: ID!) {{
  revokeSubscriptionToken(input: {{tokenId: $id}}) {{
    token {{ {TOKEN_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""
REVOKE_TOKEN = """
mutation RevokeToken($id: ID!) { revokeToken(input: {tokenId: $id}) { token { id } errors { code } } }"""
DELETE_TOKEN = """
mutation DeleteToken($id: ID!) { deleteToken(input: {tokenId: $id}) { deletedTokenId errors { code } } }"""
CREATE_TOKEN = """
mutation { createToken(input: {name: "personal", permission: READ_WRITE}) { secret errors { code } } }"""
UPDATE_NETWORK = """
mutation UpdateNetwork($id: ID!) {
  updateNetworkSettings(input: {subscriptionId: $id, allowedIpRanges: ["10.0.0.0/8"]}) {
    network { allowedIpRanges }
    errors { code }
  }
}"""
SET_USAGE_NOTIFICATION = """
mutation SetUsageNotification($id: ID!) {
  setUsageNotification(input: {subscriptionId: $id, metric: STORAGE, thresholdPercent: 80}) {
    notification { id }
    errors { code }
  }
}"""
REMOVE_MEMBER = """
mutation RemoveMember($sub: ID!, $user: ID!) {
  removeSubscriptionMember(input: {subscriptionId: $sub, userId: $user}) { removedUserId errors { code } }
}"""
UPDATE_MEMBER_ROLE = """
mutation UpdateMemberRole($sub: ID!, $user: ID!, $role: SubscriptionRole!) {
  updateSubscriptionMemberRole(input: {subscriptionId: $sub, userId: $user, role: $role}) {
    role
    errors { code }
  }
}"""
DELETE_USER = """
mutation DeleteUser($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId errors { code } } }"""
SUBSCRIPTION = f"""
query Subscription($id: ID!) {{
  subscription(id: $id) {{
    id name viewerRole
    usage {{ storagePercent }}
    usageNotifications {{ id }}
    billing {{ company }}
    network {{ allowedIpRanges }}
    members(first: 50) {{ totalCount edges {{ role node {{ id email }} }} }}
    apiTokens(first: 50) {{ totalCount nodes {{ {TOKEN_FIELDS} }} }}
  }}
}}"""
SUBSCRIPTION_NAME = "query Name($id: ID!) { subscription(id: $id) { id name } }"
SUBSCRIPTIONS = "{ subscriptions(first: 50) { totalCount nodes { id name } } }"
API_TOKENS = f"""
query ApiTokens($id: ID!) {{
  subscription(id: $id) {{ apiTokens(first: 50) {{ nodes {{ {TOKEN_FIELDS} }} }} }}
}}"""
NODE = f"""
query Node($id: ID!) {{
  node(id: $id) {{
    id
    ... on Token {{ {TOKEN_FIELDS} }}
    ... on User {{ email }}
    ... on BillingSubscription {{ name }}
  }}
}}"""
ORG_TOKENS = "{ tokens(first: 100) { totalCount nodes { id name } } }"
USER_TOKENS = "query UserTokens($id: ID!) { user(id: $id) { tokens { id name } } }"
VIEWER_TOKENS = "{ viewer { tokens { id name } } }"
USERS = "{ users(first: 50) { totalCount nodes { id email } } }"
USER = "query User($id: ID!) { user(id: $id) { id email } }"
AUDIT_EVENTS = "{ auditEvents(first: 50) { totalCount nodes { action } } }"
ORGANIZATION = "{ organization { id name } }"


# --- set-up ------------------------------------------------------------------------------------


@dataclass
class Sub:
    """A subscription of Acme with one member of each role. Its Primary Admin is a team
    DEVELOPER, so everything they reach in it comes from the subscription role."""

    id: str
    pk: int
    primary: Actor
    admin: Actor
    technical: Actor
    finance: Actor


@pytest.fixture
async def sub(factory: Factory, world: World) -> Sub:
    sub_id = await factory.subscription("Acme", world.dev)
    technical = await factory.member(world.org, "tech@acme.test", name="technical member")
    finance = await factory.member(world.org, "finance@acme.test", name="finance member")
    await factory.subscription_member(sub_id, world.dev2, SubscriptionRole.ADMIN)
    await factory.subscription_member(sub_id, technical, SubscriptionRole.TECHNICAL_MEMBER)
    await factory.subscription_member(sub_id, finance, SubscriptionRole.FINANCE_MEMBER)
    pk = from_global_id(sub_id, "BillingSubscription")
    assert pk is not None
    return Sub(sub_id, pk, world.dev, world.dev2, technical, finance)


async def create_subscription_token(
    api: Api,
    creator: Actor,
    sub_id: str,
    *,
    name: str = "ci",
    permission: str = "READ_WRITE",
) -> Actor:
    """Creates a subscription token through the API; the Actor sends it as a Bearer token."""
    body = await api(
        CREATE_SUBSCRIPTION_TOKEN,
        {"input": {"subscriptionId": sub_id, "name": name, "permission": permission}},
        as_=creator,
    )
    result = payload(body, "createSubscriptionToken")
    assert result["errors"] == [], result
    secret = result["secret"]
    assert isinstance(secret, str) and secret
    token = result["token"]
    return Actor(
        f"{creator.name}'s subscription token {name}",
        {"Authorization": f"Bearer {secret}"},
        creator.user_pk,
        creator.email,
        creator.org_pk,
        extra={"value": secret, "username": token["username"], "token_id": token["id"]},
    )


def basic(token: Actor, username: str | None = None) -> Actor:
    """The same token sent as HTTP Basic with its username (R17)."""
    user = username if username is not None else token.extra["username"]
    credentials = base64.b64encode(f"{user}:{token.extra['value']}".encode()).decode()
    return Actor(f"{token.name} (basic)", {"Authorization": f"Basic {credentials}"})


def assert_refused(body: dict[str, Any], field: str) -> None:
    """A mutation refused without effect: FORBIDDEN at the field, or (for a subscription the
    caller cannot see) a NOT_FOUND user error and nothing else in the payload."""
    if body.get("errors"):
        assert_no_permission(body, field)
        return
    result = body["data"][field]
    assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"], body
    assert all(value is None for key, value in result.items() if key != "errors"), body


async def transfer(services: Services, sub: Sub, to: Actor) -> None:
    await subscriptions.transfer_primary(services, sub.pk, to.email)


# --- creating: the value once (R13, R22) ---------------------------------------------------------


async def test_create_subscription_token_returns_secret_once(
    api: Api, sub: Sub, services: Services
) -> None:
    """R13: the value is in the creating response only; apiTokens and node never return it,
    and the database keeps no copy of it."""
    body = await api(
        CREATE_SUBSCRIPTION_TOKEN,
        {"input": {"subscriptionId": sub.id, "name": "deploy", "permission": "READ_ONLY"}},
        as_=sub.primary,
    )
    result = payload(body, "createSubscriptionToken")
    assert result["errors"] == []
    secret = result["secret"]
    assert isinstance(secret, str) and len(secret) > 20
    token = result["token"]
    assert token["name"] == "deploy"
    assert token["permission"] == "READ_ONLY"
    assert token["status"] == "ACTIVE"
    assert token["createdBy"]["id"] == sub.primary.id
    assert token["viewerCanRevoke"] is True
    assert secret not in json.dumps(token)

    for actor in (sub.primary, sub.admin, sub.technical):
        listed = await api(API_TOKENS, {"id": sub.id}, as_=actor)
        assert not listed.get("errors"), listed
        assert [t["id"] for t in listed["data"]["subscription"]["apiTokens"]["nodes"]] == [
            token["id"]
        ]
        assert secret not in json.dumps(listed)
        node = await api(NODE, {"id": token["id"]}, as_=actor)
        assert node["data"]["node"]["id"] == token["id"], node
        assert secret not in json.dumps(node)
    async with services.db.session() as session:
        rows = (await session.execute(text("SELECT * FROM access_tokens"))).all()
    assert len(rows) == 1
    assert all(secret not in str(value) for value in rows[0])


@pytest.mark.parametrize("role", ["admin", "technical", "finance"])
async def test_create_subscription_token_as_non_primary_admin_is_forbidden(
    api: Api, sub: Sub, role: str
) -> None:
    """R22: API tokens are managed only by the PRIMARY_ADMIN (an ADMIN views them)."""
    actor: Actor = getattr(sub, role)
    body = await api(
        CREATE_SUBSCRIPTION_TOKEN,
        {"input": {"subscriptionId": sub.id, "name": "ci", "permission": "READ_WRITE"}},
        as_=actor,
    )
    assert_no_permission(body, "createSubscriptionToken")
    listed = await api(API_TOKENS, {"id": sub.id}, as_=sub.primary)
    assert listed["data"]["subscription"]["apiTokens"]["nodes"] == []


async def test_create_subscription_token_as_non_member_team_admin_is_forbidden(
    api: Api, sub: Sub, world: World
) -> None:
    """R22: a team ADMIN who is not the subscription's Primary Admin cannot mint its tokens."""
    body = await api(
        CREATE_SUBSCRIPTION_TOKEN,
        {"input": {"subscriptionId": sub.id, "name": "ci", "permission": "READ_WRITE"}},
        as_=world.admin,
    )
    assert_no_permission(body, "createSubscriptionToken")


async def test_create_subscription_token_with_active_duplicate_name_is_taken(
    api: Api, sub: Sub, factory: Factory, world: World
) -> None:
    """Names are unique among a subscription's active tokens; a revoked one frees its name and
    another subscription has its own names."""
    first = await create_subscription_token(api, sub.primary, sub.id, name="k8s-production")
    duplicate = await api(
        CREATE_SUBSCRIPTION_TOKEN,
        {"input": {"subscriptionId": sub.id, "name": "k8s-production", "permission": "READ_ONLY"}},
        as_=sub.primary,
    )
    assert user_error_codes(duplicate, "createSubscriptionToken") == ["TOKEN_NAME_TAKEN"]
    assert duplicate["data"]["createSubscriptionToken"]["secret"] is None

    other_id = await factory.subscription("Acme", world.dev, name="Acme Edge")
    await create_subscription_token(api, sub.primary, other_id, name="k8s-production")

    revoked = await api(REVOKE_SUBSCRIPTION_TOKEN, {"id": first.extra["token_id"]}, as_=sub.primary)
    assert payload(revoked, "revokeSubscriptionToken")["errors"] == []
    await create_subscription_token(api, sub.primary, sub.id, name="k8s-production")


# --- authenticating (R17) ------------------------------------------------------------------------


async def test_subscription_token_authenticates_with_bearer_and_basic(api: Api, sub: Sub) -> None:
    """R17: Bearer, and HTTP Basic with the token's own username as the user name."""
    token = await create_subscription_token(api, sub.primary, sub.id, permission="READ_ONLY")
    for actor in (token, basic(token)):
        body = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=actor)
        assert not body.get("errors"), body
        assert body["data"]["subscription"] == {"id": sub.id, "name": "Acme Cloud"}


async def test_subscription_token_with_another_username_is_unauthenticated(
    api: Api, sub: Sub
) -> None:
    """R17: Basic pairs the token with its own username; another token's username is refused."""
    token = await create_subscription_token(api, sub.primary, sub.id, name="a")
    other = await create_subscription_token(api, sub.primary, sub.id, name="b")
    body = await api(
        SUBSCRIPTION_NAME,
        {"id": sub.id},
        as_=basic(token, other.extra["username"]),
        expect_status=401,
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]


# --- what a token reads: its creator's current role, in its subscription (R14, R22) ---------------


async def test_subscription_token_reads_every_field_as_primary_admin(api: Api, sub: Sub) -> None:
    """R22: a Primary Admin's token reads usage, billing, network, members and API tokens."""
    token = await create_subscription_token(api, sub.primary, sub.id, permission="READ_ONLY")
    body = await api(SUBSCRIPTION, {"id": sub.id}, as_=token)
    assert not body.get("errors"), body
    found = body["data"]["subscription"]
    assert found["viewerRole"] == "PRIMARY_ADMIN"
    assert found["usage"] is not None
    assert found["usageNotifications"] == []
    assert found["billing"] is not None
    assert found["network"] == {"allowedIpRanges": []}
    assert found["members"]["totalCount"] == 4
    assert found["apiTokens"]["totalCount"] == 1


async def test_subscription_token_follows_creator_current_role(
    api: Api, sub: Sub, services: Services
) -> None:
    """R14: a token never exceeds its owner's *current* rights. The creator moves from
    PRIMARY_ADMIN to ADMIN (transfer) to FINANCE_MEMBER: the same token then reads billing
    but neither network settings nor API tokens (R22)."""
    token = await create_subscription_token(api, sub.primary, sub.id, permission="READ_ONLY")
    await transfer(services, sub, sub.admin)
    demoted = await api(
        UPDATE_MEMBER_ROLE,
        {"sub": sub.id, "user": sub.primary.id, "role": "FINANCE_MEMBER"},
        as_=sub.admin,
    )
    assert payload(demoted, "updateSubscriptionMemberRole")["errors"] == []

    body = await api(SUBSCRIPTION, {"id": sub.id}, as_=token)
    found = body["data"]["subscription"]
    assert found["viewerRole"] == "FINANCE_MEMBER"
    assert found["billing"] is not None
    assert found["usage"] is not None
    assert found["network"] is None
    assert found["apiTokens"] is None
    forbidden = {tuple(e["path"]) for e in body["errors"] if e["extensions"]["code"] == "FORBIDDEN"}
    assert forbidden == {("subscription", "network"), ("subscription", "apiTokens")}, body


async def test_subscription_token_after_transfer_acts_as_admin(
    api: Api, sub: Sub, services: Services
) -> None:
    """R21 + R22: once the role moves, the former Primary Admin's token is an ADMIN's: it still
    reads API tokens and network settings but can no longer create or revoke tokens."""
    token = await create_subscription_token(api, sub.primary, sub.id, name="old-pa")
    await transfer(services, sub, sub.admin)

    body = await api(SUBSCRIPTION, {"id": sub.id}, as_=token)
    found = body["data"]["subscription"]
    assert found["viewerRole"] == "ADMIN"
    assert found["network"] is not None and found["apiTokens"] is not None
    assert [t["viewerCanRevoke"] for t in found["apiTokens"]["nodes"]] == [False]

    created = await api(
        CREATE_SUBSCRIPTION_TOKEN,
        {"input": {"subscriptionId": sub.id, "name": "more", "permission": "READ_WRITE"}},
        as_=token,
    )
    assert_no_permission(created, "createSubscriptionToken")
    revoked = await api(REVOKE_SUBSCRIPTION_TOKEN, {"id": token.extra["token_id"]}, as_=token)
    assert_no_permission(revoked, "revokeSubscriptionToken")
    # The new Primary Admin manages the tokens now.
    mine = await create_subscription_token(api, sub.admin, sub.id, name="new-pa")
    assert mine.extra["token_id"] != token.extra["token_id"]


async def test_subscription_token_after_creator_removed_is_revoked(
    api: Api, sub: Sub, services: Services
) -> None:
    """R15 + R22: removing a member revokes their tokens for the subscription, so the next
    request with one is UNAUTHENTICATED and re-adding them later brings nothing back."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    await transfer(services, sub, sub.admin)
    removed = await api(REMOVE_MEMBER, {"sub": sub.id, "user": sub.primary.id}, as_=sub.admin)
    assert payload(removed, "removeSubscriptionMember")["errors"] == []

    refused = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=token, expect_status=401)
    assert error_codes(refused) == ["UNAUTHENTICATED"]
    listed = await api(API_TOKENS, {"id": sub.id}, as_=sub.admin)
    nodes = listed["data"]["subscription"]["apiTokens"]["nodes"]
    assert [(t["id"], t["status"]) for t in nodes] == [(token.extra["token_id"], "REVOKED")]
    after = await api(SUBSCRIPTION, {"id": sub.id}, as_=sub.admin)
    assert after["data"]["subscription"]["network"]["allowedIpRanges"] == []


async def test_subscription_token_cannot_create_or_revoke_tokens(
    api: Api, sub: Sub, services: Services
) -> None:
    """A subscription token never manages credentials, even the Primary Admin's READ_WRITE
    one: a leaked token cannot leave a longer-lived token behind."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    body = await api(
        """mutation($s: ID!) { createSubscriptionToken(input: {subscriptionId: $s, name: "child",
        permission: READ_WRITE}) { secret errors { code } } }""",
        {"s": sub.id},
        as_=token,
    )
    assert error_codes(body) == ["FORBIDDEN"], body
    assert body["data"]["createSubscriptionToken"] is None


async def test_delete_user_revokes_creator_subscription_tokens(
    api: Api, sub: Sub, services: Services, world: World
) -> None:
    """R6: deleting the creator (after the Primary Admin role moved away, R21) revokes their
    subscription tokens; the next request with one is UNAUTHENTICATED (R15); it stays listed
    as REVOKED."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    await transfer(services, sub, sub.admin)
    deleted = await api(DELETE_USER, {"id": sub.primary.id}, as_=world.admin)
    assert payload(deleted, "deleteUser")["errors"] == []

    refused = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=token, expect_status=401)
    assert error_codes(refused) == ["UNAUTHENTICATED"]
    listed = await api(API_TOKENS, {"id": sub.id}, as_=sub.admin)
    nodes = listed["data"]["subscription"]["apiTokens"]["nodes"]
    assert [(t["id"], t["status"]) for t in nodes] == [(token.extra["token_id"], "REVOKED")]


async def test_delete_user_who_is_primary_admin_is_refused_and_token_stays_active(
    api: Api, sub: Sub, world: World
) -> None:
    """R21: a Primary Admin is not deleted (the operator transfers first); their token lives."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    refused = await api(DELETE_USER, {"id": sub.primary.id}, as_=world.admin)
    assert user_error_codes(refused, "deleteUser") == ["PRIMARY_ADMIN_TRANSFER_ONLY"]
    body = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=token)
    assert body["data"]["subscription"]["name"] == "Acme Cloud"


# --- confinement: the subscription and nothing else -------------------------------------------------


@dataclass
class AdminSub:
    """A subscription whose Primary Admin is a team ADMIN: a session of theirs reaches the
    whole organization, so anything their subscription token reaches beyond the subscription
    would be a leak."""

    id: str
    other_id: str
    token: Actor


@pytest.fixture
async def admin_sub(api: Api, factory: Factory, world: World) -> AdminSub:
    sub_id = await factory.subscription("Acme", world.admin)
    other_id = await factory.subscription("Acme", world.admin, name="Acme Other")
    await factory.token(world.admin, name="personal")
    token = await create_subscription_token(api, world.admin, sub_id, name="scoped")
    return AdminSub(sub_id, other_id, token)


Variables = Callable[[AdminSub, World], dict[str, Any]]
CONFINED: dict[str, tuple[str, Variables]] = {
    "users": (USERS, lambda a, w: {}),
    "user": (USER, lambda a, w: {"id": w.dev.id}),
    "tokens": (ORG_TOKENS, lambda a, w: {}),
    "auditEvents": (AUDIT_EVENTS, lambda a, w: {}),
    "organization": (ORGANIZATION, lambda a, w: {}),
    "subscription": (SUBSCRIPTION, lambda a, w: {"id": a.other_id}),
    "node": (NODE, lambda a, w: {"id": w.dev.id}),
}


@pytest.mark.parametrize("field", list(CONFINED))
async def test_subscription_token_outside_its_subscription_gets_nothing(
    api: Api, admin_sub: AdminSub, world: World, field: str
) -> None:
    """R22: a subscription token is confined to its subscription: the org's users, tokens, audit
    log, another subscription and a user by node ID are FORBIDDEN or null, never data, even
    though its creator (a team ADMIN) reaches all of them with a session."""
    query, variables = CONFINED[field]
    vars_ = variables(admin_sub, world)
    as_admin = await api(query, vars_, as_=world.admin)
    assert as_admin["data"][field] is not None, as_admin  # the creator's session sees it

    body = await api(query, vars_, as_=admin_sub.token)
    assert body["data"] is None or body["data"].get(field) is None, body
    assert set(error_codes(body)) <= {"FORBIDDEN"}, body


async def test_subscription_token_lists_only_its_subscription(
    api: Api, admin_sub: AdminSub, world: World
) -> None:
    """R22: `subscriptions` with a subscription token lists its own subscription only."""
    as_admin = await api(SUBSCRIPTIONS, as_=world.admin)
    assert as_admin["data"]["subscriptions"]["totalCount"] == 2
    body = await api(SUBSCRIPTIONS, as_=admin_sub.token)
    assert not body.get("errors"), body
    assert body["data"]["subscriptions"] == {
        "totalCount": 1,
        "nodes": [{"id": admin_sub.id, "name": "Acme Cloud"}],
    }
    other = await api(NODE, {"id": admin_sub.other_id}, as_=admin_sub.token)
    assert other["data"]["node"] is None, other


async def test_subscription_token_of_other_subscription_cannot_change_it(
    api: Api, admin_sub: AdminSub, world: World
) -> None:
    """R22: a READ_WRITE token of one subscription changes nothing of another, even one its
    creator is Primary Admin of (refused as FORBIDDEN, or NOT_FOUND as for a hidden one)."""
    body = await api(UPDATE_NETWORK, {"id": admin_sub.other_id}, as_=admin_sub.token)
    assert_refused(body, "updateNetworkSettings")
    body = await api(
        CREATE_SUBSCRIPTION_TOKEN,
        {"input": {"subscriptionId": admin_sub.other_id, "name": "x", "permission": "READ_ONLY"}},
        as_=admin_sub.token,
    )
    assert_refused(body, "createSubscriptionToken")
    other = await api(SUBSCRIPTION, {"id": admin_sub.other_id}, as_=world.admin)
    assert other["data"]["subscription"]["network"]["allowedIpRanges"] == []
    assert other["data"]["subscription"]["apiTokens"]["nodes"] == []


# --- writing with a token (R14) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [(UPDATE_NETWORK, "updateNetworkSettings"), (SET_USAGE_NOTIFICATION, "setUsageNotification")],
    ids=["network", "usage-notification"],
)
async def test_read_only_subscription_token_mutation_is_forbidden(
    api: Api, sub: Sub, query: str, field: str
) -> None:
    """R14: a READ_ONLY token changes nothing, whatever its creator's role."""
    token = await create_subscription_token(api, sub.primary, sub.id, permission="READ_ONLY")
    body = await api(query, {"id": sub.id}, as_=token)
    assert_no_permission(body, field)
    after = await api(SUBSCRIPTION, {"id": sub.id}, as_=sub.primary)
    assert after["data"]["subscription"]["network"]["allowedIpRanges"] == []
    assert after["data"]["subscription"]["usageNotifications"] == []


async def test_read_write_subscription_token_updates_network_settings(api: Api, sub: Sub) -> None:
    """R14 + R22: a READ_WRITE token does what its creator (Primary Admin) may, here."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    body = await api(UPDATE_NETWORK, {"id": sub.id}, as_=token)
    result = payload(body, "updateNetworkSettings")
    assert result["errors"] == []
    assert result["network"] == {"allowedIpRanges": ["10.0.0.0/8"]}
    after = await api(SUBSCRIPTION, {"id": sub.id}, as_=sub.primary)
    assert after["data"]["subscription"]["network"]["allowedIpRanges"] == ["10.0.0.0/8"]


async def test_read_write_subscription_token_create_token_is_forbidden(
    api: Api, sub: Sub, world: World
) -> None:
    """R22: a subscription token cannot mint a personal token (that would escape the
    subscription), although its creator could."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    body = await api(CREATE_TOKEN, as_=token)
    assert_no_permission(body, "createToken")
    mine = await api(ORG_TOKENS, as_=world.admin)
    assert mine["data"]["tokens"]["totalCount"] == 0


# --- revoking (R15) ----------------------------------------------------------------------------------


async def test_revoke_subscription_token_refuses_next_request(api: Api, sub: Sub) -> None:
    """R15: immediate (the very next request is UNAUTHENTICATED, Bearer and Basic) and final
    (a second revoke is TOKEN_ALREADY_REVOKED)."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    ok = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=token)
    assert ok["data"]["subscription"]["name"] == "Acme Cloud"

    body = await api(REVOKE_SUBSCRIPTION_TOKEN, {"id": token.extra["token_id"]}, as_=sub.primary)
    result = payload(body, "revokeSubscriptionToken")
    assert result["errors"] == []
    assert result["token"]["status"] == "REVOKED"
    assert result["token"]["revokedAt"] is not None
    assert result["token"]["viewerCanRevoke"] is False

    for actor in (token, basic(token)):
        refused = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=actor, expect_status=401)
        assert refused["data"] is None
        assert error_codes(refused) == ["UNAUTHENTICATED"]

    again = await api(REVOKE_SUBSCRIPTION_TOKEN, {"id": token.extra["token_id"]}, as_=sub.primary)
    assert user_error_codes(again, "revokeSubscriptionToken") == ["TOKEN_ALREADY_REVOKED"]


@pytest.mark.parametrize("role", ["admin", "technical", "finance"])
async def test_revoke_subscription_token_as_non_primary_admin_is_forbidden(
    api: Api, sub: Sub, role: str
) -> None:
    """R22: only the Primary Admin revokes; the token keeps working."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    body = await api(
        REVOKE_SUBSCRIPTION_TOKEN, {"id": token.extra["token_id"]}, as_=getattr(sub, role)
    )
    assert_no_permission(body, "revokeSubscriptionToken")
    ok = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=token)
    assert ok["data"]["subscription"]["name"] == "Acme Cloud"


async def test_revoke_subscription_token_as_team_admin_is_forbidden(
    api: Api, sub: Sub, world: World
) -> None:
    """R22 over R15: a team ADMIN revokes any personal token, not a subscription's."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    body = await api(REVOKE_SUBSCRIPTION_TOKEN, {"id": token.extra["token_id"]}, as_=world.admin)
    assert_no_permission(body, "revokeSubscriptionToken")
    ok = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=token)
    assert ok["data"]["subscription"]["name"] == "Acme Cloud"


@pytest.mark.parametrize("who", ["creator", "team-admin"])
async def test_revoke_token_on_subscription_token_is_not_found(
    api: Api, sub: Sub, world: World, who: str
) -> None:
    """Personal-token mutations do not reach a subscription's tokens (R22): NOT_FOUND."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    actor = sub.primary if who == "creator" else world.admin
    body = await api(REVOKE_TOKEN, {"id": token.extra["token_id"]}, as_=actor)
    assert user_error_codes(body, "revokeToken") == ["NOT_FOUND"]
    ok = await api(SUBSCRIPTION_NAME, {"id": sub.id}, as_=token)
    assert ok["data"]["subscription"]["name"] == "Acme Cloud"


@pytest.mark.parametrize("who", ["creator", "team-admin"])
async def test_delete_token_on_subscription_token_is_not_found(
    api: Api, sub: Sub, world: World, who: str
) -> None:
    """R16 applies to personal tokens; a (revoked) subscription token is NOT_FOUND there and
    stays listed on its subscription."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    revoked = await api(REVOKE_SUBSCRIPTION_TOKEN, {"id": token.extra["token_id"]}, as_=sub.primary)
    assert payload(revoked, "revokeSubscriptionToken")["errors"] == []
    actor = sub.primary if who == "creator" else world.admin
    body = await api(DELETE_TOKEN, {"id": token.extra["token_id"]}, as_=actor)
    assert user_error_codes(body, "deleteToken") == ["NOT_FOUND"]
    listed = await api(API_TOKENS, {"id": sub.id}, as_=sub.primary)
    assert [t["id"] for t in listed["data"]["subscription"]["apiTokens"]["nodes"]] == [
        token.extra["token_id"]
    ]


# --- where subscription tokens are listed (R22) --------------------------------------------------------


async def test_tokens_excludes_subscription_tokens(
    api: Api, sub: Sub, factory: Factory, world: World
) -> None:
    """Subscription tokens are listed on their subscription only: not in the organization's
    `tokens`, nor in `User.tokens` (for the creator or a team admin)."""
    personal = await factory.token(sub.primary, name="personal")
    await create_subscription_token(api, sub.primary, sub.id, name="scoped")

    org = await api(ORG_TOKENS, as_=world.admin)
    assert [t["name"] for t in org["data"]["tokens"]["nodes"]] == ["personal"], org
    own = await api(ORG_TOKENS, as_=sub.primary)
    assert [t["id"] for t in own["data"]["tokens"]["nodes"]] == [personal.extra["token_id"]]
    for actor in (world.admin, sub.primary):
        user = await api(USER_TOKENS, {"id": sub.primary.id}, as_=actor)
        assert [t["name"] for t in user["data"]["user"]["tokens"]] == ["personal"], user
    viewer = await api(VIEWER_TOKENS, as_=sub.primary)
    assert [t["name"] for t in viewer["data"]["viewer"]["tokens"]] == ["personal"], viewer


# --- node(id) of a subscription token (R22) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "visible"),
    [
        ("primary", True),
        ("admin", True),
        ("technical", True),
        ("finance", False),
        ("team-admin", False),
        ("other-org-admin", False),
    ],
)
async def test_node_subscription_token_visible_to_token_viewers_only(
    api: Api, sub: Sub, world: World, who: str, visible: bool
) -> None:
    """R22: API tokens are visible to PRIMARY_ADMIN, ADMIN and TECHNICAL_MEMBER; hidden from a
    FINANCE_MEMBER, a team ADMIN who is not a member, and another organization (R1)."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    actors = {
        "primary": sub.primary,
        "admin": sub.admin,
        "technical": sub.technical,
        "finance": sub.finance,
        "team-admin": world.admin,
        "other-org-admin": world.other_admin,
    }
    body = await api(NODE, {"id": token.extra["token_id"]}, as_=actors[who])
    assert not body.get("errors"), body
    node = body["data"]["node"]
    if visible:
        assert node is not None and node["id"] == token.extra["token_id"]
        assert node["name"] == "ci"
        assert node["viewerCanRevoke"] is (who == "primary")
    else:
        assert node is None


async def test_team_admin_member_sees_subscription_token_by_role_not_team_role(
    api: Api, sub: Sub, factory: Factory, world: World
) -> None:
    """R22: visibility follows the subscription role: a team ADMIN who is a FINANCE_MEMBER of
    the subscription does not see its API tokens."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    await factory.subscription_member(sub.id, world.admin, SubscriptionRole.FINANCE_MEMBER)
    body = await api(NODE, {"id": token.extra["token_id"]}, as_=world.admin)
    assert body["data"]["node"] is None, body
    listed = await api(API_TOKENS, {"id": sub.id}, as_=world.admin)
    assert_no_permission_nested(listed, ["subscription", "apiTokens"])


def assert_no_permission_nested(body: dict[str, Any], path: list[str]) -> None:
    errors = [e for e in body.get("errors") or [] if e.get("path") == path]
    assert errors and errors[0]["extensions"]["code"] == "FORBIDDEN", body
    value: Any = body["data"]
    for key in path:
        value = value[key] if value is not None else None
    assert value is None, body


DELETE_SUBSCRIPTION_TOKEN = """
mutation($t: ID!) { deleteSubscriptionToken(input: {tokenId: $t}) { deletedTokenId errors { code } } }
"""


async def test_delete_subscription_token_only_when_not_active_and_only_by_primary_admin(
    api: Api, sub: Sub
) -> None:
    """R16 for a subscription's tokens: an ACTIVE one is refused (TOKEN_ACTIVE); a revoked one
    leaves the list; managing them is the Primary Admin's alone (R22)."""
    token = await create_subscription_token(api, sub.primary, sub.id)
    tid = token.extra["token_id"]
    body = await api(DELETE_SUBSCRIPTION_TOKEN, {"t": tid}, as_=sub.primary)
    assert [e["code"] for e in payload(body, "deleteSubscriptionToken")["errors"]] == [
        "TOKEN_ACTIVE"
    ]
    revoked = await api(
        "mutation($t: ID!) { revokeSubscriptionToken(input: {tokenId: $t}) { errors { code } } }",
        {"t": tid},
        as_=sub.primary,
    )
    assert payload(revoked, "revokeSubscriptionToken")["errors"] == []
    body = await api(DELETE_SUBSCRIPTION_TOKEN, {"t": tid}, as_=sub.admin)
    assert error_codes(body) == ["FORBIDDEN"], body
    body = await api(DELETE_SUBSCRIPTION_TOKEN, {"t": tid}, as_=sub.primary)
    assert payload(body, "deleteSubscriptionToken") == {"deletedTokenId": tid, "errors": []}
    listed = await api(API_TOKENS, {"id": sub.id}, as_=sub.primary)
    assert listed["data"]["subscription"]["apiTokens"]["nodes"] == []
