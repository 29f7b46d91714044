"""The audit log (R35): every change to access is one event with who, what, when, before/after;
refused changes write nothing; admins read it, newest first, filtered and paginated."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from accessgraph.models import TokenPermission
from accessgraph.schema.base import to_global_id
from tests.conftest import (
    START,
    Actor,
    Api,
    Factory,
    RecordingMailer,
    World,
    assert_no_permission,
    error_codes,
    payload,
)

AUDIT_EVENTS = """
query Audit($first: Int, $after: String, $last: Int, $before: String, $filter: AuditEventFilter) {
  auditEvents(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id } }
    nodes {
      id action actorLabel actor { id email } viaTokenId
      targetType targetId targetLabel before after createdAt
    }
  }
}"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on AuditEvent { action } } }"
INVITE_USER = """
mutation Invite($email: String!, $role: TeamRole) {
  inviteUser(input: {email: $email, role: $role}) { user { id } errors { code } }
}"""
RESEND_INVITATION = """
mutation Resend($userId: ID!) {
  resendInvitation(input: {userId: $userId}) { user { id status } errors { code } }
}"""
ACCEPT_INVITATION = """
mutation Accept($token: String!) {
  acceptInvitation(input: {token: $token, password: "a long enough passphrase"}) {
    user { id status } errors { code }
  }
}"""
CREATE_USER = """
mutation Create($email: String!, $password: String!) {
  createUser(input: {email: $email, password: $password, role: ADMIN}) {
    user { id } errors { code }
  }
}"""
UPDATE_USER_ROLE = """
mutation Role($userId: ID!, $role: TeamRole!) {
  updateUserRole(input: {userId: $userId, role: $role}) { user { role } errors { code } }
}"""
DELETE_USER = """
mutation Delete($userId: ID!) {
  deleteUser(input: {userId: $userId}) { deletedUserId errors { code } }
}"""
CREATE_TOKEN = """
mutation CreateToken($name: String!, $permission: TokenPermission!) {
  createToken(input: {name: $name, permission: $permission}) {
    token { id name } secret errors { code }
  }
}"""
REVOKE_TOKEN = """
mutation Revoke($tokenId: ID!) {
  revokeToken(input: {tokenId: $tokenId}) { token { status } errors { code } }
}"""
DELETE_TOKEN = """
mutation DeleteToken($tokenId: ID!) {
  deleteToken(input: {tokenId: $tokenId}) { deletedTokenId errors { code } }
}"""
UPDATE_ORGANIZATION_SETTINGS = """
mutation Settings($name: String) {
  updateOrganizationSettings(input: {name: $name}) { organization { name } errors { code } }
}"""

STRONG_PASSWORD = "an initial passphrase"


# --- helpers ----------------------------------------------------------------------------------


async def audit(api: Api, actor: Actor, **variables: Any) -> dict[str, Any]:
    body = await api(AUDIT_EVENTS, variables, as_=actor)
    assert not body.get("errors"), body
    connection: dict[str, Any] = body["data"]["auditEvents"]
    return connection


async def events(api: Api, actor: Actor, **filter_: Any) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = (await audit(api, actor, first=100, filter=filter_ or None))[
        "nodes"
    ]
    return nodes


async def count(api: Api, actor: Actor) -> int:
    total: int = (await audit(api, actor))["totalCount"]
    return total


def at(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["createdAt"])


async def invite(api: Api, actor: Actor, email: str = "new@acme.test") -> str:
    result = payload(await api(INVITE_USER, {"email": email}, as_=actor), "inviteUser")
    assert result["errors"] == [], result
    user_id: str = result["user"]["id"]
    return user_id


async def token_via_api(api: Api, actor: Actor, name: str = "ci") -> tuple[str, str]:
    body = await api(CREATE_TOKEN, {"name": name, "permission": "READ_WRITE"}, as_=actor)
    result = payload(body, "createToken")
    assert result["errors"] == [], result
    return result["token"]["id"], result["secret"]


async def test_audit_events_empty_before_any_change(api: Api, world: World) -> None:
    connection = await audit(api, world.admin)
    assert connection["totalCount"] == 0
    assert connection["nodes"] == []
    assert connection["pageInfo"]["hasNextPage"] is False


