"""`checkAccess` (R34): may this principal do this action on this resource, and through which
grants? For the caller, or (admins) a user, group, token or the anonymous user; permission
targets apply directly, through groups and to everyone through the anonymous user (R24, R26);
tokens are capped by their permission and dead once revoked or expired (R14, R15). Every change
is seen by the very next check, on every instance; a check costs a constant number of SQL
statements."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from accessgraph.app import create_app
from accessgraph.models import TeamRole, TokenPermission
from accessgraph.schema.base import to_global_id
from accessgraph.services import Services
from tests.conftest import (
    ANONYMOUS,
    START,
    Actor,
    Api,
    Factory,
    StatementCounter,
    World,
    assert_no_permission,
    assert_unauthenticated,
    error_codes,
    payload,
)

Later = Callable[..., None]

CHECK_ACCESS = """
query Check($input: CheckAccessInput!) {
  checkAccess(input: $input) {
    allowed action resourceType resourceName subject reason
    grants { source name action via }
  }
}"""
CREATE_TARGET = """
mutation CreateTarget($input: CreatePermissionTargetInput!) {
  createPermissionTarget(input: $input) { permissionTarget { id } errors { code message field } }
}"""
UPDATE_TARGET = """
mutation UpdateTarget($input: UpdatePermissionTargetInput!) {
  updatePermissionTarget(input: $input) { permissionTarget { id } errors { code message field } }
}"""
DELETE_TARGET = """
mutation DeleteTarget($id: ID!) {
  deletePermissionTarget(input: {targetId: $id}) { deletedPermissionTargetId errors { code } }
}"""
CREATE_GROUP = """
mutation CreateGroup($name: String!, $members: [ID!]!) {
  createGroup(input: {name: $name, memberIds: $members}) { group { id } errors { code } }
}"""
UPDATE_GROUP_MEMBERS = """
mutation Members($id: ID!, $add: [ID!]!, $remove: [ID!]!) {
  updateGroupMembers(input: {groupId: $id, add: $add, remove: $remove}) { group { id } errors { code } }
}"""
DELETE_GROUP = """
mutation DeleteGroup($id: ID!) { deleteGroup(input: {groupId: $id}) { deletedGroupId errors { code } } }"""
DELETE_USER = """
mutation DeleteUser($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId errors { code } } }"""
UPDATE_USER_ROLE = """
mutation Demote($id: ID!) {
  updateUserRole(input: {userId: $id, role: DEVELOPER}) { user { role } errors { code } }
}"""
REVOKE_TOKEN = """
mutation Revoke($id: ID!) { revokeToken(input: {tokenId: $id}) { token { status } errors { code } } }"""

LIBS = [{"type": "REPOSITORY", "includePatterns": ["libs-*"], "excludePatterns": ["libs-secret"]}]


# --- helpers ----------------------------------------------------------------------------------


def user_grant(actor: Actor, *actions: str) -> dict[str, Any]:
    return {"principalType": "USER", "userId": actor.id, "actions": list(actions)}


def group_grant(group_id: str, *actions: str) -> dict[str, Any]:
    return {"principalType": "GROUP", "groupId": group_id, "actions": list(actions)}


async def create_target(
    api: Api,
    actor: Actor,
    name: str,
    grants: list[dict[str, Any]],
    resources: list[dict[str, Any]] | None = None,
) -> str:
    variables = {"input": {"name": name, "resources": resources or LIBS, "grants": grants}}
    result = payload(await api(CREATE_TARGET, variables, as_=actor), "createPermissionTarget")
    assert result["errors"] == [], result
    target_id: str = result["permissionTarget"]["id"]
    return target_id


async def set_grants(api: Api, actor: Actor, target_id: str, grants: list[dict[str, Any]]) -> None:
    body = await api(UPDATE_TARGET, {"input": {"targetId": target_id, "grants": grants}}, as_=actor)
    assert payload(body, "updatePermissionTarget")["errors"] == [], body


async def create_group(api: Api, actor: Actor, name: str, members: list[Actor]) -> str:
    body = await api(CREATE_GROUP, {"name": name, "members": [m.id for m in members]}, as_=actor)
    result = payload(body, "createGroup")
    assert result["errors"] == [], result
    group_id: str = result["group"]["id"]
    return group_id


async def check(
    api: Api,
    actor: Actor,
    action: str,
    name: str = "libs-release",
    resource_type: str = "REPOSITORY",
    **about: Any,
) -> dict[str, Any]:
    """The decision; a top-level error fails the test."""
    body = await check_body(api, actor, action, name, resource_type, **about)
    assert not body.get("errors"), body
    decision: dict[str, Any] = body["data"]["checkAccess"]
    return decision


async def check_body(
    api: Api,
    actor: Actor,
    action: str,
    name: str = "libs-release",
    resource_type: str = "REPOSITORY",
    **about: Any,
) -> dict[str, Any]:
    variables = {
        "input": {"action": action, "resourceType": resource_type, "resourceName": name, **about}
    }
    return await api(CHECK_ACCESS, variables, as_=actor)


async def check_body_status(api: Api, actor: Actor, status: int) -> dict[str, Any]:
    """A READ check whose HTTP status is `status` (401: the credential itself is refused)."""
    variables = {
        "input": {"action": "READ", "resourceType": "REPOSITORY", "resourceName": "libs-x"}
    }
    return await api(CHECK_ACCESS, variables, as_=actor, expect_status=status)


def grant(name: str, action: str, via: str, source: str = "PERMISSION_TARGET") -> dict[str, str]:
    return {"source": source, "name": name, "action": action, "via": via}


def assert_denied(decision: dict[str, Any]) -> None:
    assert decision["allowed"] is False, decision
    assert decision["grants"] == [], decision
    assert decision["reason"], decision


# --- the caller's own access ------------------------------------------------------------------


async def test_check_access_user_direct_grant(api: Api, world: World) -> None:
    await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ", "WRITE")])
    decision = await check(api, world.dev, "WRITE")
    assert decision == {
        "allowed": True,
        "action": "WRITE",
        "resourceType": "REPOSITORY",
        "resourceName": "libs-release",
        "subject": "dev@acme.test",
        "reason": decision["reason"],
        "grants": [grant("libs", "WRITE", "user")],
    }
    assert_denied(await check(api, world.dev, "DELETE"))
    assert_denied(await check(api, world.dev2, "READ"))  # not granted to dev2


async def test_check_access_action_is_case_insensitive(api: Api, world: World) -> None:
    await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ")])
    decision = await check(api, world.dev, " read ")
    assert (decision["allowed"], decision["action"]) == (True, "READ")


async def test_check_access_through_group(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    await create_target(api, world.admin, "libs", [group_grant(group, "READ", "DELETE")])
    decision = await check(api, world.dev, "DELETE")
    assert decision["allowed"] is True
    assert decision["grants"] == [grant("libs", "DELETE", "group Backend")]
    assert_denied(await check(api, world.dev, "WRITE"))
    assert_denied(await check(api, world.dev2, "READ"))


async def test_check_access_lists_every_grant_that_allows_it(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    await create_target(
        api,
        world.admin,
        "libs",
        [
            user_grant(world.dev, "READ"),
            group_grant(group, "READ"),
            {"principalType": "ANONYMOUS", "actions": ["READ"]},
        ],
    )
    await create_target(
        api,
        world.admin,
        "release",
        [user_grant(world.dev, "READ")],
        [{"type": "REPOSITORY", "names": ["libs-release"]}],
    )
    decision = await check(api, world.dev, "READ")
    assert decision["allowed"] is True
    assert sorted(decision["grants"], key=lambda g: (g["name"], g["via"])) == [
        grant("libs", "READ", "anonymous"),
        grant("libs", "READ", "group Backend"),
        grant("libs", "READ", "user"),
        grant("release", "READ", "user"),
    ]


async def test_check_access_anonymous_read_applies_to_everyone(api: Api, world: World) -> None:
    await create_target(
        api,
        world.admin,
        "public",
        [{"principalType": "ANONYMOUS", "actions": ["READ"]}],
        [{"type": "REPOSITORY", "includePatterns": ["public-*"]}],
    )
    for actor in (world.dev, world.dev2):
        decision = await check(api, actor, "READ", "public-docs")
        assert decision["allowed"] is True
        assert decision["grants"] == [grant("public", "READ", "anonymous")]
        assert_denied(await check(api, actor, "WRITE", "public-docs"))
        assert_denied(await check(api, actor, "READ", "private-docs"))
    decision = await check(api, world.admin, "READ", "public-docs", anonymous=True)
    assert (decision["allowed"], decision["subject"]) == (True, "anonymous")
    assert decision["grants"] == [grant("public", "READ", "anonymous")]
    assert_denied(await check(api, world.admin, "READ", "private-docs", anonymous=True))
    # R1: another organization's anonymous user gets nothing from Acme's targets.
    assert_denied(await check(api, world.other_admin, "READ", "public-docs", anonymous=True))


async def test_check_access_anonymous_without_grant_has_no_access(api: Api, world: World) -> None:
    # R26: no access unless an admin adds the anonymous user to a target.
    await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ")])
    assert_denied(await check(api, world.admin, "READ", anonymous=True))


async def test_check_access_include_and_exclude_patterns(api: Api, world: World) -> None:
    await create_target(
        api,
        world.admin,
        "patterns",
        [user_grant(world.dev, "READ")],
        [
            *LIBS,
            {"type": "BUILD", "includePatterns": ["**/*-release"]},
            {"type": "RELEASE_BUNDLE", "names": ["bundle"], "includePatterns": ["b?-*"]},
        ],
    )
    cases = [
        ("REPOSITORY", "libs-release", True),
        ("REPOSITORY", "libs-", True),
        ("REPOSITORY", "libs-secret", False),  # excluded
        ("REPOSITORY", "libs-secret2", True),  # the exclude is exact
        ("REPOSITORY", "libs", False),
        ("REPOSITORY", "Libs-release", False),  # case-sensitive
        ("REPOSITORY", "libs-a/b", False),  # * stops at /
        ("REPOSITORY", "my-libs-x", False),
        ("BUILD", "app-release", True),  # **/ also matches nothing
        ("BUILD", "team/app-release", True),
        ("BUILD", "org/team/app-release", True),
        ("BUILD", "app-release-2", False),
        ("BUILD", "libs-release", True),
        ("BUILD", "app-snapshot", False),
        ("RELEASE_BUNDLE", "bundle", True),
        ("RELEASE_BUNDLE", "b1-x", True),
        ("RELEASE_BUNDLE", "b12-x", False),  # ? is one character
        ("DESTINATION", "libs-release", False),  # a type the target does not cover
    ]
    for resource_type, name, allowed in cases:
        decision = await check(api, world.dev, "READ", name, resource_type)
        assert decision["allowed"] is allowed, (resource_type, name, decision)
        assert bool(decision["grants"]) is allowed, (resource_type, name, decision)


async def test_check_access_denied_explains_why(api: Api, world: World) -> None:
    await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ")])
    decision = await check(api, world.dev, "WRITE", "libs-secret")
    assert_denied(decision)
    assert "WRITE" in decision["reason"], decision
    assert "libs-secret" in decision["reason"], decision
    assert "dev@acme.test" in decision["reason"], decision


async def test_check_access_team_admin_is_allowed_through_team_role(api: Api, world: World) -> None:
    for action in ("READ", "WRITE", "DELETE", "MANAGE"):
        decision = await check(api, world.admin, action, "anything-at-all")
        assert decision["allowed"] is True, action
        assert decision["grants"] == [grant("ADMIN", action, "user", "TEAM_ROLE")]
    decision = await check(api, world.admin, "DISTRIBUTE", "bundle", "RELEASE_BUNDLE")
    assert decision["grants"] == [grant("ADMIN", "DISTRIBUTE", "user", "TEAM_ROLE")]


async def test_check_access_distribute_on_release_bundles_and_destinations(
    api: Api, world: World
) -> None:
    await create_target(
        api,
        world.admin,
        "bundles",
        [user_grant(world.dev, "READ", "DISTRIBUTE")],
        [
            {"type": "RELEASE_BUNDLE", "includePatterns": ["**"]},
            {"type": "DESTINATION", "names": ["edge-eu"]},
        ],
    )
    assert (await check(api, world.dev, "DISTRIBUTE", "app/1.0", "RELEASE_BUNDLE"))["allowed"]
    assert (await check(api, world.dev, "DISTRIBUTE", "edge-eu", "DESTINATION"))["allowed"]
    assert_denied(await check(api, world.dev, "DISTRIBUTE", "edge-us", "DESTINATION"))


# --- admins asking about someone else ---------------------------------------------------------


async def test_check_access_admin_asks_about_user_group_token_and_anonymous(
    api: Api, factory: Factory, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev2])
    await create_target(
        api,
        world.admin,
        "libs",
        [
            user_grant(world.dev, "READ", "WRITE"),
            group_grant(group, "READ", "DELETE"),
            {"principalType": "ANONYMOUS", "actions": ["READ"]},
        ],
    )
    token = await factory.token(world.dev, TokenPermission.READ_WRITE, name="ci")

    decision = await check(api, world.admin, "WRITE", userId=world.dev.id)
    assert (decision["allowed"], decision["subject"]) == (True, "dev@acme.test")
    assert decision["grants"] == [grant("libs", "WRITE", "user")]
    assert_denied(await check(api, world.admin, "DELETE", userId=world.dev.id))

    decision = await check(api, world.admin, "DELETE", groupId=group)
    assert (decision["allowed"], decision["subject"]) == (True, "group Backend")
    assert decision["grants"] == [grant("libs", "DELETE", "group Backend")]
    assert_denied(await check(api, world.admin, "WRITE", groupId=group))

    decision = await check(api, world.admin, "WRITE", tokenId=token.extra["token_id"])
    assert decision["allowed"] is True
    assert token.extra["username"] in decision["subject"]
    assert decision["grants"] == [grant("libs", "WRITE", "user")]

    decision = await check(api, world.admin, "READ", anonymous=True)
    assert decision["grants"] == [grant("libs", "READ", "anonymous")]
    assert_denied(await check(api, world.admin, "WRITE", anonymous=True))

    # An admin asked about by another admin: their team role.
    decision = await check(api, world.admin, "DELETE", "x", userId=world.admin.id)
    assert decision["grants"] == [grant("ADMIN", "DELETE", "user", "TEAM_ROLE")]


async def test_check_access_developer_asking_about_someone_else_is_forbidden(
    api: Api, factory: Factory, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    token = await factory.token(world.dev2)
    for about in (
        {"userId": world.dev2.id},
        {"userId": world.admin.id},
        {"groupId": group},
        {"anonymous": True},
    ):
        assert_no_permission(await check_body(api, world.dev, "READ", **about), "checkAccess")
    # Someone else's token is "not found" to a developer, as a token that does not exist, so
    # token IDs cannot be probed.
    body = await check_body(api, world.dev, "READ", tokenId=token.extra["token_id"])
    assert error_codes(body) == ["NOT_FOUND"], body


async def test_check_access_without_credentials_is_unauthenticated(api: Api, world: World) -> None:
    assert_unauthenticated(await check_body(api, ANONYMOUS, "READ"), "checkAccess")


async def test_check_access_bad_input_is_bad_user_input(api: Api, world: World) -> None:
    for action, resource_type, name in (
        ("FLY", "REPOSITORY", "libs-release"),
        ("", "REPOSITORY", "libs-release"),
        ("DISTRIBUTE", "REPOSITORY", "libs-release"),  # R24: release bundles and destinations
        ("DISTRIBUTE", "BUILD", "app"),
        ("WRITE", "DESTINATION", "edge-eu"),
        ("READ", "REPOSITORY", "   "),
        ("READ", "REPOSITORY", "libs-\nrelease"),
        ("READ", "REPOSITORY", "x" * 201),
    ):
        body = await check_body(api, world.admin, action, name, resource_type)
        assert error_codes(body) == ["BAD_USER_INPUT"], (action, resource_type, body)
        assert body["data"] is None or body["data"]["checkAccess"] is None
    body = await check_body(api, world.admin, "READ", userId=world.dev.id, anonymous=True)
    assert error_codes(body) == ["BAD_USER_INPUT"], body


async def test_check_access_other_org_principal_is_not_found(
    api: Api, factory: Factory, world: World
) -> None:
    globex_group = await create_group(api, world.other_admin, "Globex", [world.other_admin])
    globex_token = await factory.token(world.other_admin)
    for about in (
        {"groupId": globex_group},
        {"userId": world.other_admin.id},
        {"tokenId": globex_token.extra["token_id"]},
        {"groupId": to_global_id("Group", 987654)},
        {"userId": "garbage"},
    ):
        body = await check_body(api, world.admin, "READ", **about)
        assert error_codes(body) == ["NOT_FOUND"], (about, body)
        assert body["data"] is None or body["data"]["checkAccess"] is None


# --- tokens (R14, R15) ------------------------------------------------------------------------


async def test_check_access_revoked_token_is_denied_and_cannot_call(
    api: Api, factory: Factory, world: World
) -> None:
    await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ", "WRITE")])
    token = await factory.token(world.dev)
    assert (await check(api, token, "WRITE"))["allowed"] is True
    body = await api(REVOKE_TOKEN, {"id": token.extra["token_id"]}, as_=world.dev)
    assert payload(body, "revokeToken")["token"]["status"] == "REVOKED"

    assert_denied(await check(api, world.admin, "READ", tokenId=token.extra["token_id"]))
    # R15: the very next request with the revoked token is refused outright.
    body = await check_body_status(api, token, 401)
    assert "UNAUTHENTICATED" in error_codes(body), body


async def test_check_access_expired_token_is_denied(
    api: Api, factory: Factory, world: World, later: Later
) -> None:
    await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ", "WRITE")])
    token = await factory.token(world.dev, expires_at=START + timedelta(hours=1))
    assert (await check(api, world.admin, "READ", tokenId=token.extra["token_id"]))["allowed"]
    later(hours=2)
    assert_denied(await check(api, world.admin, "READ", tokenId=token.extra["token_id"]))
    body = await check_body_status(api, token, 401)
    assert "UNAUTHENTICATED" in error_codes(body), body


async def test_check_access_read_only_token_is_capped(
    api: Api, factory: Factory, world: World
) -> None:
    await create_target(
        api, world.admin, "libs", [user_grant(world.dev, "READ", "WRITE", "DELETE", "MANAGE")]
    )
    read_only = await factory.token(world.dev, TokenPermission.READ_ONLY)
    for action in ("WRITE", "DELETE", "MANAGE"):  # the owner holds them all
        assert (await check(api, world.dev, action))["allowed"] is True
    # R14: the token reads what its owner reads and does nothing else, as caller or asked about.
    for caller, about in (
        (read_only, {}),
        (world.admin, {"tokenId": read_only.extra["token_id"]}),
    ):
        decision = await check(api, caller, "READ", **about)
        assert decision["allowed"] is True
        assert decision["grants"] == [grant("libs", "READ", "user")]
        for action in ("WRITE", "DELETE", "MANAGE"):
            decision = await check(api, caller, action, **about)
            assert_denied(decision)
            assert "read-only" in decision["reason"].lower(), decision
        # Where the owner holds nothing, the token holds nothing either.
        assert_denied(await check(api, caller, "READ", "other-repo", **about))


async def test_check_access_admin_read_only_token_is_capped(
    api: Api, factory: Factory, world: World
) -> None:
    read_only = await factory.token(world.admin, TokenPermission.READ_ONLY)
    assert (await check(api, read_only, "READ", "anything"))["allowed"] is True
    assert_denied(await check(api, read_only, "WRITE", "anything"))
    # Asking about others is not a write: the admin's read-only token may.
    decision = await check(api, read_only, "WRITE", "anything", userId=world.admin.id)
    assert decision["allowed"] is True


async def test_check_access_demoted_admin_token_loses_team_role_at_once(
    api: Api, factory: Factory, world: World
) -> None:
    lead = await factory.member(world.org, "lead@acme.test", TeamRole.ADMIN)
    token = await factory.token(lead)
    decision = await check(api, token, "DELETE", "anything")
    assert decision["grants"] == [grant("ADMIN", "DELETE", "user", "TEAM_ROLE")]
    body = await api(UPDATE_USER_ROLE, {"id": lead.id}, as_=world.admin)
    assert payload(body, "updateUserRole")["errors"] == []
    # R14: a token never exceeds its owner's current rights.
    assert_denied(await check(api, token, "DELETE", "anything"))
    assert_denied(
        await check(api, world.admin, "DELETE", "anything", tokenId=token.extra["token_id"])
    )


async def test_check_access_developer_naming_themselves_gets_their_own_answer(
    api: Api, world: World
) -> None:
    await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ")])
    implicit = await check(api, world.dev, "READ")
    explicit = await check(api, world.dev, "READ", userId=world.dev.id)
    assert explicit == implicit


# --- never stale ------------------------------------------------------------------------------


def _change(change: str, world: World, group: str, target: str) -> tuple[str, dict[str, Any], str]:
    """The mutation that takes WRITE on libs-release away from dev (who has it through group)."""
    return {
        "revoke grant": (
            UPDATE_TARGET,
            {"input": {"targetId": target, "grants": [group_grant(group, "READ")]}},
            "updatePermissionTarget",
        ),
        "remove member": (
            UPDATE_GROUP_MEMBERS,
            {"id": group, "add": [], "remove": [world.dev.id]},
            "updateGroupMembers",
        ),
        "delete group": (DELETE_GROUP, {"id": group}, "deleteGroup"),
        "delete target": (DELETE_TARGET, {"id": target}, "deletePermissionTarget"),
    }[change]


@pytest.mark.parametrize(
    "change", ["revoke grant", "remove member", "delete group", "delete target"]
)
async def test_check_access_sees_a_change_at_the_next_check(
    api: Api, world: World, change: str
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    target = await create_target(api, world.admin, "libs", [group_grant(group, "READ", "WRITE")])
    assert (await check(api, world.dev, "WRITE"))["allowed"] is True  # the index is built
    query, variables, field = _change(change, world, group, target)
    assert payload(await api(query, variables, as_=world.admin), field)["errors"] == []
    assert_denied(await check(api, world.dev, "WRITE"))
    if change in ("revoke grant", "delete target"):
        assert_denied(await check(api, world.admin, "WRITE", groupId=group))
    if change == "delete group":
        body = await check_body(api, world.admin, "WRITE", groupId=group)
        assert error_codes(body) == ["NOT_FOUND"], body


async def test_check_access_about_a_deleted_user_is_not_found_at_once(
    api: Api, world: World
) -> None:
    await create_target(api, world.admin, "libs", [user_grant(world.dev2, "READ", "WRITE")])
    assert (await check(api, world.admin, "WRITE", userId=world.dev2.id))["allowed"] is True
    body = await api(DELETE_USER, {"id": world.dev2.id}, as_=world.admin)
    assert payload(body, "deleteUser")["errors"] == []
    body = await check_body(api, world.admin, "WRITE", userId=world.dev2.id)
    assert error_codes(body) == ["NOT_FOUND"], body


async def test_check_access_sees_a_new_grant_at_the_next_check(api: Api, world: World) -> None:
    target = await create_target(api, world.admin, "libs", [user_grant(world.dev2, "READ")])
    assert_denied(await check(api, world.dev, "READ"))
    group = await create_group(api, world.admin, "Backend", [])
    await set_grants(api, world.admin, target, [group_grant(group, "READ")])
    assert_denied(await check(api, world.dev, "READ"))
    body = await api(
        UPDATE_GROUP_MEMBERS, {"id": group, "add": [world.dev.id], "remove": []}, as_=world.admin
    )
    assert payload(body, "updateGroupMembers")["errors"] == []
    assert (await check(api, world.dev, "READ"))["grants"] == [
        grant("libs", "READ", "group Backend")
    ]


@pytest.fixture
async def second_api(services: Services) -> AsyncIterator[Api]:
    """Another app instance (its own Services: engine, pool and access-index cache) on the same
    database, as a second server would be."""
    other = Services.build(services.settings, clock=services.clock, mailer=services.mailer)
    transport = httpx.ASGITransport(app=create_app(other.settings, services=other))
    async with httpx.AsyncClient(transport=transport, base_url="http://second") as http:
        yield Api(http)
    await other.db.dispose()


async def test_check_access_on_another_instance_is_never_stale(
    api: Api, second_api: Api, world: World
) -> None:
    target = await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ", "WRITE")])
    # Instance B builds and caches its index.
    assert (await check(second_api, world.dev, "WRITE"))["allowed"] is True
    assert (await check(second_api, world.dev, "WRITE"))["allowed"] is True

    await set_grants(api, world.admin, target, [user_grant(world.dev, "READ")])  # on A
    assert_denied(await check(second_api, world.dev, "WRITE"))
    assert (await check(second_api, world.dev, "READ"))["allowed"] is True

    group = await create_group(api, world.admin, "Backend", [world.dev])
    await set_grants(api, world.admin, target, [group_grant(group, "READ", "WRITE")])
    assert (await check(second_api, world.dev, "WRITE"))["grants"] == [
        grant("libs", "WRITE", "group Backend")
    ]
    body = await api(
        UPDATE_GROUP_MEMBERS, {"id": group, "add": [], "remove": [world.dev.id]}, as_=world.admin
    )
    assert payload(body, "updateGroupMembers")["errors"] == []
    assert_denied(await check(second_api, world.dev, "READ"))

    # And the other way round: a change on B, seen by A's cached index.
    assert_denied(await check(api, world.dev, "READ"))
    body = await second_api(
        UPDATE_GROUP_MEMBERS, {"id": group, "add": [world.dev.id], "remove": []}, as_=world.admin
    )
    assert payload(body, "updateGroupMembers")["errors"] == []
    assert (await check(api, world.dev, "READ"))["allowed"] is True
    body = await second_api(DELETE_TARGET, {"id": target}, as_=world.admin)
    assert payload(body, "deletePermissionTarget")["errors"] == []
    assert_denied(await check(api, world.dev, "READ"))


async def test_check_access_with_token_revoked_on_another_instance_is_unauthenticated(
    api: Api, second_api: Api, factory: Factory, world: World
) -> None:
    await create_target(api, world.admin, "libs", [user_grant(world.dev, "READ")])
    token = await factory.token(world.dev)
    assert (await check(second_api, token, "READ"))["allowed"] is True
    body = await api(REVOKE_TOKEN, {"id": token.extra["token_id"]}, as_=world.dev)
    assert payload(body, "revokeToken")["errors"] == []
    # R15: refused at the very next request, on every instance.
    body = await check_body_status(second_api, token, 401)
    assert "UNAUTHENTICATED" in error_codes(body), body
    assert_denied(await check(second_api, world.admin, "READ", tokenId=token.extra["token_id"]))


# --- cost -------------------------------------------------------------------------------------


async def _statements(api: Api, actor: Actor, counter: StatementCounter, **about: Any) -> int:
    """Statements of one check, measured on the second request (the first builds the index)."""
    await check(api, actor, "READ", **about)
    counter.statements.clear()
    decision = await check(api, actor, "READ", **about)
    assert decision["allowed"] is True, decision
    return len(counter.statements)


async def test_check_access_statement_count_is_constant_in_targets(
    api: Api, world: World, count_statements: StatementCounter
) -> None:
    await create_target(api, world.admin, "libs-0", [user_grant(world.dev, "READ")])
    one = await _statements(api, world.dev, count_statements)
    one_about = await _statements(api, world.admin, count_statements, userId=world.dev.id)
    for i in range(1, 50):
        await create_target(api, world.admin, f"libs-{i}", [user_grant(world.dev, "READ")])
    many = await _statements(api, world.dev, count_statements)
    many_about = await _statements(api, world.admin, count_statements, userId=world.dev.id)
    decision = await check(api, world.dev, "READ")
    assert len(decision["grants"]) == 50
    assert (one, one_about) == (many, many_about), count_statements.statements
    # Issue 8: one statement, authentication, which reads the organization's access version
    # with the credential; asking about a user adds reading that user.
    assert (one, one_about) == (1, 2), count_statements.statements


async def test_check_access_statement_count_is_constant_in_groups(
    api: Api, world: World, count_statements: StatementCounter
) -> None:
    groups = [await create_group(api, world.admin, "group-0", [world.dev])]
    target = await create_target(api, world.admin, "libs", [group_grant(groups[0], "READ")])
    one = await _statements(api, world.dev, count_statements)
    one_group = await _statements(api, world.admin, count_statements, groupId=groups[0])
    for i in range(1, 20):
        groups.append(await create_group(api, world.admin, f"group-{i}", [world.dev]))
    await set_grants(api, world.admin, target, [group_grant(g, "READ") for g in groups])
    many = await _statements(api, world.dev, count_statements)
    many_group = await _statements(api, world.admin, count_statements, groupId=groups[-1])
    decision = await check(api, world.dev, "READ")
    assert len(decision["grants"]) == 20
    assert (one, one_group) == (many, many_group), count_statements.statements
