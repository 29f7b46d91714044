"""The team: listing users, roles, deletion, the last admin, settings (R1-R6)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from accessgraph.models import TeamRole, TokenPermission, UserStatus
from accessgraph.schema.base import to_global_id
from tests.conftest import (
    PASSWORD,
    Actor,
    Api,
    Factory,
    World,
    assert_no_permission,
    error_codes,
    payload,
    user_error_codes,
)

USERS = """
query Users($first: Int, $after: String, $last: Int, $before: String, $filter: UserFilter) {
  users(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
    totalCount
    edges { cursor node { id email } }
    nodes { id email }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""
USER = """
query User($id: ID!) {
  user(id: $id) { id email role status viewerCanUpdateRole viewerCanDelete }
}"""
NODE = """
query Node($id: ID!) {
  node(id: $id) { id ... on User { email role } }
}"""
UPDATE_USER_ROLE = """
mutation UpdateRole($userId: ID!, $role: TeamRole!) {
  updateUserRole(input: {userId: $userId, role: $role}) {
    user { id email role }
    errors { code message field }
  }
}"""
DELETE_USER = """
mutation Delete($userId: ID!) {
  deleteUser(input: {userId: $userId}) { deletedUserId errors { code message field } }
}"""
INVITE_USER = """
mutation Invite($email: String!, $role: TeamRole) {
  inviteUser(input: {email: $email, role: $role}) { user { id email status role } errors { code } }
}"""
TOKENS = """
{ tokens(first: 100) {
    nodes { id name status revokedAt createdBy { id email deletedAt } }
} }"""
USERS_VIEWER_CAN = "{ users { nodes { email viewerCanUpdateRole viewerCanDelete } } }"
VIEWER = "{ viewer { email role } }"
LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}"""
TEAM_ROLES = "{ teamRoles { role permissions { permission description granted } } }"
ORGANIZATION = "{ organization { id name viewerCanManageSettings } }"
UPDATE_ORGANIZATION_SETTINGS = """
mutation Settings($name: String) {
  updateOrganizationSettings(input: {name: $name}) {
    organization { name viewerCanManageSettings }
    errors { code message field }
  }
}"""

ACME_EMAILS = ["admin@acme.test", "dev@acme.test", "dev2@acme.test"]

R3_MATRIX = {
    "ADMIN": {
        "PUSH_PULL_ARTIFACTS", "VIEW_ARTIFACTS", "MANAGE_WORKFLOWS", "VIEW_USERS",
        "CREATE_TOKENS", "REVOKE_OWN_TOKENS", "INVITE_USERS", "UPDATE_USER_ROLES",
        "DELETE_USERS", "REVOKE_ANY_TOKENS", "MANAGE_TEAM_SETTINGS",
    },
    "DEVELOPER": {
        "PUSH_PULL_ARTIFACTS", "VIEW_ARTIFACTS", "MANAGE_WORKFLOWS", "VIEW_USERS",
        "CREATE_TOKENS", "REVOKE_OWN_TOKENS",
    },
}  # fmt: skip


# --- helpers ----------------------------------------------------------------------------------


async def list_users(api: Api, actor: Actor, **variables: Any) -> dict[str, Any]:
    body = await api(USERS, variables, as_=actor)
    assert not body.get("errors"), body
    connection: dict[str, Any] = body["data"]["users"]
    return connection


async def emails(api: Api, actor: Actor, **filter_: Any) -> list[str]:
    connection = await list_users(api, actor, first=100, filter=filter_ or None)
    return [node["email"] for node in connection["nodes"]]


async def read_user(api: Api, actor: Actor, user_id: str) -> dict[str, Any] | None:
    body = await api(USER, {"id": user_id}, as_=actor)
    assert not body.get("errors"), body
    user: dict[str, Any] | None = body["data"]["user"]
    return user


async def role_of(api: Api, actor: Actor, user_id: str) -> str:
    user = await read_user(api, actor, user_id)
    assert user is not None
    role: str = user["role"]
    return role


async def set_role(api: Api, actor: Actor, user_id: str, role: str) -> dict[str, Any]:
    return await api(UPDATE_USER_ROLE, {"userId": user_id, "role": role}, as_=actor)


async def add_members(factory: Factory, world: World, count: int) -> list[str]:
    added = []
    for i in range(count):
        email = f"member{i:02d}@acme.test"
        await factory.user(world.org, email)
        added.append(email)
    return added


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


# --- users: the connection --------------------------------------------------------------------


async def test_users_returns_relay_connection(api: Api, world: World) -> None:
    connection = await list_users(api, world.admin)
    assert connection["totalCount"] == 3
    assert [e["node"]["email"] for e in connection["edges"]] == ACME_EMAILS
    assert connection["nodes"] == [e["node"] for e in connection["edges"]]
    assert connection["nodes"][0]["id"] == world.admin.id
    info = connection["pageInfo"]
    assert info["hasNextPage"] is False
    assert info["hasPreviousPage"] is False
    assert info["startCursor"] == connection["edges"][0]["cursor"]
    assert info["endCursor"] == connection["edges"][-1]["cursor"]
    assert len({e["cursor"] for e in connection["edges"]}) == 3


async def test_users_first_pages_walk_all_users_without_duplicates_or_gaps(
    api: Api, factory: Factory, world: World
) -> None:
    expected = ACME_EMAILS + await add_members(factory, world, 8)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await list_users(api, world.admin, first=3, after=after)
        assert page["totalCount"] == 11
        assert len(page["nodes"]) <= 3
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [n["email"] for n in page["nodes"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 4
    assert seen == expected


async def test_users_last_pages_walk_backwards_without_duplicates_or_gaps(
    api: Api, factory: Factory, world: World
) -> None:
    expected = ACME_EMAILS + await add_members(factory, world, 5)
    seen: list[str] = []
    before = None
    while True:
        page = await list_users(api, world.admin, last=3, before=before)
        assert page["pageInfo"]["hasNextPage"] is (before is not None)
        seen = [n["email"] for n in page["nodes"]] + seen
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]
    assert seen == expected


async def test_users_after_cursor_is_stable_when_users_are_added(
    api: Api, factory: Factory, world: World
) -> None:
    first = await list_users(api, world.admin, first=2)
    await factory.user(world.org, "late@acme.test")
    rest = await list_users(api, world.admin, first=10, after=first["pageInfo"]["endCursor"])
    assert [n["email"] for n in rest["nodes"]] == ["dev2@acme.test", "late@acme.test"]


async def test_users_first_100_is_allowed(api: Api, world: World) -> None:
    connection = await list_users(api, world.admin, first=100)
    assert len(connection["nodes"]) == 3


@pytest.mark.parametrize(("name", "value"), [("first", 101), ("last", 101), ("first", -1)])
async def test_users_page_size_out_of_range_is_bad_user_input(
    api: Api, world: World, name: str, value: int
) -> None:
    body = await api(USERS, {name: value}, as_=world.admin)
    assert body["data"]["users"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["path"] == ["users"]


@pytest.mark.parametrize(
    "cursor",
    ["garbage!!", cursor_of("cursor:v1:abc"), cursor_of("something else:3"), "", "%%%%"],
    ids=["not-base64", "not-a-number", "wrong-prefix", "empty", "percent"],
)
async def test_users_malformed_cursor_is_bad_user_input(
    api: Api, world: World, cursor: str
) -> None:
    body = await api(USERS, {"first": 2, "after": cursor or "="}, as_=world.admin)
    assert body["data"]["users"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_users_malformed_before_cursor_is_bad_user_input(api: Api, world: World) -> None:
    body = await api(USERS, {"last": 2, "before": "not a cursor"}, as_=world.admin)
    assert body["data"]["users"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_users_never_lists_another_organization(api: Api, world: World) -> None:
    assert await emails(api, world.other_admin) == ["admin@globex.test"]
    assert (await list_users(api, world.other_admin))["totalCount"] == 1


async def test_users_anonymous_is_unauthenticated(api: Api, world: World) -> None:
    body = await api(USERS)
    assert body["data"]["users"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


# --- users: filters ---------------------------------------------------------------------------


async def test_users_filter_by_role(api: Api, world: World) -> None:
    assert await emails(api, world.admin, role="ADMIN") == ["admin@acme.test"]
    assert await emails(api, world.admin, role="DEVELOPER") == ["dev@acme.test", "dev2@acme.test"]


async def test_users_filter_by_status(api: Api, factory: Factory, world: World) -> None:
    await factory.user(world.org, "pending@acme.test", status=UserStatus.INVITED)
    await factory.user(world.org, "bounced@acme.test", status=UserStatus.FAILED)
    assert await emails(api, world.admin, status="INVITED") == ["pending@acme.test"]
    assert await emails(api, world.admin, status="FAILED") == ["bounced@acme.test"]
    assert await emails(api, world.admin, status="ACTIVE") == ACME_EMAILS
    connection = await list_users(api, world.admin, filter={"status": "INVITED"})
    assert connection["totalCount"] == 1


async def test_users_filter_by_status_and_role_combined(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.org, "pending-admin@acme.test", TeamRole.ADMIN, UserStatus.INVITED)
    await factory.user(world.org, "pending-dev@acme.test", status=UserStatus.INVITED)
    assert await emails(api, world.admin, status="INVITED", role="ADMIN") == [
        "pending-admin@acme.test"
    ]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("DEV2@ACME", ["dev2@acme.test"]),
        ("acme.TEST", [*ACME_EMAILS, "ada@acme.test"]),
        ("lovelace", ["ada@acme.test"]),
        ("aDa", ["ada@acme.test"]),
        ("  ada  ", ["ada@acme.test"]),
        ("nobody", []),
    ],
)
async def test_users_search_matches_email_and_names_case_insensitively(
    api: Api, factory: Factory, world: World, term: str, expected: list[str]
) -> None:
    await factory.user(world.org, "ada@acme.test", first="Ada", last="LoveLace")
    assert await emails(api, world.admin, search=term) == expected


@pytest.mark.parametrize("term", ["Élodie", "élodie", "ÉLODIE", "łukasz"])
async def test_users_search_matches_non_ascii_names_case_insensitively(
    api: Api, factory: Factory, world: World, term: str
) -> None:
    await factory.user(world.org, "elodie@acme.test", first="Élodie", last="Łukasz")
    assert await emails(api, world.admin, search=term) == ["elodie@acme.test"]


async def test_users_search_matches_first_name(api: Api, factory: Factory, world: World) -> None:
    await factory.user(world.org, "x1@acme.test", first="Grace", last="Hopper")
    assert await emails(api, world.admin, search="GRAC") == ["x1@acme.test"]


async def test_users_search_matches_full_name(api: Api, factory: Factory, world: World) -> None:
    # What the console shows (fullName) is what people type into the search box.
    await factory.user(world.org, "ada@acme.test", first="Ada", last="Lovelace")
    assert await emails(api, world.admin, search="ada lovelace") == ["ada@acme.test"]


async def test_users_search_treats_percent_literally(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.org, "pct@acme.test", first="Hundred", last="100%")
    await factory.user(world.org, "plain@acme.test", first="Hundred", last="1000")
    assert await emails(api, world.admin, search="%") == ["pct@acme.test"]
    assert await emails(api, world.admin, search="100%") == ["pct@acme.test"]
    assert await emails(api, world.admin, search="1%0") == []


async def test_users_search_treats_underscore_literally(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.org, "a_b@acme.test")
    await factory.user(world.org, "axb@acme.test")
    assert await emails(api, world.admin, search="a_b") == ["a_b@acme.test"]
    assert await emails(api, world.admin, search="_") == ["a_b@acme.test"]


async def test_users_search_treats_backslash_literally(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.org, "slash@acme.test", first="Back", last="Sl\\ash")
    assert await emails(api, world.admin, search="l\\a") == ["slash@acme.test"]
    assert await emails(api, world.admin, search="\\") == ["slash@acme.test"]


async def test_users_search_counts_only_matches(api: Api, world: World) -> None:
    connection = await list_users(api, world.admin, first=1, filter={"search": "dev"})
    assert connection["totalCount"] == 2
    assert connection["pageInfo"]["hasNextPage"] is True


# --- developers: read-only --------------------------------------------------------------------


async def test_users_developer_can_list_users(api: Api, world: World) -> None:
    assert await emails(api, world.dev) == ACME_EMAILS


async def test_update_user_role_by_developer_is_forbidden(api: Api, world: World) -> None:
    body = await set_role(api, world.dev, world.dev.id, "ADMIN")
    assert_no_permission(body, "updateUserRole")
    assert await role_of(api, world.admin, world.dev.id) == "DEVELOPER"
    body = await set_role(api, world.dev, world.admin.id, "DEVELOPER")
    assert_no_permission(body, "updateUserRole")
    assert await role_of(api, world.admin, world.admin.id) == "ADMIN"


async def test_delete_user_by_developer_is_forbidden(api: Api, world: World) -> None:
    body = await api(DELETE_USER, {"userId": world.dev2.id}, as_=world.dev)
    assert_no_permission(body, "deleteUser")
    assert await emails(api, world.admin) == ACME_EMAILS
    assert (await api(VIEWER, as_=world.dev2))["data"]["viewer"]["email"] == "dev2@acme.test"


async def test_invite_user_by_developer_is_forbidden(api: Api, world: World) -> None:
    body = await api(INVITE_USER, {"email": "new@acme.test"}, as_=world.dev)
    assert_no_permission(body, "inviteUser")
    assert await emails(api, world.admin) == ACME_EMAILS


async def test_update_user_role_by_read_only_token_is_forbidden(
    api: Api, factory: Factory, world: World
) -> None:
    token = await factory.token(world.admin, permission=TokenPermission.READ_ONLY)
    body = await set_role(api, token, world.dev.id, "ADMIN")
    assert_no_permission(body, "updateUserRole")
    assert await role_of(api, world.admin, world.dev.id) == "DEVELOPER"


# --- user(id:) and node(id:): no leak across organizations (R1) ------------------------------


async def test_user_by_id_returns_own_org_user(api: Api, world: World) -> None:
    user = await read_user(api, world.dev, world.dev2.id)
    assert user is not None
    assert (user["id"], user["email"]) == (world.dev2.id, "dev2@acme.test")


async def test_user_by_id_of_another_org_is_null(api: Api, world: World) -> None:
    assert await read_user(api, world.admin, world.other_admin.id) is None
    assert await read_user(api, world.other_admin, world.admin.id) is None


@pytest.mark.parametrize(
    "user_id",
    [to_global_id("User", 9999), to_global_id("Token", 1), "not-an-id", to_global_id("User", 0)],
    ids=["unknown", "wrong-type", "malformed", "zero"],
)
async def test_user_by_id_unknown_is_null(api: Api, world: World, user_id: str) -> None:
    assert await read_user(api, world.admin, user_id) is None


async def test_node_returns_own_org_user(api: Api, world: World) -> None:
    body = await api(NODE, {"id": world.dev.id}, as_=world.admin)
    assert body["data"]["node"] == {
        "id": world.dev.id,
        "email": "dev@acme.test",
        "role": "DEVELOPER",
    }


async def test_node_of_another_org_user_is_null(api: Api, world: World) -> None:
    body = await api(NODE, {"id": world.other_admin.id}, as_=world.admin)
    assert not body.get("errors"), body
    assert body["data"]["node"] is None


async def test_node_of_another_org_organization_is_null(api: Api, world: World) -> None:
    body = await api(NODE, {"id": to_global_id("Organization", world.other_org)}, as_=world.admin)
    assert body["data"]["node"] is None
    body = await api(NODE, {"id": to_global_id("Organization", world.org)}, as_=world.admin)
    assert body["data"]["node"] == {"id": to_global_id("Organization", world.org)}


async def test_node_of_deleted_user_is_null(api: Api, world: World) -> None:
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    body = await api(NODE, {"id": world.dev.id}, as_=world.admin)
    assert body["data"]["node"] is None


# --- updateUserRole ---------------------------------------------------------------------------


async def test_update_user_role_promotes_developer(api: Api, world: World) -> None:
    result = payload(await set_role(api, world.admin, world.dev.id, "ADMIN"), "updateUserRole")
    assert result["errors"] == []
    assert result["user"] == {"id": world.dev.id, "email": "dev@acme.test", "role": "ADMIN"}
    assert await role_of(api, world.admin, world.dev.id) == "ADMIN"
    # The promotion holds from the very next request.
    body = await api(INVITE_USER, {"email": "new@acme.test"}, as_=world.dev)
    assert payload(body, "inviteUser")["errors"] == []


async def test_update_user_role_demotes_admin_when_another_admin_remains(
    api: Api, world: World
) -> None:
    payload(await set_role(api, world.admin, world.dev.id, "ADMIN"), "updateUserRole")
    result = payload(await set_role(api, world.admin, world.dev.id, "DEVELOPER"), "updateUserRole")
    assert result["errors"] == []
    assert result["user"]["role"] == "DEVELOPER"
    assert await role_of(api, world.admin, world.dev.id) == "DEVELOPER"
    body = await api(INVITE_USER, {"email": "new@acme.test"}, as_=world.dev)
    assert_no_permission(body, "inviteUser")


async def test_update_user_role_admin_may_demote_self_when_another_admin_remains(
    api: Api, world: World
) -> None:
    payload(await set_role(api, world.admin, world.dev.id, "ADMIN"), "updateUserRole")
    result = payload(
        await set_role(api, world.admin, world.admin.id, "DEVELOPER"), "updateUserRole"
    )
    assert result["errors"] == []
    assert await emails(api, world.dev, role="ADMIN") == ["dev@acme.test"]


async def test_update_user_role_same_role_changes_nothing(api: Api, world: World) -> None:
    result = payload(await set_role(api, world.admin, world.admin.id, "ADMIN"), "updateUserRole")
    assert result["errors"] == []
    assert result["user"]["role"] == "ADMIN"


async def test_update_user_role_last_active_admin_is_refused(api: Api, world: World) -> None:
    body = await set_role(api, world.admin, world.admin.id, "DEVELOPER")
    errors = payload(body, "updateUserRole")["errors"]
    assert [e["code"] for e in errors] == ["LAST_ADMIN"]
    assert errors[0]["message"]
    assert payload(body, "updateUserRole")["user"] is None
    assert await role_of(api, world.admin, world.admin.id) == "ADMIN"
    assert await emails(api, world.admin, role="ADMIN") == ["admin@acme.test"]


async def test_update_user_role_second_admin_then_last_is_refused(api: Api, world: World) -> None:
    payload(await set_role(api, world.admin, world.dev.id, "ADMIN"), "updateUserRole")
    first = await set_role(api, world.dev, world.admin.id, "DEVELOPER")
    assert payload(first, "updateUserRole")["errors"] == []
    second = await set_role(api, world.dev, world.dev.id, "DEVELOPER")
    assert user_error_codes(second, "updateUserRole") == ["LAST_ADMIN"]
    assert await emails(api, world.dev, role="ADMIN") == ["dev@acme.test"]


async def test_update_user_role_invited_admin_does_not_count(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.org, "pending-admin@acme.test", TeamRole.ADMIN, UserStatus.INVITED)
    invited = await api(
        INVITE_USER, {"email": "invited-admin@acme.test", "role": "ADMIN"}, as_=world.admin
    )
    assert payload(invited, "inviteUser")["user"]["status"] == "INVITED"
    body = await set_role(api, world.admin, world.admin.id, "DEVELOPER")
    assert user_error_codes(body, "updateUserRole") == ["LAST_ADMIN"]
    assert await role_of(api, world.admin, world.admin.id) == "ADMIN"


async def test_update_user_role_failed_admin_does_not_count(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.org, "bounced-admin@acme.test", TeamRole.ADMIN, UserStatus.FAILED)
    body = await set_role(api, world.admin, world.admin.id, "DEVELOPER")
    assert user_error_codes(body, "updateUserRole") == ["LAST_ADMIN"]


async def test_update_user_role_invited_admin_can_be_demoted(
    api: Api, factory: Factory, world: World
) -> None:
    pk = await factory.user(
        world.org, "pending-admin@acme.test", TeamRole.ADMIN, UserStatus.INVITED
    )
    body = await set_role(api, world.admin, to_global_id("User", pk), "DEVELOPER")
    assert payload(body, "updateUserRole")["user"]["role"] == "DEVELOPER"


async def test_update_user_role_other_org_user_is_not_found(api: Api, world: World) -> None:
    body = await set_role(api, world.admin, world.other_admin.id, "DEVELOPER")
    assert user_error_codes(body, "updateUserRole") == ["NOT_FOUND"]
    assert await role_of(api, world.other_admin, world.other_admin.id) == "ADMIN"


@pytest.mark.parametrize(
    "user_id",
    [to_global_id("User", 9999), "garbage", to_global_id("Token", 1)],
    ids=["unknown", "malformed", "wrong-type"],
)
async def test_update_user_role_unknown_user_is_not_found(
    api: Api, world: World, user_id: str
) -> None:
    body = await set_role(api, world.admin, user_id, "ADMIN")
    errors = payload(body, "updateUserRole")["errors"]
    assert [e["code"] for e in errors] == ["NOT_FOUND"]
    assert errors[0]["field"] == ["userId"]


async def test_update_user_role_deleted_user_is_not_found(api: Api, world: World) -> None:
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    body = await set_role(api, world.admin, world.dev.id, "ADMIN")
    assert user_error_codes(body, "updateUserRole") == ["NOT_FOUND"]


# --- deleteUser (R6) --------------------------------------------------------------------------


async def test_delete_user_removes_user_from_list(api: Api, world: World) -> None:
    result = payload(
        await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser"
    )
    assert result == {"deletedUserId": world.dev.id, "errors": []}
    assert await emails(api, world.admin) == ["admin@acme.test", "dev2@acme.test"]
    assert (await list_users(api, world.admin))["totalCount"] == 2
    assert await read_user(api, world.admin, world.dev.id) is None


async def test_delete_user_ends_their_session(api: Api, world: World) -> None:
    assert (await api(VIEWER, as_=world.dev))["data"]["viewer"]["email"] == "dev@acme.test"
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    body = await api(VIEWER, as_=world.dev, expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_delete_user_revokes_their_tokens_and_keeps_them_listed(
    api: Api, factory: Factory, world: World
) -> None:
    first = await factory.token(world.dev, name="ci")
    second = await factory.token(world.dev, name="k8s-production")
    other = await factory.token(world.dev2, name="dev2-ci")
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    tokens = {t["id"]: t for t in (await api(TOKENS, as_=world.admin))["data"]["tokens"]["nodes"]}
    for token in (first, second):
        listed = tokens[token.extra["token_id"]]
        assert listed["status"] == "REVOKED"
        assert listed["revokedAt"] is not None
        assert listed["createdBy"]["id"] == world.dev.id
        assert listed["createdBy"]["email"] == "dev@acme.test"
        assert listed["createdBy"]["deletedAt"] is not None
    assert tokens[other.extra["token_id"]]["status"] == "ACTIVE"


async def test_delete_user_their_tokens_are_refused_at_once(
    api: Api, factory: Factory, world: World
) -> None:
    token = await factory.token(world.dev)
    assert (await api(VIEWER, as_=token))["data"]["viewer"]["email"] == "dev@acme.test"
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    body = await api(VIEWER, as_=token, expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_delete_user_deleted_user_cannot_log_in(api: Api, world: World) -> None:
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    body = await api(LOGIN, {"email": "dev@acme.test", "password": PASSWORD})
    assert user_error_codes(body, "login") == ["INVALID_CREDENTIALS"]


async def test_delete_user_twice_is_not_found(api: Api, world: World) -> None:
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    body = await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin)
    result = payload(body, "deleteUser")
    assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"]
    assert result["deletedUserId"] is None


@pytest.mark.parametrize(
    "user_id",
    [to_global_id("User", 9999), "garbage", to_global_id("Token", 1)],
    ids=["unknown", "malformed", "wrong-type"],
)
async def test_delete_user_unknown_id_is_not_found(api: Api, world: World, user_id: str) -> None:
    body = await api(DELETE_USER, {"userId": user_id}, as_=world.admin)
    assert user_error_codes(body, "deleteUser") == ["NOT_FOUND"]
    assert await emails(api, world.admin) == ACME_EMAILS


async def test_delete_user_of_another_org_is_not_found(api: Api, world: World) -> None:
    body = await api(DELETE_USER, {"userId": world.other_admin.id}, as_=world.admin)
    assert user_error_codes(body, "deleteUser") == ["NOT_FOUND"]
    assert await emails(api, world.other_admin) == ["admin@globex.test"]
    assert (await api(VIEWER, as_=world.other_admin))["data"]["viewer"]["role"] == "ADMIN"


async def test_delete_user_last_active_admin_is_refused(api: Api, world: World) -> None:
    body = await api(DELETE_USER, {"userId": world.admin.id}, as_=world.admin)
    result = payload(body, "deleteUser")
    assert [e["code"] for e in result["errors"]] == ["LAST_ADMIN"]
    assert result["deletedUserId"] is None
    assert await emails(api, world.admin) == ACME_EMAILS
    assert (await api(VIEWER, as_=world.admin))["data"]["viewer"]["role"] == "ADMIN"


async def test_delete_user_last_active_admin_with_invited_admin_is_refused(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.org, "pending-admin@acme.test", TeamRole.ADMIN, UserStatus.INVITED)
    body = await api(DELETE_USER, {"userId": world.admin.id}, as_=world.admin)
    assert user_error_codes(body, "deleteUser") == ["LAST_ADMIN"]
    assert "admin@acme.test" in await emails(api, world.dev)


async def test_delete_user_admin_when_another_admin_remains(api: Api, world: World) -> None:
    payload(await set_role(api, world.admin, world.dev.id, "ADMIN"), "updateUserRole")
    body = await api(DELETE_USER, {"userId": world.admin.id}, as_=world.dev)
    assert payload(body, "deleteUser")["errors"] == []
    assert await emails(api, world.dev) == ["dev@acme.test", "dev2@acme.test"]


async def test_delete_user_pending_invitation(api: Api, world: World) -> None:
    invited = payload(
        await api(INVITE_USER, {"email": "new@acme.test"}, as_=world.admin), "inviteUser"
    )["user"]
    body = await api(DELETE_USER, {"userId": invited["id"]}, as_=world.admin)
    assert payload(body, "deleteUser")["errors"] == []
    assert await emails(api, world.admin) == ACME_EMAILS


async def test_invite_user_email_of_deleted_user_works(api: Api, world: World) -> None:
    payload(await api(DELETE_USER, {"userId": world.dev.id}, as_=world.admin), "deleteUser")
    body = await api(INVITE_USER, {"email": "Dev@acme.test", "role": "ADMIN"}, as_=world.admin)
    result = payload(body, "inviteUser")
    assert result["errors"] == []
    assert result["user"]["id"] != world.dev.id
    assert (result["user"]["status"], result["user"]["role"]) == ("INVITED", "ADMIN")
    assert await emails(api, world.admin, search="dev@") == ["Dev@acme.test"]


# --- viewerCan... -----------------------------------------------------------------------------


async def test_viewer_can_update_role_and_delete_for_admin(api: Api, world: World) -> None:
    user = await read_user(api, world.admin, world.dev.id)
    assert user is not None
    assert (user["viewerCanUpdateRole"], user["viewerCanDelete"]) == (True, True)


async def test_viewer_can_update_role_and_delete_false_for_developer(
    api: Api, world: World
) -> None:
    for target in (world.dev2, world.dev, world.admin):
        user = await read_user(api, world.dev, target.id)
        assert user is not None
        assert (user["viewerCanUpdateRole"], user["viewerCanDelete"]) == (False, False)


GRANT = """
mutation($user: ID!, $permission: String!) {
  grantAccountPermission(input: {userId: $user, permission: $permission}) { errors { code } }
}"""
TEAM_FLAGS = """{ users(first: 100) { nodes { id email status %s } } }"""
FLAGS = (
    "viewerCanUpdateRole viewerCanDelete viewerCanResendInvitation "
    "viewerCanManageAccountPermissions accountPermissions"
)
ONE_USER_FLAGS = "query One($id: ID!) { user(id: $id) { id email status %s } }"


async def test_the_team_pages_rows_answer_as_each_user_does(
    api: Api, factory: Factory, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 8: the team page reads its rows as values and asks the policy about users alike
    (Policy.decided), making a model only for a decision not yet made: every flag equals the
    answer about that user alone (read as a model), for an admin, a developer and a developer
    with an account permission, and a page of many users makes a handful of models at most."""
    from accessgraph.resolvers import users as user_use_cases

    await factory.user(world.org, "pending@acme.test", status=UserStatus.INVITED)
    await factory.user(world.org, "boss@acme.test", TeamRole.ADMIN, UserStatus.FAILED)
    for n in range(20):
        await factory.user(world.org, f"member{n}@acme.test")
    made: list[object] = []
    original = user_use_cases.detached
    monkeypatch.setattr(
        user_use_cases,
        "detached",
        lambda *a: made.append(a) or original(*a),  # type: ignore[func-returns-value]
    )
    inviter = await factory.member(world.org, "inviter@acme.test")
    granted = await api(
        GRANT, {"user": inviter.id, "permission": "INVITE_AND_MODIFY_ACCOUNTS"}, as_=world.admin
    )
    assert granted["data"]["grantAccountPermission"]["errors"] == []
    for viewer in (world.admin, world.dev, inviter):
        made.clear()
        body = await api(TEAM_FLAGS % FLAGS, as_=viewer)
        assert "errors" not in body, body
        rows = body["data"]["users"]["nodes"]
        assert len(rows) == 26
        assert len(made) <= 4, viewer.name  # one per decision of a kind, not one per row
        for row in rows:
            alone = await api(ONE_USER_FLAGS % FLAGS, {"id": row["id"]}, as_=viewer)
            assert alone["data"]["user"] == row, (viewer.name, row["email"])


async def test_viewer_can_fields_in_list_match_role(api: Api, world: World) -> None:
    admin_view = (await api(USERS_VIEWER_CAN, as_=world.admin))["data"]["users"]["nodes"]
    dev_view = (await api(USERS_VIEWER_CAN, as_=world.dev))["data"]["users"]["nodes"]
    assert all(n["viewerCanUpdateRole"] and n["viewerCanDelete"] for n in admin_view)
    assert not any(n["viewerCanUpdateRole"] or n["viewerCanDelete"] for n in dev_view)


# --- teamRoles (R3) ---------------------------------------------------------------------------


async def test_team_roles_is_the_r3_matrix(api: Api, world: World) -> None:
    body = await api(TEAM_ROLES, as_=world.dev)
    roles = body["data"]["teamRoles"]
    assert [r["role"] for r in roles] == ["ADMIN", "DEVELOPER"]
    every = set(R3_MATRIX["ADMIN"])
    for role in roles:
        listed = [p["permission"] for p in role["permissions"]]
        assert sorted(listed) == sorted(every), role
        assert all(p["description"] for p in role["permissions"])
        granted = {p["permission"] for p in role["permissions"] if p["granted"]}
        assert granted == R3_MATRIX[role["role"]], role["role"]


async def test_team_roles_anonymous_is_unauthenticated(api: Api, world: World) -> None:
    body = await api(TEAM_ROLES)
    assert body["data"]["teamRoles"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]


# --- organization and its settings ------------------------------------------------------------


async def test_organization_for_admin_can_manage_settings(api: Api, world: World) -> None:
    body = await api(ORGANIZATION, as_=world.admin)
    assert body["data"]["organization"] == {
        "id": to_global_id("Organization", world.org),
        "name": "Acme",
        "viewerCanManageSettings": True,
    }


async def test_organization_for_developer_cannot_manage_settings(api: Api, world: World) -> None:
    body = await api(ORGANIZATION, as_=world.dev)
    assert body["data"]["organization"]["name"] == "Acme"
    assert body["data"]["organization"]["viewerCanManageSettings"] is False


async def test_update_organization_settings_renames(api: Api, world: World) -> None:
    body = await api(UPDATE_ORGANIZATION_SETTINGS, {"name": "  Acme   Corp "}, as_=world.admin)
    result = payload(body, "updateOrganizationSettings")
    assert result == {
        "organization": {"name": "Acme Corp", "viewerCanManageSettings": True},
        "errors": [],
    }
    assert (await api(ORGANIZATION, as_=world.dev))["data"]["organization"]["name"] == "Acme Corp"
    assert (await api(ORGANIZATION, as_=world.other_admin))["data"]["organization"][
        "name"
    ] == "Globex"


async def test_update_organization_settings_by_developer_is_forbidden(
    api: Api, world: World
) -> None:
    body = await api(UPDATE_ORGANIZATION_SETTINGS, {"name": "Hijacked"}, as_=world.dev)
    assert_no_permission(body, "updateOrganizationSettings")
    assert (await api(ORGANIZATION, as_=world.admin))["data"]["organization"]["name"] == "Acme"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
async def test_update_organization_settings_bad_name_is_invalid_name(
    api: Api, world: World, name: str
) -> None:
    body = await api(UPDATE_ORGANIZATION_SETTINGS, {"name": name}, as_=world.admin)
    result = payload(body, "updateOrganizationSettings")
    assert [e["code"] for e in result["errors"]] == ["INVALID_NAME"]
    assert result["errors"][0]["field"] == ["name"]
    assert result["organization"] is None
    assert (await api(ORGANIZATION, as_=world.admin))["data"]["organization"]["name"] == "Acme"


async def test_update_organization_settings_name_of_other_org_is_refused(
    api: Api, world: World
) -> None:
    body = await api(UPDATE_ORGANIZATION_SETTINGS, {"name": "Globex"}, as_=world.admin)
    assert user_error_codes(body, "updateOrganizationSettings") == ["ORGANIZATION_EXISTS"]
    assert (await api(ORGANIZATION, as_=world.admin))["data"]["organization"]["name"] == "Acme"