async def test_invite_user_writes_user_invite_event(api: Api, world: World, later: Any) -> None:
    later(minutes=5)
    user_id = await invite(api, world.admin)
    [event] = await events(api, world.admin)
    assert event["action"] == "user.invite"
    assert event["actor"] == {"id": world.admin.id, "email": "admin@acme.test"}
    assert event["actorLabel"] == "admin@acme.test"
    assert event["viaTokenId"] is None
    assert (event["targetType"], event["targetId"], event["targetLabel"]) == (
        "User",
        user_id,
        "new@acme.test",
    )
    assert event["before"] is None
    assert event["after"]["email"] == "new@acme.test"
    assert event["after"]["role"] == "DEVELOPER"
    assert event["after"]["status"] == "INVITED"
    assert at(event) == START + timedelta(minutes=5)


async def test_resend_invitation_writes_before_and_after_status(
    api: Api, world: World, advance: Any
) -> None:
    user_id = await invite(api, world.admin)
    await advance(hours=25)
    body = await api(RESEND_INVITATION, {"userId": user_id}, as_=world.admin)
    assert payload(body, "resendInvitation")["errors"] == []
    [event] = await events(api, world.admin, action="user.invitation_resend")
    assert event["actor"]["id"] == world.admin.id
    assert event["targetId"] == user_id
    assert event["before"]["status"] == "EXPIRED"
    assert event["after"]["status"] == "INVITED"
    assert at(event) == START + timedelta(hours=25)


async def test_accept_invitation_writes_event_by_the_new_user(
    api: Api, world: World, mailer: RecordingMailer, later: Any
) -> None:
    user_id = await invite(api, world.admin)
    later(hours=1)
    body = await api(ACCEPT_INVITATION, {"token": mailer.last_secret("new@acme.test")})
    assert payload(body, "acceptInvitation")["errors"] == []
    [event] = await events(api, world.admin, action="user.invitation_accept")
    assert event["actor"]["id"] == user_id
    assert event["actorLabel"] == "new@acme.test"
    assert event["viaTokenId"] is None
    assert event["targetId"] == user_id
    assert event["before"]["status"] == "INVITED"
    assert event["after"]["status"] == "ACTIVE"
    assert at(event) == START + timedelta(hours=1)


async def test_create_user_writes_event_without_the_password(api: Api, world: World) -> None:
    body = await api(
        CREATE_USER, {"email": "made@acme.test", "password": STRONG_PASSWORD}, as_=world.admin
    )
    user_id = payload(body, "createUser")["user"]["id"]
    [event] = await events(api, world.admin)
    assert event["action"] == "user.create"
    assert event["actor"]["id"] == world.admin.id
    assert event["targetId"] == user_id
    assert event["before"] is None
    assert event["after"]["role"] == "ADMIN"
    assert event["after"]["status"] == "INVITED"
    dumped = json.dumps(event)
    assert STRONG_PASSWORD not in dumped
    assert "argon2" not in dumped
    assert at(event) == START


async def test_update_user_role_writes_before_and_after_role(
    api: Api, world: World, later: Any
) -> None:
    later(seconds=42)
    body = await api(UPDATE_USER_ROLE, {"userId": world.dev.id, "role": "ADMIN"}, as_=world.admin)
    assert payload(body, "updateUserRole")["errors"] == []
    [event] = await events(api, world.admin)
    assert event["action"] == "user.role_update"
    assert event["actor"]["id"] == world.admin.id
    assert (event["targetType"], event["targetId"]) == ("User", world.dev.id)
    assert event["before"]["role"] == "DEVELOPER"
    assert event["after"]["role"] == "ADMIN"
    assert at(event) == START + timedelta(seconds=42)


async def test_update_user_role_to_same_role_writes_nothing(api: Api, world: World) -> None:
    body = await api(
        UPDATE_USER_ROLE, {"userId": world.dev.id, "role": "DEVELOPER"}, as_=world.admin
    )
    assert payload(body, "updateUserRole")["errors"] == []
    assert await count(api, world.admin) == 0


async def test_delete_user_writes_user_delete_and_token_revokes(
    api: Api, factory: Factory, world: World
) -> None:
    first = await factory.token(world.dev, name="ci")
    second = await factory.token(world.dev, name="deploy")
    revoked_before = await factory.token(world.dev, name="old")
    payload(
        await api(REVOKE_TOKEN, {"tokenId": revoked_before.extra["token_id"]}, as_=world.dev),
        "revokeToken",
    )
    before = await count(api, world.admin)
    body = await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin)
    assert payload(body, "deleteUser")["errors"] == []
    new = (await events(api, world.admin))[: await count(api, world.admin) - before]
    assert sorted(e["action"] for e in new) == ["token.revoke", "token.revoke", "user.delete"]
    assert all(e["actor"]["id"] == world.admin.id for e in new)
    [deletion] = [e for e in new if e["action"] == "user.delete"]
    assert deletion["targetId"] == world.dev.id
    assert deletion["before"]["deleted"] is False
    assert deletion["after"]["deleted"] is True
    revokes = [e for e in new if e["action"] == "token.revoke"]
    assert sorted(e["targetId"] for e in revokes) == sorted(
        [first.extra["token_id"], second.extra["token_id"]]
    )
    for event in revokes:
        assert event["targetType"] == "Token"
        assert event["before"]["status"] == "ACTIVE"
        assert event["after"]["status"] == "REVOKED"
    assert all(at(e) == START for e in new)


