"""Groups of users (R23) through GraphQL: admins create them, change their members and delete
them (which removes the group's grants from permission targets); developers list them; every
change is audited (R35); a refused change changes nothing; nothing crosses organizations (R1)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from accessgraph.models import TokenPermission
from accessgraph.schema.base import to_global_id
from accessgraph.services import Services
from tests.conftest import (
    ANONYMOUS,
    Actor,
    Api,
    Factory,
    World,
    assert_no_permission,
    assert_unauthenticated,
    database_state,
    payload,
    user_error_codes,
)

GROUP_FIELDS = """
  id name description createdAt
  members(first: 100) { totalCount nodes { id email } }
"""
CREATE_GROUP = f"""
mutation CreateGroup($input: CreateGroupInput!) {{
  createGroup(input: $input) {{ group {{ {GROUP_FIELDS} }} errors {{ code message field }} }}
}}"""
UPDATE_GROUP_MEMBERS = f"""
mutation UpdateGroupMembers($input: UpdateGroupMembersInput!) {{
  updateGroupMembers(input: $input) {{ group {{ {GROUP_FIELDS} }} errors {{ code message field }} }}
}}"""
DELETE_GROUP = """
mutation DeleteGroup($id: ID!) {
  deleteGroup(input: {groupId: $id}) { deletedGroupId errors { code message field } }
}"""
GROUPS = f"""
query Groups($search: String) {{
  groups(first: 50, search: $search) {{ totalCount nodes {{ {GROUP_FIELDS} }} }}
}}"""
NODE = "query Node($id: ID!) { node(id: $id) { id ... on Group { name } } }"
CREATE_TARGET = """
mutation CreateTarget($input: CreatePermissionTargetInput!) {
  createPermissionTarget(input: $input) {
    permissionTarget { id }
    errors { code message field }
  }
}"""
TARGET_GRANTS = """
query Target($id: ID!) {
  node(id: $id) {
    ... on PermissionTarget { grants { principalType actions user { email } group { name } } }
  }
}"""
DELETE_USER = """
mutation DeleteUser($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId errors { code } } }"""
AUDIT_EVENTS = """
query Audit($action: String) {
  auditEvents(first: 100, filter: {action: $action}) {
    nodes { action actor { id } targetType targetId targetLabel before after }
  }
}"""


# --- helpers ----------------------------------------------------------------------------------


async def access_state(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """`database_state` plus groups, memberships and target grants (what these tests change)."""
    state = await database_state(services)
    queries = {
        "groups": "SELECT id, org_id, name, name_normalized, description FROM groups ORDER BY id",
        "members": "SELECT group_id, user_id FROM group_members ORDER BY group_id, user_id",
        "grants": "SELECT id, target_id, principal_type, principal_id, actions "
        "FROM target_grants ORDER BY id",
        "versions": "SELECT id, access_version FROM organizations ORDER BY id",
    }
    async with services.db.session() as session:
        for name, sql in queries.items():
            state[name] = [tuple(row) for row in (await session.execute(text(sql))).all()]
    return state


async def create_group(
    api: Api, actor: Actor, name: str, members: list[Actor] | None = None, **extra: Any
) -> dict[str, Any]:
    variables = {"input": {"name": name, "memberIds": [m.id for m in members or []], **extra}}
    result = payload(await api(CREATE_GROUP, variables, as_=actor), "createGroup")
    assert result["errors"] == [], result
    group: dict[str, Any] = result["group"]
    return group


async def update_members(
    api: Api,
    actor: Actor,
    group_id: str,
    add: list[str] | None = None,
    remove: list[str] | None = None,
) -> dict[str, Any]:
    variables = {"input": {"groupId": group_id, "add": add or [], "remove": remove or []}}
    return await api(UPDATE_GROUP_MEMBERS, variables, as_=actor)


def member_emails(group: dict[str, Any]) -> list[str]:
    return sorted(node["email"] for node in group["members"]["nodes"])


async def events(api: Api, actor: Actor, action: str) -> list[dict[str, Any]]:
    body = await api(AUDIT_EVENTS, {"action": action}, as_=actor)
    assert not body.get("errors"), body
    nodes: list[dict[str, Any]] = body["data"]["auditEvents"]["nodes"]
    return nodes


async def group_names(api: Api, actor: Actor) -> list[str]:
    body = await api(GROUPS, as_=actor)
    assert not body.get("errors"), body
    return sorted(node["name"] for node in body["data"]["groups"]["nodes"])


# --- createGroup ------------------------------------------------------------------------------


async def test_create_group_with_members_returns_them(api: Api, world: World) -> None:
    group = await create_group(
        api, world.admin, "  Backend   team ", [world.dev, world.dev2], description=" APIs "
    )
    assert group["name"] == "Backend team"  # spaces collapsed
    assert group["description"] == "APIs"
    assert group["members"]["totalCount"] == 2
    assert member_emails(group) == ["dev2@acme.test", "dev@acme.test"]
    assert await group_names(api, world.admin) == ["Backend team"]


async def test_create_group_without_members_is_empty(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Empty")
    assert group["members"]["totalCount"] == 0
    assert group["description"] is None


async def test_create_group_name_taken_case_insensitively_changes_nothing(
    api: Api, services: Services, world: World
) -> None:
    await create_group(api, world.admin, "Backend")
    before = await access_state(services)
    for name in ("Backend", "backend", "  BACKEND  ", "bAcKeNd"):
        body = await api(CREATE_GROUP, {"input": {"name": name}}, as_=world.admin)
        assert user_error_codes(body, "createGroup") == ["GROUP_NAME_TAKEN"], name
        assert payload(body, "createGroup")["group"] is None
    assert await access_state(services) == before


async def test_create_group_same_name_in_another_org_is_allowed(api: Api, world: World) -> None:
    # R1: names are unique per organization only.
    await create_group(api, world.admin, "Backend")
    await create_group(api, world.other_admin, "backend")
    assert await group_names(api, world.admin) == ["Backend"]
    assert await group_names(api, world.other_admin) == ["backend"]


async def test_create_group_invalid_name_changes_nothing(
    api: Api, services: Services, world: World
) -> None:
    before = await access_state(services)
    for name in ("", "   ", "x" * 101, "tab\x01name"):
        body = await api(CREATE_GROUP, {"input": {"name": name}}, as_=world.admin)
        result = payload(body, "createGroup")
        assert [e["code"] for e in result["errors"]] == ["INVALID_NAME"], name
        assert result["errors"][0]["field"] == ["name"]
    assert await access_state(services) == before


async def test_create_group_member_not_a_live_user_of_the_org_is_not_found(
    api: Api, factory: Factory, services: Services, world: World
) -> None:
    gone = await factory.member(world.org, "gone@acme.test")
    body = await api(DELETE_USER, {"id": gone.id}, as_=world.admin)
    assert payload(body, "deleteUser")["errors"] == []
    before = await access_state(services)
    for member_id in (
        world.other_admin.id,  # R1: another organization's user
        gone.id,  # deleted
        to_global_id("User", 987654),  # never existed
        to_global_id("Token", world.dev.user_pk or 0),  # an ID of another type
        "not-an-id",
    ):
        variables = {"input": {"name": "Backend", "memberIds": [world.dev.id, member_id]}}
        body = await api(CREATE_GROUP, variables, as_=world.admin)
        assert user_error_codes(body, "createGroup") == ["NOT_FOUND"], member_id
    assert await access_state(services) == before


async def test_create_group_duplicate_member_ids_count_once(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev, world.dev])
    assert member_emails(group) == ["dev@acme.test"]


# --- updateGroupMembers -----------------------------------------------------------------------


async def test_update_group_members_adds_and_removes(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    body = await update_members(api, world.admin, group["id"], add=[world.dev2.id])
    assert member_emails(payload(body, "updateGroupMembers")["group"]) == [
        "dev2@acme.test",
        "dev@acme.test",
    ]
    body = await update_members(api, world.admin, group["id"], remove=[world.dev.id])
    result = payload(body, "updateGroupMembers")
    assert result["errors"] == []
    assert member_emails(result["group"]) == ["dev2@acme.test"]


async def test_update_group_members_is_idempotent(
    api: Api, services: Services, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    before = await access_state(services)
    # Adding a member twice, or removing a non-member, changes nothing and audits nothing.
    for add, remove in (([world.dev.id], []), ([], [world.dev2.id]), ([world.dev.id] * 2, [])):
        body = await update_members(api, world.admin, group["id"], add=add, remove=remove)
        result = payload(body, "updateGroupMembers")
        assert result["errors"] == []
        assert member_emails(result["group"]) == ["dev@acme.test"]
    assert await access_state(services) == before
    body = await update_members(api, world.admin, group["id"], remove=[world.dev.id])
    assert payload(body, "updateGroupMembers")["group"]["members"]["totalCount"] == 0
    body = await update_members(api, world.admin, group["id"], remove=[world.dev.id])
    assert payload(body, "updateGroupMembers")["group"]["members"]["totalCount"] == 0
    assert len(await events(api, world.admin, "group.members_update")) == 1


async def test_update_group_members_add_other_org_user_is_not_found(
    api: Api, services: Services, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    before = await access_state(services)
    body = await update_members(
        api, world.admin, group["id"], add=[world.dev2.id, world.other_admin.id]
    )
    assert user_error_codes(body, "updateGroupMembers") == ["NOT_FOUND"]
    assert payload(body, "updateGroupMembers")["group"] is None
    assert await access_state(services) == before


async def test_update_group_members_unknown_user_points_at_add(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend")
    for user_id in ("garbage", world.other_admin.id):
        body = await update_members(api, world.admin, group["id"], add=[user_id])
        [error] = payload(body, "updateGroupMembers")["errors"]
        assert (error["code"], error["field"]) == ("NOT_FOUND", ["add"]), user_id


async def test_update_group_members_of_another_orgs_group_is_not_found(
    api: Api, services: Services, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    before = await access_state(services)
    body = await update_members(api, world.other_admin, group["id"], remove=[world.dev.id])
    assert user_error_codes(body, "updateGroupMembers") == ["NOT_FOUND"]
    body = await update_members(api, world.admin, to_global_id("Group", 987654), add=[])
    assert user_error_codes(body, "updateGroupMembers") == ["NOT_FOUND"]
    assert await access_state(services) == before


async def test_deleted_user_leaves_the_group(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev, world.dev2])
    body = await api(DELETE_USER, {"id": world.dev2.id}, as_=world.admin)
    assert payload(body, "deleteUser")["errors"] == []
    body = await api(GROUPS, as_=world.admin)
    [listed] = body["data"]["groups"]["nodes"]
    assert listed["id"] == group["id"]
    assert member_emails(listed) == ["dev@acme.test"]


# --- deleteGroup ------------------------------------------------------------------------------


async def test_delete_group_removes_it_and_its_grants_from_targets(
    api: Api, services: Services, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    variables = {
        "input": {
            "name": "libs",
            "resources": [{"type": "REPOSITORY", "includePatterns": ["libs-*"]}],
            "grants": [
                {"principalType": "GROUP", "groupId": group["id"], "actions": ["READ", "WRITE"]},
                {"principalType": "USER", "userId": world.dev2.id, "actions": ["READ"]},
            ],
        }
    }
    created = payload(
        await api(CREATE_TARGET, variables, as_=world.admin), "createPermissionTarget"
    )
    assert created["errors"] == [], created
    target_id = created["permissionTarget"]["id"]

    body = await api(DELETE_GROUP, {"id": group["id"]}, as_=world.admin)
    assert payload(body, "deleteGroup") == {"deletedGroupId": group["id"], "errors": []}
    assert await group_names(api, world.admin) == []
    body = await api(NODE, {"id": group["id"]}, as_=world.admin)
    assert body["data"]["node"] is None
    body = await api(TARGET_GRANTS, {"id": target_id}, as_=world.admin)
    assert body["data"]["node"]["grants"] == [
        {
            "principalType": "USER",
            "actions": ["READ"],
            "user": {"email": "dev2@acme.test"},
            "group": None,
        }
    ]
    state = await access_state(services)
    assert state["members"] == []
    assert [row[2] for row in state["grants"]] == ["USER"]


async def test_delete_group_unknown_or_other_org_is_not_found(
    api: Api, services: Services, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    before = await access_state(services)
    for actor, group_id in (
        (world.other_admin, group["id"]),
        (world.admin, to_global_id("Group", 987654)),
        (world.admin, "garbage"),
    ):
        body = await api(DELETE_GROUP, {"id": group_id}, as_=actor)
        assert payload(body, "deleteGroup")["deletedGroupId"] is None
        assert user_error_codes(body, "deleteGroup") == ["NOT_FOUND"], group_id
    assert await access_state(services) == before


# --- who may do what --------------------------------------------------------------------------


async def test_groups_developer_lists_but_cannot_change(
    api: Api, services: Services, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    # R23: groups are managed by admins; developers see them like the user list (R3).
    body = await api(GROUPS, as_=world.dev)
    assert [n["name"] for n in body["data"]["groups"]["nodes"]] == ["Backend"]
    assert member_emails(body["data"]["groups"]["nodes"][0]) == ["dev@acme.test"]
    before = await access_state(services)
    attempts = [
        (CREATE_GROUP, {"input": {"name": "Mine", "memberIds": [world.dev.id]}}, "createGroup"),
        (
            UPDATE_GROUP_MEMBERS,
            {"input": {"groupId": group["id"], "add": [world.dev2.id]}},
            "updateGroupMembers",
        ),
        (
            UPDATE_GROUP_MEMBERS,
            {"input": {"groupId": group["id"], "remove": [world.dev.id]}},
            "updateGroupMembers",
        ),
        (DELETE_GROUP, {"id": group["id"]}, "deleteGroup"),
    ]
    for query, variables, field in attempts:
        assert_no_permission(await api(query, variables, as_=world.dev), field)
    assert await access_state(services) == before


async def test_groups_mutations_refused_to_read_only_token_and_anonymous(
    api: Api, factory: Factory, services: Services, world: World
) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    read_only = await factory.token(world.admin, TokenPermission.READ_ONLY)
    before = await access_state(services)
    attempts = [
        (CREATE_GROUP, {"input": {"name": "Mine"}}, "createGroup"),
        (UPDATE_GROUP_MEMBERS, {"input": {"groupId": group["id"]}}, "updateGroupMembers"),
        (DELETE_GROUP, {"id": group["id"]}, "deleteGroup"),
    ]
    for query, variables, field in attempts:
        # R14: a READ_ONLY token changes nothing, even its admin owner's.
        assert_no_permission(await api(query, variables, as_=read_only), field)
        assert_unauthenticated(await api(query, variables, as_=ANONYMOUS), field)
    body = await api(GROUPS, as_=read_only)
    assert body["data"]["groups"]["totalCount"] == 1
    assert_unauthenticated(await api(GROUPS), "groups")
    assert await access_state(services) == before


async def test_groups_of_another_org_are_invisible(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    assert await group_names(api, world.other_admin) == []
    body = await api(NODE, {"id": group["id"]}, as_=world.other_admin)
    assert body["data"]["node"] is None


async def test_groups_search_matches_case_insensitively(api: Api, world: World) -> None:
    for name in ("Backend", "Frontend", "Ops"):
        await create_group(api, world.admin, name)
    body = await api(GROUPS, {"search": "END"}, as_=world.admin)
    assert sorted(n["name"] for n in body["data"]["groups"]["nodes"]) == ["Backend", "Frontend"]


# --- audit (R35) ------------------------------------------------------------------------------


async def test_group_changes_write_audit_events(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev])
    body = await update_members(
        api, world.admin, group["id"], add=[world.dev2.id], remove=[world.dev.id]
    )
    assert payload(body, "updateGroupMembers")["errors"] == []
    body = await api(DELETE_GROUP, {"id": group["id"]}, as_=world.admin)
    assert payload(body, "deleteGroup")["errors"] == []

    [created] = await events(api, world.admin, "group.create")
    assert created["actor"]["id"] == world.admin.id
    assert (created["targetType"], created["targetId"]) == ("Group", group["id"])
    assert created["targetLabel"] == "Backend"
    assert created["after"] == {"name": "Backend", "members": ["dev@acme.test"]}

    [updated] = await events(api, world.admin, "group.members_update")
    assert updated["before"] == {"members": ["dev@acme.test"]}
    assert updated["after"] == {"members": ["dev2@acme.test"]}

    [deleted] = await events(api, world.admin, "group.delete")
    assert deleted["targetId"] == group["id"]
    assert deleted["before"] == {"name": "Backend", "members": ["dev2@acme.test"]}
    assert deleted["after"] is None


async def test_refused_group_changes_write_no_audit_event(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend")
    await api(CREATE_GROUP, {"input": {"name": "backend"}}, as_=world.admin)
    await update_members(api, world.admin, group["id"], add=[world.other_admin.id])
    await api(DELETE_GROUP, {"id": group["id"]}, as_=world.dev)
    for action in ("group.create", "group.members_update", "group.delete"):
        expected = 1 if action == "group.create" else 0
        assert len(await events(api, world.admin, action)) == expected, action