async def test_create_token_writes_event_without_the_secret(api: Api, world: World) -> None:
    token_id, secret = await token_via_api(api, world.dev, "k8s-production")
    [event] = await events(api, world.admin)
    assert event["action"] == "token.create"
    assert event["actor"]["id"] == world.dev.id
    assert (event["targetType"], event["targetId"], event["targetLabel"]) == (
        "Token",
        token_id,
        "k8s-production",
    )
    assert event["before"] is None
    assert event["after"]["name"] == "k8s-production"
    assert event["after"]["permission"] == "READ_WRITE"
    assert event["after"]["status"] == "ACTIVE"
    assert secret not in json.dumps(event)
    assert at(event) == START


async def test_revoke_token_writes_before_and_after_status(
    api: Api, world: World, later: Any
) -> None:
    token_id, _ = await token_via_api(api, world.dev)
    later(minutes=1)
    body = await api(REVOKE_TOKEN, {"tokenId": token_id}, as_=world.admin)
    assert payload(body, "revokeToken")["errors"] == []
    [event] = await events(api, world.admin, action="token.revoke")
    assert event["actor"]["id"] == world.admin.id
    assert event["targetId"] == token_id
    assert event["before"]["status"] == "ACTIVE"
    assert event["after"]["status"] == "REVOKED"
    assert at(event) == START + timedelta(minutes=1)


async def test_delete_token_writes_event_with_before(api: Api, world: World, later: Any) -> None:
    token_id, _ = await token_via_api(api, world.dev)
    payload(await api(REVOKE_TOKEN, {"tokenId": token_id}, as_=world.dev), "revokeToken")
    later(minutes=2)
    body = await api(DELETE_TOKEN, {"tokenId": token_id}, as_=world.dev)
    assert payload(body, "deleteToken")["errors"] == []
    [event] = await events(api, world.admin, action="token.delete")
    assert event["actor"]["id"] == world.dev.id
    assert event["targetId"] == token_id
    assert event["targetLabel"] == "ci"
    assert event["before"]["status"] == "REVOKED"
    assert event["after"] is None
    assert at(event) == START + timedelta(minutes=2)
    assert [e["action"] for e in await events(api, world.admin)] == [
        "token.delete",
        "token.revoke",
        "token.create",
    ]


async def test_update_organization_settings_writes_before_and_after_name(
    api: Api, world: World
) -> None:
    body = await api(UPDATE_ORGANIZATION_SETTINGS, {"name": "Acme Corp"}, as_=world.admin)
    assert payload(body, "updateOrganizationSettings")["errors"] == []
    [event] = await events(api, world.admin)
    assert event["action"] == "organization.update"
    assert event["actor"]["id"] == world.admin.id
    assert event["targetType"] == "Organization"
    assert event["targetId"] == to_global_id("Organization", world.org)
    assert event["before"] == {"name": "Acme", "managePolicy": "EXCLUDE_MANAGE"}
    assert event["after"] == {"name": "Acme Corp", "managePolicy": "EXCLUDE_MANAGE"}
    assert at(event) == START


async def test_update_organization_settings_same_name_writes_nothing(
    api: Api, world: World
) -> None:
    body = await api(UPDATE_ORGANIZATION_SETTINGS, {"name": "Acme"}, as_=world.admin)
    assert payload(body, "updateOrganizationSettings")["errors"] == []
    assert await count(api, world.admin) == 0


async def test_token_action_records_via_token_id(api: Api, factory: Factory, world: World) -> None:
    token = await factory.token(world.admin, name="automation")
    user_id = await invite(api, token)
    [event] = await events(api, world.admin, action="user.invite")
    assert event["viaTokenId"] == token.extra["token_id"]
    assert event["actor"]["id"] == world.admin.id
    assert "admin@acme.test" in event["actorLabel"]
    assert event["targetId"] == user_id
    [created] = await events(api, world.admin, action="token.create")
    assert created["viaTokenId"] is None


async def test_token_revoking_itself_records_via_token_id(
    api: Api, factory: Factory, world: World
) -> None:
    token = await factory.token(world.dev, name="self-destruct")
    body = await api(REVOKE_TOKEN, {"tokenId": token.extra["token_id"]}, as_=token)
    assert payload(body, "revokeToken")["errors"] == []
    [event] = await events(api, world.admin, action="token.revoke")
    assert event["viaTokenId"] == token.extra["token_id"]
    assert event["actor"]["id"] == world.dev.id


# --- refused changes write nothing ------------------------------------------------------------

REFUSED = {
    "last-admin-demote": ("admin", UPDATE_USER_ROLE, {"userId": "admin", "role": "DEVELOPER"}),
    "last-admin-delete": ("admin", DELETE_USER, {"userId": "admin"}),
    "email-taken": ("admin", INVITE_USER, {"email": "DEV@acme.test"}),
    "invalid-email": ("admin", INVITE_USER, {"email": "nope"}),
    "developer-invite": ("dev", INVITE_USER, {"email": "x@acme.test"}),
    "developer-role": ("dev", UPDATE_USER_ROLE, {"userId": "dev", "role": "ADMIN"}),
    "developer-delete": ("dev", DELETE_USER, {"userId": "dev2"}),
    "developer-settings": ("dev", UPDATE_ORGANIZATION_SETTINGS, {"name": "Mine"}),
    "empty-org-name": ("admin", UPDATE_ORGANIZATION_SETTINGS, {"name": ""}),
    "not-pending": ("admin", RESEND_INVITATION, {"userId": "dev"}),
    "other-org-delete": ("admin", DELETE_USER, {"userId": "other_admin"}),
    "weak-create": ("admin", CREATE_USER, {"email": "m@acme.test", "password": "short"}),
    "bad-secret": (None, ACCEPT_INVITATION, {"token": "not-a-secret"}),
    "anonymous-invite": (None, INVITE_USER, {"email": "x@acme.test"}),
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_refused_mutation_writes_no_audit_event(api: Api, world: World, case: str) -> None:
    who, document, variables = REFUSED[case]
    actors = {"admin": world.admin, "dev": world.dev, "dev2": world.dev2}
    actors["other_admin"] = world.other_admin
    resolved = {k: (actors[v].id if k == "userId" else v) for k, v in variables.items()}
    body = await api(document, resolved, as_=actors[who] if who else Actor("anonymous", {}))
    field_name = next(iter(body["data"]))
    refused = bool(body.get("errors")) or body["data"][field_name]["errors"]
    assert refused, body
    assert await count(api, world.admin) == 0
    assert await count(api, world.other_admin) == 0


async def test_refused_token_mutations_write_no_audit_event(
    api: Api, factory: Factory, world: World
) -> None:
    token = await factory.token(world.admin, name="active")
    read_only = await factory.token(world.admin, TokenPermission.READ_ONLY, name="reader")
    before = await count(api, world.admin)
    active_delete = await api(DELETE_TOKEN, {"tokenId": token.extra["token_id"]}, as_=world.admin)
    assert payload(active_delete, "deleteToken")["errors"][0]["code"] == "TOKEN_ACTIVE"
    foreign = await api(REVOKE_TOKEN, {"tokenId": token.extra["token_id"]}, as_=world.dev)
    assert foreign["data"]["revokeToken"] is None or foreign["data"]["revokeToken"]["errors"]
    via_read_only = await api(INVITE_USER, {"email": "x@acme.test"}, as_=read_only)
    assert_no_permission(via_read_only, "inviteUser")
    assert await count(api, world.admin) == before


# --- reading the log --------------------------------------------------------------------------


async def _three_events(api: Api, world: World, later: Any) -> list[str]:
    """user.invite at +0, user.role_update at +1 h, organization.update at +2 h."""
    await invite(api, world.admin)
    later(hours=1)
    payload(
        await api(UPDATE_USER_ROLE, {"userId": world.dev.id, "role": "ADMIN"}, as_=world.admin),
        "updateUserRole",
    )
    later(hours=1)
    payload(
        await api(UPDATE_ORGANIZATION_SETTINGS, {"name": "Acme 2"}, as_=world.admin),
        "updateOrganizationSettings",
    )
    return ["organization.update", "user.role_update", "user.invite"]


async def test_audit_events_are_newest_first(api: Api, world: World, later: Any) -> None:
    expected = await _three_events(api, world, later)
    found = await events(api, world.admin)
    assert [e["action"] for e in found] == expected
    times = [at(e) for e in found]
    assert times == sorted(times, reverse=True)
    assert times[0] == START + timedelta(hours=2)


async def test_audit_events_first_pages_walk_all_without_gaps(
    api: Api, factory: Factory, world: World
) -> None:
    for i in range(7):
        await invite(api, world.admin, f"person{i}@acme.test")
    everything = [e["id"] for e in await events(api, world.admin)]
    assert len(everything) == 7
    seen: list[str] = []
    after = None
    while True:
        page = await audit(api, world.admin, first=3, after=after)
        assert page["totalCount"] == 7
        assert [e["node"]["id"] for e in page["edges"]] == [n["id"] for n in page["nodes"]]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == everything
    labels = [e["targetLabel"] for e in await events(api, world.admin)]
    assert labels == [f"person{i}@acme.test" for i in reversed(range(7))]


async def test_audit_events_last_pages_walk_backwards_without_gaps(api: Api, world: World) -> None:
    for i in range(5):
        await invite(api, world.admin, f"person{i}@acme.test")
    everything = [e["id"] for e in await events(api, world.admin)]
    seen: list[str] = []
    before = None
    while True:
        page = await audit(api, world.admin, last=2, before=before)
        seen = [n["id"] for n in page["nodes"]] + seen
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert seen == everything


async def test_audit_events_first_over_100_is_bad_user_input(api: Api, world: World) -> None:
    body = await api(AUDIT_EVENTS, {"first": 101}, as_=world.admin)
    assert body["data"]["auditEvents"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_audit_events_filter_by_action(api: Api, world: World, later: Any) -> None:
    await _three_events(api, world, later)
    found = await events(api, world.admin, action="user.role_update")
    assert [e["action"] for e in found] == ["user.role_update"]
    assert (await audit(api, world.admin, filter={"action": "user.invite"}))["totalCount"] == 1
    assert await events(api, world.admin, action="no.such.action") == []


async def test_audit_events_filter_by_actor(api: Api, factory: Factory, world: World) -> None:
    await invite(api, world.admin)
    await token_via_api(api, world.dev)
    found = await events(api, world.admin, actorId=world.dev.id)
    assert [(e["action"], e["actor"]["id"]) for e in found] == [("token.create", world.dev.id)]
    assert [e["action"] for e in await events(api, world.admin, actorId=world.admin.id)] == [
        "user.invite"
    ]
    assert await events(api, world.admin, actorId=world.dev2.id) == []


async def test_audit_events_filter_by_target(api: Api, world: World, later: Any) -> None:
    await _three_events(api, world, later)
    payload(
        await api(UPDATE_USER_ROLE, {"userId": world.dev.id, "role": "DEVELOPER"}, as_=world.admin),
        "updateUserRole",
    )
    found = await events(api, world.admin, targetId=world.dev.id)
    assert [(e["action"], e["after"]["role"]) for e in found] == [
        ("user.role_update", "DEVELOPER"),
        ("user.role_update", "ADMIN"),
    ]
    org_events = await events(api, world.admin, targetId=to_global_id("Organization", world.org))
    assert [e["action"] for e in org_events] == ["organization.update"]


async def test_audit_events_filter_by_token_target(api: Api, world: World) -> None:
    token_id, _ = await token_via_api(api, world.dev)
    other_id, _ = await token_via_api(api, world.dev, "other")
    payload(await api(REVOKE_TOKEN, {"tokenId": token_id}, as_=world.dev), "revokeToken")
    found = await events(api, world.admin, targetId=token_id)
    assert [e["action"] for e in found] == ["token.revoke", "token.create"]
    assert [e["action"] for e in await events(api, world.admin, targetId=other_id)] == [
        "token.create"
    ]


async def test_audit_events_filter_by_since_and_until(api: Api, world: World, later: Any) -> None:
    await _three_events(api, world, later)
    half_past = (START + timedelta(minutes=30)).isoformat()
    ninety = (START + timedelta(minutes=90)).isoformat()
    assert [e["action"] for e in await events(api, world.admin, since=half_past)] == [
        "organization.update",
        "user.role_update",
    ]
    assert [e["action"] for e in await events(api, world.admin, until=ninety)] == [
        "user.role_update",
        "user.invite",
    ]
    between = await events(api, world.admin, since=half_past, until=ninety)
    assert [e["action"] for e in between] == ["user.role_update"]
    assert (await audit(api, world.admin, filter={"since": half_past, "until": ninety}))[
        "totalCount"
    ] == 1


async def test_audit_events_filter_since_includes_the_exact_instant(
    api: Api, world: World, later: Any
) -> None:
    await _three_events(api, world, later)
    one_hour = (START + timedelta(hours=1)).isoformat()
    found = await events(api, world.admin, since=one_hour)
    assert [e["action"] for e in found] == ["organization.update", "user.role_update"]


async def test_audit_events_filter_without_timezone_is_not_an_internal_error(
    api: Api, world: World, later: Any
) -> None:
    # "2026-11-23T12:30:00" has no offset: read it as UTC, or refuse it as bad input; never
    # fail inside the server.
    await _three_events(api, world, later)
    body = await api(AUDIT_EVENTS, {"filter": {"since": "2026-11-23T12:30:00"}}, as_=world.admin)
    if body.get("errors"):
        assert error_codes(body) == ["BAD_USER_INPUT"], body
    else:
        found = body["data"]["auditEvents"]["nodes"]
        assert [e["action"] for e in found] == ["organization.update", "user.role_update"]


async def test_audit_events_filters_combine(api: Api, world: World, later: Any) -> None:
    await _three_events(api, world, later)
    found = await events(
        api, world.admin, action="user.invite", actorId=world.admin.id, until=START.isoformat()
    )
    assert found == []
    found = await events(api, world.admin, action="user.invite", actorId=world.admin.id)
    assert len(found) == 1


async def test_audit_event_actor_resolves_after_actor_is_deleted(api: Api, world: World) -> None:
    payload(
        await api(UPDATE_USER_ROLE, {"userId": world.dev.id, "role": "ADMIN"}, as_=world.admin),
        "updateUserRole",
    )
    await invite(api, world.dev, "by-dev@acme.test")
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    [event] = await events(api, world.admin, action="user.invite")
    assert event["actorLabel"] == "dev@acme.test"
    assert event["actor"] == {"id": world.dev.id, "email": "dev@acme.test"}
    assert [e["action"] for e in await events(api, world.admin, actorId=world.dev.id)] == [
        "user.invite"
    ]


# --- who may read it --------------------------------------------------------------------------


async def test_audit_events_developer_is_forbidden(api: Api, world: World) -> None:
    await invite(api, world.admin)
    body = await api(AUDIT_EVENTS, as_=world.dev)
    assert_no_permission(body, "auditEvents")


async def test_audit_events_developer_token_is_forbidden(
    api: Api, factory: Factory, world: World
) -> None:
    token = await factory.token(world.dev, TokenPermission.READ_ONLY)
    body = await api(AUDIT_EVENTS, as_=token)
    assert_no_permission(body, "auditEvents")


async def test_audit_events_anonymous_is_unauthenticated(api: Api, world: World) -> None:
    body = await api(AUDIT_EVENTS)
    assert body["data"]["auditEvents"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_audit_events_admin_read_only_token_may_read(
    api: Api, factory: Factory, world: World
) -> None:
    await invite(api, world.admin)
    token = await factory.token(world.admin, TokenPermission.READ_ONLY)
    connection = await audit(api, token)
    assert [e["action"] for e in connection["nodes"]] == ["token.create", "user.invite"]


async def test_audit_events_of_another_org_are_invisible(
    api: Api, factory: Factory, world: World
) -> None:
    user_id = await invite(api, world.admin)
    await token_via_api(api, world.admin)
    assert await count(api, world.admin) == 2
    assert await count(api, world.other_admin) == 0
    assert await events(api, world.other_admin, targetId=user_id) == []
    assert await events(api, world.other_admin, actorId=world.admin.id) == []
    await invite(api, world.other_admin, "someone@globex.test")
    [own] = await events(api, world.other_admin)
    assert own["targetLabel"] == "someone@globex.test"
    assert await count(api, world.admin) == 2


async def test_node_audit_event_of_another_org_is_null(api: Api, world: World) -> None:
    await invite(api, world.admin)
    [event] = await events(api, world.admin)
    mine = await api(NODE, {"id": event["id"]}, as_=world.admin)
    assert mine["data"]["node"] == {"id": event["id"], "action": "user.invite"}
    theirs = await api(NODE, {"id": event["id"]}, as_=world.other_admin)
    assert theirs["data"]["node"] is None
    developer = await api(NODE, {"id": event["id"]}, as_=world.dev)
    assert developer["data"]["node"] is None
