"""Permission targets (R24-R26) and registered resources through GraphQL.

Admins create, change and delete targets; bad input is refused with a stable code and changes
nothing. A user holding MANAGE on a target sees it and changes its grants, and only its grants,
under the organization's manage policy (R25); the anonymous user gets READ at most, from admins
only (R26). Every change is audited with before/after (R35); nothing crosses organizations (R1).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from accessgraph.models import TokenPermission
from accessgraph.schema import build_schema
from accessgraph.schema.base import to_global_id
from accessgraph.services import Services
from tests.conftest import (
    Actor,
    Api,
    Factory,
    World,
    assert_no_permission,
    database_state,
    payload,
    user_error_codes,
)

TARGET_FIELDS = """
  id name createdAt updatedAt viewerCanEdit viewerCanEditGrants
  resources { type names includePatterns excludePatterns }
  grants { principalType actions user { id email } group { id name } }
"""
CREATE_TARGET = f"""
mutation CreateTarget($input: CreatePermissionTargetInput!) {{
  createPermissionTarget(input: $input) {{
    permissionTarget {{ {TARGET_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""
UPDATE_TARGET = f"""
mutation UpdateTarget($input: UpdatePermissionTargetInput!) {{
  updatePermissionTarget(input: $input) {{
    permissionTarget {{ {TARGET_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""
DELETE_TARGET = """
mutation DeleteTarget($id: ID!) {
  deletePermissionTarget(input: {targetId: $id}) {
    deletedPermissionTargetId
    errors { code message field }
  }
}"""
TARGETS = f"""
query Targets($search: String) {{
  permissionTargets(first: 100, search: $search) {{ totalCount nodes {{ {TARGET_FIELDS} }} }}
}}"""
NODE = f"query Node($id: ID!) {{ node(id: $id) {{ id ... on PermissionTarget {{ {TARGET_FIELDS} }} }} }}"
CREATE_GROUP = """
mutation CreateGroup($name: String!, $members: [ID!]!) {
  createGroup(input: {name: $name, memberIds: $members}) { group { id } errors { code } }
}"""
UPDATE_SETTINGS = """
mutation Settings($policy: ManagePolicy!) {
  updateOrganizationSettings(input: {managePolicy: $policy}) {
    organization { managePolicy }
    errors { code }
  }
}"""
ORGANIZATION = "{ organization { managePolicy } }"
REGISTER_REPOSITORY = """
mutation Register($name: String!, $environment: Environment) {
  registerRepository(input: {name: $name, environment: $environment}) {
    resource { id type name environment }
    errors { code message field }
  }
}"""
REGISTER_RESOURCE = """
mutation Register($type: ResourceType!, $name: String!) {
  registerResource(input: {type: $type, name: $name}) {
    resource { id type name environment }
    errors { code message field }
  }
}"""
RESOURCES = """
query Resources($type: ResourceType) {
  resources(first: 100, type: $type) { totalCount nodes { type name environment } }
}"""
RESOURCE_NODE = """
query Node($id: ID!) { node(id: $id) { id ... on RegisteredResource { name } } }"""
AUDIT_EVENTS = """
query Audit($action: String) {
  auditEvents(first: 100, filter: {action: $action}) {
    nodes { action actor { id } targetType targetId targetLabel before after }
  }
}"""

LIBS = [{"type": "REPOSITORY", "includePatterns": ["libs-*"], "excludePatterns": ["libs-secret"]}]
POLICIES = ("EXCLUDE_MANAGE", "ANY_ACTION_EXCLUDING_MANAGE", "ANY_ACTION_INCLUDING_MANAGE")
# R25: what a manager holding READ, WRITE and MANAGE may add to another user's READ, per policy.
MANAGER_MAY_ADD: dict[tuple[str, ...], set[str]] = {
    ("WRITE",): set(POLICIES),  # an action they hold
    ("DELETE",): {"ANY_ACTION_EXCLUDING_MANAGE", "ANY_ACTION_INCLUDING_MANAGE"},
    ("ANNOTATE", "WRITE"): {"ANY_ACTION_EXCLUDING_MANAGE", "ANY_ACTION_INCLUDING_MANAGE"},
    ("MANAGE",): {"ANY_ACTION_INCLUDING_MANAGE"},
    ("WRITE", "MANAGE"): {"ANY_ACTION_INCLUDING_MANAGE"},
}


# --- helpers ----------------------------------------------------------------------------------


async def access_state(services: Services) -> dict[str, list[tuple[Any, ...]]]:
    """`database_state` plus everything of groups, resources and targets."""
    state = await database_state(services)
    queries = {
        "orgs": "SELECT id, name, manage_policy, access_version FROM organizations ORDER BY id",
        "groups": "SELECT id, name FROM groups ORDER BY id",
        "members": "SELECT group_id, user_id FROM group_members ORDER BY group_id, user_id",
        "resources": "SELECT id, org_id, type, name, environment FROM resources ORDER BY id",
        "targets": "SELECT id, org_id, name, name_normalized, updated_at "
        "FROM permission_targets ORDER BY id",
        "sets": "SELECT id, target_id, type, names, include_patterns, exclude_patterns "
        "FROM target_resource_sets ORDER BY id",
        "grants": "SELECT id, target_id, principal_type, principal_id, actions "
        "FROM target_grants ORDER BY id",
    }
    async with services.db.session() as session:
        for name, sql in queries.items():
            rows = (await session.execute(text(sql))).all()
            state[name] = [tuple(str(v) for v in row) for row in rows]
    return state


def user_grant(actor: Actor, *actions: str) -> dict[str, Any]:
    return {"principalType": "USER", "userId": actor.id, "actions": list(actions)}


def group_grant(group_id: str, *actions: str) -> dict[str, Any]:
    return {"principalType": "GROUP", "groupId": group_id, "actions": list(actions)}


def anonymous_grant(*actions: str) -> dict[str, Any]:
    return {"principalType": "ANONYMOUS", "actions": list(actions)}


async def create_target(
    api: Api,
    actor: Actor,
    name: str = "libs",
    resources: list[dict[str, Any]] | None = None,
    grants: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    variables = {"input": {"name": name, "resources": resources or LIBS, "grants": grants or []}}
    result = payload(await api(CREATE_TARGET, variables, as_=actor), "createPermissionTarget")
    assert result["errors"] == [], result
    target: dict[str, Any] = result["permissionTarget"]
    return target


async def update_target(api: Api, actor: Actor, target_id: str, **changes: Any) -> dict[str, Any]:
    return await api(UPDATE_TARGET, {"input": {"targetId": target_id, **changes}}, as_=actor)


async def create_group(api: Api, actor: Actor, name: str, members: list[Actor]) -> str:
    body = await api(CREATE_GROUP, {"name": name, "members": [m.id for m in members]}, as_=actor)
    result = payload(body, "createGroup")
    assert result["errors"] == [], result
    group_id: str = result["group"]["id"]
    return group_id


async def set_policy(api: Api, world: World, policy: str) -> None:
    body = await api(UPDATE_SETTINGS, {"policy": policy}, as_=world.admin)
    assert payload(body, "updateOrganizationSettings") == {
        "organization": {"managePolicy": policy},
        "errors": [],
    }


async def target_names(api: Api, actor: Actor) -> list[str]:
    body = await api(TARGETS, as_=actor)
    assert not body.get("errors"), body
    return sorted(node["name"] for node in body["data"]["permissionTargets"]["nodes"])


def grants_by_email(target: dict[str, Any]) -> dict[str, list[str]]:
    return {
        (g["user"] or {}).get("email") or (g["group"] or {}).get("name") or "anonymous": g[
            "actions"
        ]
        for g in target["grants"]
    }


async def events(api: Api, actor: Actor, action: str) -> list[dict[str, Any]]:
    body = await api(AUDIT_EVENTS, {"action": action}, as_=actor)
    assert not body.get("errors"), body
    nodes: list[dict[str, Any]] = body["data"]["auditEvents"]["nodes"]
    return nodes


# --- admins create, update, delete (R24) --------------------------------------------------------


async def test_create_permission_target_by_admin_returns_it(api: Api, world: World) -> None:
    group = await create_group(api, world.admin, "Backend", [world.dev2])
    target = await create_target(
        api,
        world.admin,
        "  Libraries  ",
        resources=[
            *LIBS,
            {"type": "BUILD", "includePatterns": ["**/*-release"]},
            {"type": "RELEASE_BUNDLE", "names": ["bundle-1", "bundle-1"]},
        ],
        grants=[
            user_grant(world.dev, "WRITE", "READ"),
            group_grant(group, "READ", "DISTRIBUTE"),
            anonymous_grant("READ"),
        ],
    )
    assert target["name"] == "Libraries"
    assert target["resources"] == [
        {
            "type": "REPOSITORY",
            "names": [],
            "includePatterns": ["libs-*"],
            "excludePatterns": ["libs-secret"],
        },
        {"type": "BUILD", "names": [], "includePatterns": ["**/*-release"], "excludePatterns": []},
        {
            "type": "RELEASE_BUNDLE",
            "names": ["bundle-1"],
            "includePatterns": [],
            "excludePatterns": [],
        },
    ]
    assert grants_by_email(target) == {
        "dev@acme.test": ["READ", "WRITE"],
        "Backend": ["READ", "DISTRIBUTE"],
        "anonymous": ["READ"],
    }
    assert (target["viewerCanEdit"], target["viewerCanEditGrants"]) == (True, True)
    assert await target_names(api, world.admin) == ["Libraries"]


async def test_update_permission_target_by_admin_changes_name_resources_and_grants(
    api: Api, world: World
) -> None:
    target = await create_target(
        api, world.admin, grants=[user_grant(world.dev, "READ"), user_grant(world.dev2, "READ")]
    )
    body = await update_target(
        api,
        world.admin,
        target["id"],
        name="Libraries",
        resources=[{"type": "REPOSITORY", "names": ["core"], "includePatterns": ["libs-*"]}],
        grants=[user_grant(world.dev, "READ", "WRITE", "DELETE")],  # replaces the whole list
    )
    result = payload(body, "updatePermissionTarget")
    assert result["errors"] == []
    updated = result["permissionTarget"]
    assert updated["name"] == "Libraries"
    assert updated["resources"][0]["names"] == ["core"]
    assert grants_by_email(updated) == {"dev@acme.test": ["READ", "WRITE", "DELETE"]}
    # Omitted fields keep their value.
    body = await update_target(api, world.admin, target["id"], name="Libs")
    kept = payload(body, "updatePermissionTarget")["permissionTarget"]
    assert kept["resources"] == updated["resources"]
    assert kept["grants"] == updated["grants"]
    body = await update_target(api, world.admin, target["id"], grants=[])
    assert payload(body, "updatePermissionTarget")["permissionTarget"]["grants"] == []


async def test_update_permission_target_renamed_by_case_only(api: Api, world: World) -> None:
    target = await create_target(api, world.admin, "libs")
    body = await update_target(api, world.admin, target["id"], name="LIBS")
    assert payload(body, "updatePermissionTarget")["permissionTarget"]["name"] == "LIBS"


async def test_delete_permission_target_by_admin(
    api: Api, services: Services, world: World
) -> None:
    target = await create_target(api, world.admin, grants=[user_grant(world.dev, "READ")])
    body = await api(DELETE_TARGET, {"id": target["id"]}, as_=world.admin)
    assert payload(body, "deletePermissionTarget") == {
        "deletedPermissionTargetId": target["id"],
        "errors": [],
    }
    assert await target_names(api, world.admin) == []
    state = await access_state(services)
    assert (state["targets"], state["sets"], state["grants"]) == ([], [], [])
    body = await api(DELETE_TARGET, {"id": target["id"]}, as_=world.admin)
    assert user_error_codes(body, "deletePermissionTarget") == ["NOT_FOUND"]


# --- validation: nothing changed --------------------------------------------------------------


async def test_create_permission_target_invalid_input_changes_nothing(
    api: Api, services: Services, world: World
) -> None:
    await create_target(api, world.admin, "Taken")
    other_group = await create_group(api, world.other_admin, "Globex team", [world.other_admin])
    repo = "REPOSITORY"
    cases: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
        ("INVALID_NAME", {"name": ""}, []),
        ("INVALID_NAME", {"name": "   "}, []),
        ("INVALID_NAME", {"name": "x" * 101}, []),
        ("TARGET_NAME_TAKEN", {"name": "taken"}, []),
        ("TARGET_NAME_TAKEN", {"name": " TAKEN "}, []),
        ("NO_RESOURCES", {"resources": []}, []),
        ("NO_RESOURCES", {"resources": [{"type": repo}]}, []),
        ("NO_RESOURCES", {"resources": [{"type": repo, "excludePatterns": ["libs-a"]}]}, []),
        ("INVALID_PATTERN", {"resources": [{"type": repo, "includePatterns": [""]}]}, []),
        ("INVALID_PATTERN", {"resources": [{"type": repo, "includePatterns": [" libs-*"]}]}, []),
        ("INVALID_PATTERN", {"resources": [{"type": repo, "includePatterns": ["libs *"]}]}, []),
        ("INVALID_PATTERN", {"resources": [{"type": repo, "includePatterns": ["***"]}]}, []),
        (
            "INVALID_PATTERN",
            {"resources": [{"type": repo, "includePatterns": ["a-*"], "excludePatterns": [" "]}]},
            [],
        ),
        (
            "PATTERN_OVERLAP",
            {"resources": [{"type": repo, "includePatterns": ["libs-*", "libs-*"]}]},
            [],
        ),
        (
            "PATTERN_OVERLAP",
            {
                "resources": [
                    {"type": repo, "includePatterns": ["libs-*"], "excludePatterns": ["libs-*"]}
                ]
            },
            [],
        ),
        (
            "PATTERN_OVERLAP",
            {
                "resources": [
                    {"type": repo, "names": ["libs-secret"], "excludePatterns": ["libs-s*"]}
                ]
            },
            [],
        ),
        (
            "PATTERN_OVERLAP",
            {
                "resources": [
                    {"type": repo, "includePatterns": ["a-*"], "excludePatterns": ["x", "x"]}
                ]
            },
            [],
        ),
        ("DUPLICATE_RESOURCE_TYPE", {"resources": [*LIBS, {"type": repo, "names": ["x"]}]}, []),
        ("UNSUPPORTED_RESOURCE_TYPE", {"resources": [{"type": "PIPELINE", "names": ["p"]}]}, []),
        ("UNSUPPORTED_RESOURCE_TYPE", {"resources": [{"type": "DEVICE", "names": ["d"]}]}, []),
        ("INVALID_NAME", {"resources": [{"type": repo, "names": ["libs-*"]}]}, []),
        ("ACTION_NOT_SUPPORTED", {}, [user_grant(world.dev, "READ", "DISTRIBUTE")]),
        ("NO_ACTIONS", {}, [user_grant(world.dev)]),
        ("DUPLICATE_GRANT", {}, [user_grant(world.dev, "READ"), user_grant(world.dev, "WRITE")]),
        ("DUPLICATE_GRANT", {}, [anonymous_grant("READ"), anonymous_grant("READ")]),
        ("NOT_FOUND", {}, [user_grant(world.other_admin, "READ")]),  # R1
        ("NOT_FOUND", {}, [group_grant(other_group, "READ")]),  # R1
        ("NOT_FOUND", {}, [{"principalType": "GROUP", "actions": ["READ"]}]),
        ("NOT_FOUND", {}, [group_grant(to_global_id("Group", 987654), "READ")]),
        ("ANONYMOUS_READ_ONLY", {}, [anonymous_grant("READ", "WRITE")]),  # R26, even for admins
        ("ANONYMOUS_READ_ONLY", {}, [anonymous_grant("ANNOTATE")]),
        ("ANONYMOUS_READ_ONLY", {}, [anonymous_grant("MANAGE")]),
    ]
    before = await access_state(services)
    for code, fields, grants in cases:
        variables = {"input": {"name": "libs", "resources": LIBS, "grants": grants, **fields}}
        body = await api(CREATE_TARGET, variables, as_=world.admin)
        result = payload(body, "createPermissionTarget")
        assert [e["code"] for e in result["errors"]] == [code], (code, fields, grants, result)
        assert result["errors"][0]["field"], result
        assert result["permissionTarget"] is None
    assert await access_state(services) == before


async def test_update_permission_target_invalid_input_changes_nothing(
    api: Api, services: Services, world: World
) -> None:
    await create_target(api, world.admin, "Taken")
    target = await create_target(
        api,
        world.admin,
        resources=[{"type": "RELEASE_BUNDLE", "names": ["b"]}],
        grants=[user_grant(world.dev, "DISTRIBUTE")],
    )
    repo = "REPOSITORY"
    cases: list[tuple[str, dict[str, Any]]] = [
        ("INVALID_NAME", {"name": " "}),
        ("TARGET_NAME_TAKEN", {"name": "tAkEn"}),
        ("NO_RESOURCES", {"resources": []}),
        ("INVALID_PATTERN", {"resources": [{"type": repo, "includePatterns": ["a b"]}]}),
        (
            "PATTERN_OVERLAP",
            {"resources": [{"type": repo, "includePatterns": ["x-*"], "excludePatterns": ["x-*"]}]},
        ),
        ("UNSUPPORTED_RESOURCE_TYPE", {"resources": [{"type": "PIPELINE", "names": ["p"]}]}),
        # The DISTRIBUTE grant does not apply to a REPOSITORY-only target.
        ("ACTION_NOT_SUPPORTED", {"resources": [{"type": repo, "names": ["r"]}]}),
        (
            "ACTION_NOT_SUPPORTED",
            {
                "grants": [user_grant(world.dev, "DISTRIBUTE")],
                "resources": [{"type": repo, "names": ["r"]}],
            },
        ),
        ("NO_ACTIONS", {"grants": [user_grant(world.dev)]}),
        ("DUPLICATE_GRANT", {"grants": [user_grant(world.dev, "READ")] * 2}),
        ("NOT_FOUND", {"grants": [user_grant(world.other_admin, "READ")]}),
        ("ANONYMOUS_READ_ONLY", {"grants": [anonymous_grant("READ", "DELETE")]}),
    ]
    before = await access_state(services)
    for code, fields in cases:
        body = await update_target(api, world.admin, target["id"], **fields)
        result = payload(body, "updatePermissionTarget")
        assert [e["code"] for e in result["errors"]] == [code], (code, fields, result)
        assert result["permissionTarget"] is None
    body = await update_target(api, world.admin, to_global_id("PermissionTarget", 987654), name="x")
    assert user_error_codes(body, "updatePermissionTarget") == ["NOT_FOUND"]
    assert await access_state(services) == before


# --- R25: MANAGE holders change grants under the manage policy ------------------------------------


async def test_permission_targets_developer_sees_only_targets_they_manage(
    api: Api, world: World
) -> None:
    group = await create_group(api, world.admin, "Leads", [world.dev2])
    await create_target(api, world.admin, "direct", grants=[user_grant(world.dev, "MANAGE")])
    await create_target(api, world.admin, "through group", grants=[group_grant(group, "MANAGE")])
    await create_target(
        api, world.admin, "read only", grants=[user_grant(world.dev, "READ", "WRITE", "DELETE")]
    )
    await create_target(api, world.admin, "public", grants=[anonymous_grant("READ")])
    assert await target_names(api, world.dev) == ["direct"]
    assert await target_names(api, world.dev2) == ["through group"]
    assert await target_names(api, world.admin) == [
        "direct",
        "public",
        "read only",
        "through group",
    ]
    body = await api(TARGETS, as_=world.dev)
    [seen] = body["data"]["permissionTargets"]["nodes"]
    assert (seen["viewerCanEdit"], seen["viewerCanEditGrants"]) == (False, True)
    assert await target_names(api, world.other_admin) == []


async def test_node_permission_target_only_for_managers_and_admins(api: Api, world: World) -> None:
    target = await create_target(api, world.admin, grants=[user_grant(world.dev, "MANAGE")])
    for actor, visible in (
        (world.admin, True),
        (world.dev, True),
        (world.dev2, False),
        (world.other_admin, False),
    ):
        body = await api(NODE, {"id": target["id"]}, as_=actor)
        assert (body["data"]["node"] is not None) == visible, actor.name


@pytest.mark.parametrize("via_group", [False, True], ids=["direct", "group"])
@pytest.mark.parametrize("policy", POLICIES)
async def test_update_permission_target_grants_by_manager_follow_the_policy(
    api: Api, services: Services, world: World, policy: str, via_group: bool
) -> None:
    if policy != "EXCLUDE_MANAGE":
        await set_policy(api, world, policy)
    manager = (
        group_grant(
            await create_group(api, world.admin, "Leads", [world.dev]), "READ", "WRITE", "MANAGE"
        )
        if via_group
        else user_grant(world.dev, "READ", "WRITE", "MANAGE")
    )
    target = await create_target(api, world.admin, grants=[manager, user_grant(world.dev2, "READ")])
    for extra, policies in MANAGER_MAY_ADD.items():
        before = await access_state(services)
        grants = [manager, user_grant(world.dev2, "READ", *extra)]
        result = payload(
            await update_target(api, world.dev, target["id"], grants=grants),
            "updatePermissionTarget",
        )
        if policy not in policies:
            assert [e["code"] for e in result["errors"]] == ["MANAGE_POLICY_FORBIDS"], extra
            assert await access_state(services) == before
            continue
        assert result["errors"] == [], (extra, result)
        assert grants_by_email(result["permissionTarget"])["dev2@acme.test"] == ["READ", *extra]
        # Taking it back: a non-MANAGE action is always the manager's to remove; MANAGE was
        # only grantable under the legacy policy, which lets them remove it too.
        restore = [manager, user_grant(world.dev2, "READ")]
        result = payload(
            await update_target(api, world.dev, target["id"], grants=restore),
            "updatePermissionTarget",
        )
        assert result["errors"] == [], (extra, result)


@pytest.mark.parametrize("policy", POLICIES)
async def test_update_permission_target_manager_removing_manage_follows_the_policy(
    api: Api, services: Services, world: World, policy: str
) -> None:
    await set_policy(api, world, policy)
    target = await create_target(
        api,
        world.admin,
        grants=[user_grant(world.dev, "READ", "MANAGE"), user_grant(world.dev2, "READ", "MANAGE")],
    )
    before = await access_state(services)
    grants = [user_grant(world.dev, "READ", "MANAGE"), user_grant(world.dev2, "READ")]
    result = payload(
        await update_target(api, world.dev, target["id"], grants=grants), "updatePermissionTarget"
    )
    if policy == "ANY_ACTION_INCLUDING_MANAGE":
        assert result["errors"] == []
    else:
        assert [e["code"] for e in result["errors"]] == ["MANAGE_POLICY_FORBIDS"]
        assert await access_state(services) == before


async def test_update_permission_target_manager_cannot_change_name_or_resources(
    api: Api, services: Services, world: World
) -> None:
    await set_policy(api, world, "ANY_ACTION_INCLUDING_MANAGE")
    target = await create_target(api, world.admin, grants=[user_grant(world.dev, "MANAGE")])
    before = await access_state(services)
    for changes in (
        {"name": "mine"},
        {"name": "libs"},
        {"resources": [{"type": "REPOSITORY", "includePatterns": ["**"]}]},
        {"resources": LIBS, "grants": [user_grant(world.dev, "MANAGE")]},
    ):
        body = await update_target(api, world.dev, target["id"], **changes)
        assert_no_permission(body, "updatePermissionTarget")
    assert await access_state(services) == before


@pytest.mark.parametrize("policy", POLICIES)
async def test_update_permission_target_manager_cannot_touch_anonymous_grants(
    api: Api, services: Services, world: World, policy: str
) -> None:
    await set_policy(api, world, policy)
    manager = user_grant(world.dev, "READ", "MANAGE")
    public = await create_target(
        api, world.admin, "public", grants=[manager, anonymous_grant("READ")]
    )
    private = await create_target(api, world.admin, "private", grants=[manager])
    before = await access_state(services)
    # R26: only admins grant to the anonymous user, and remove it.
    for target, grants in (
        (private, [manager, anonymous_grant("READ")]),
        (public, [manager]),
    ):
        body = await update_target(api, world.dev, target["id"], grants=grants)
        assert user_error_codes(body, "updatePermissionTarget") == ["ANONYMOUS_ADMIN_ONLY"]
    body = await update_target(
        api, world.dev, public["id"], grants=[manager, anonymous_grant("READ", "WRITE")]
    )
    assert user_error_codes(body, "updatePermissionTarget") == ["ANONYMOUS_READ_ONLY"]
    assert await access_state(services) == before
    # Keeping the anonymous grant as it is, while changing another, is fine.
    body = await update_target(
        api,
        world.dev,
        public["id"],
        grants=[manager, anonymous_grant("READ"), user_grant(world.dev2, "READ")],
    )
    assert payload(body, "updatePermissionTarget")["errors"] == []


async def test_update_permission_target_admin_grants_anonymous_read_only(
    api: Api, world: World
) -> None:
    target = await create_target(api, world.admin)
    body = await update_target(api, world.admin, target["id"], grants=[anonymous_grant("READ")])
    assert grants_by_email(payload(body, "updatePermissionTarget")["permissionTarget"]) == {
        "anonymous": ["READ"]
    }
    body = await update_target(
        api, world.admin, target["id"], grants=[anonymous_grant("READ", "WRITE")]
    )
    assert user_error_codes(body, "updatePermissionTarget") == ["ANONYMOUS_READ_ONLY"]


async def test_update_permission_target_without_manage_is_forbidden(
    api: Api, factory: Factory, services: Services, world: World
) -> None:
    target = await create_target(
        api, world.admin, "libs", grants=[user_grant(world.dev2, "READ", "WRITE", "DELETE")]
    )
    await create_target(api, world.admin, "other", grants=[user_grant(world.dev, "MANAGE")])
    manager_token = await factory.token(world.dev, TokenPermission.READ_ONLY)
    before = await access_state(services)
    grants = [user_grant(world.dev2, "READ")]
    # dev2 holds actions but not MANAGE; dev holds MANAGE on another target only.
    for actor in (world.dev2, world.dev, manager_token):
        body = await update_target(api, actor, target["id"], grants=grants)
        assert_no_permission(body, "updatePermissionTarget")
    assert await access_state(services) == before


async def test_update_permission_target_manager_read_only_token_is_forbidden(
    api: Api, factory: Factory, services: Services, world: World
) -> None:
    target = await create_target(api, world.admin, grants=[user_grant(world.dev, "READ", "MANAGE")])
    read_only = await factory.token(world.dev, TokenPermission.READ_ONLY)
    read_write = await factory.token(world.dev, TokenPermission.READ_WRITE, name="rw")
    before = await access_state(services)
    grants = [user_grant(world.dev, "READ", "MANAGE"), user_grant(world.dev2, "READ")]
    assert_no_permission(
        await update_target(api, read_only, target["id"], grants=grants), "updatePermissionTarget"
    )
    assert await access_state(services) == before
    body = await update_target(api, read_write, target["id"], grants=grants)  # R14
    assert payload(body, "updatePermissionTarget")["errors"] == []


async def test_permission_target_create_and_delete_are_for_admins_only(
    api: Api, services: Services, world: World
) -> None:
    target = await create_target(api, world.admin, grants=[user_grant(world.dev, "MANAGE")])
    before = await access_state(services)
    variables = {"input": {"name": "mine", "resources": LIBS}}
    assert_no_permission(
        await api(CREATE_TARGET, variables, as_=world.dev), "createPermissionTarget"
    )
    assert_no_permission(
        await api(DELETE_TARGET, {"id": target["id"]}, as_=world.dev), "deletePermissionTarget"
    )
    assert await access_state(services) == before


async def test_manager_loses_grant_rights_when_manage_is_revoked(api: Api, world: World) -> None:
    target = await create_target(api, world.admin, grants=[user_grant(world.dev, "READ", "MANAGE")])
    body = await update_target(
        api, world.admin, target["id"], grants=[user_grant(world.dev, "READ")]
    )
    assert payload(body, "updatePermissionTarget")["errors"] == []
    assert await target_names(api, world.dev) == []
    body = await update_target(
        api, world.dev, target["id"], grants=[user_grant(world.dev, "READ", "MANAGE")]
    )
    assert_no_permission(body, "updatePermissionTarget")


async def test_permission_targets_of_another_org_are_not_found(
    api: Api, services: Services, world: World
) -> None:
    target = await create_target(api, world.admin)
    before = await access_state(services)
    body = await update_target(api, world.other_admin, target["id"], name="mine")
    assert user_error_codes(body, "updatePermissionTarget") == ["NOT_FOUND"]
    body = await api(DELETE_TARGET, {"id": target["id"]}, as_=world.other_admin)
    assert user_error_codes(body, "deletePermissionTarget") == ["NOT_FOUND"]
    assert await access_state(services) == before


# --- the manage policy setting (R25: admins only) ------------------------------------------------


async def test_update_organization_settings_manage_policy_only_by_admins(
    api: Api, factory: Factory, services: Services, world: World
) -> None:
    body = await api(ORGANIZATION, as_=world.dev)
    assert body["data"]["organization"]["managePolicy"] == "EXCLUDE_MANAGE"  # the default
    await create_target(api, world.admin, grants=[user_grant(world.dev, "MANAGE")])
    read_only = await factory.token(world.admin, TokenPermission.READ_ONLY)
    before = await access_state(services)
    for actor in (world.dev, read_only):
        body = await api(UPDATE_SETTINGS, {"policy": "ANY_ACTION_INCLUDING_MANAGE"}, as_=actor)
        assert_no_permission(body, "updateOrganizationSettings")
    assert await access_state(services) == before
    await set_policy(api, world, "ANY_ACTION_EXCLUDING_MANAGE")
    body = await api(ORGANIZATION, as_=world.dev)
    assert body["data"]["organization"]["managePolicy"] == "ANY_ACTION_EXCLUDING_MANAGE"
    body = await api(ORGANIZATION, as_=world.other_admin)  # R1: per organization
    assert body["data"]["organization"]["managePolicy"] == "EXCLUDE_MANAGE"


async def test_manage_policy_change_applies_to_the_next_grant_change(
    api: Api, world: World
) -> None:
    manager = user_grant(world.dev, "READ", "MANAGE")
    target = await create_target(api, world.admin, grants=[manager])
    wanted = [manager, user_grant(world.dev2, "DELETE")]
    body = await update_target(api, world.dev, target["id"], grants=wanted)
    assert user_error_codes(body, "updatePermissionTarget") == ["MANAGE_POLICY_FORBIDS"]
    await set_policy(api, world, "ANY_ACTION_EXCLUDING_MANAGE")
    body = await update_target(api, world.dev, target["id"], grants=wanted)
    assert payload(body, "updatePermissionTarget")["errors"] == []
    await set_policy(api, world, "EXCLUDE_MANAGE")
    body = await update_target(
        api, world.dev, target["id"], grants=[manager, user_grant(world.dev2, "DELETE", "WRITE")]
    )
    assert user_error_codes(body, "updatePermissionTarget") == ["MANAGE_POLICY_FORBIDS"]


# --- registered resources ---------------------------------------------------------------------


async def test_register_repository_and_resources(api: Api, world: World) -> None:
    body = await api(
        REGISTER_REPOSITORY, {"name": "libs-release", "environment": "PROD"}, as_=world.admin
    )
    result = payload(body, "registerRepository")
    assert result["errors"] == []
    assert result["resource"]["type"] == "REPOSITORY"
    assert (result["resource"]["name"], result["resource"]["environment"]) == (
        "libs-release",
        "PROD",
    )
    for kind in ("BUILD", "RELEASE_BUNDLE", "DESTINATION", "REPOSITORY"):
        body = await api(
            REGISTER_RESOURCE, {"type": kind, "name": "team/app-release"}, as_=world.admin
        )
        assert payload(body, "registerResource")["errors"] == [], kind
    # The same name under another type is another resource.
    body = await api(REGISTER_RESOURCE, {"type": "BUILD", "name": "libs-release"}, as_=world.admin)
    assert payload(body, "registerResource")["errors"] == []
    body = await api(RESOURCES, {"type": "BUILD"}, as_=world.admin)
    assert sorted(n["name"] for n in body["data"]["resources"]["nodes"]) == [
        "libs-release",
        "team/app-release",
    ]
    body = await api(RESOURCES, as_=world.admin)
    assert body["data"]["resources"]["totalCount"] == 6
    body = await api(RESOURCES, as_=world.other_admin)
    assert body["data"]["resources"]["totalCount"] == 0


async def test_register_resource_refusals_change_nothing(
    api: Api, services: Services, world: World
) -> None:
    body = await api(REGISTER_REPOSITORY, {"name": "libs-release"}, as_=world.admin)
    assert payload(body, "registerRepository")["errors"] == []
    before = await access_state(services)
    for name, code in (
        ("libs-release", "RESOURCE_EXISTS"),
        (" libs-release ", "RESOURCE_EXISTS"),
        ("libs-*", "INVALID_NAME"),
        ("**/app", "INVALID_NAME"),
        ("lib?", "INVALID_NAME"),
        ("", "INVALID_NAME"),
        ("has space", "INVALID_NAME"),
    ):
        body = await api(REGISTER_REPOSITORY, {"name": name}, as_=world.admin)
        assert user_error_codes(body, "registerRepository") == [code], name
    for kind in ("PIPELINE", "DEVICE"):
        body = await api(REGISTER_RESOURCE, {"type": kind, "name": "x"}, as_=world.admin)
        assert user_error_codes(body, "registerResource") == ["UNSUPPORTED_RESOURCE_TYPE"], kind
    assert await access_state(services) == before


async def test_register_resource_by_developer_is_forbidden(
    api: Api, services: Services, world: World
) -> None:
    await create_target(api, world.admin, grants=[user_grant(world.dev, "MANAGE")])
    before = await access_state(services)
    body = await api(REGISTER_REPOSITORY, {"name": "mine"}, as_=world.dev)
    assert_no_permission(body, "registerRepository")
    body = await api(REGISTER_RESOURCE, {"type": "BUILD", "name": "mine"}, as_=world.dev)
    assert_no_permission(body, "registerResource")
    assert await access_state(services) == before


async def test_resources_are_for_admins_as_the_directive_says(api: Api, world: World) -> None:
    # STYLE 1: the SDL directive and the check come from the same rules and never disagree.
    [field] = [
        line
        for line in build_schema().as_str().splitlines()
        if line.strip().startswith("resources(") and "@requires" in line  # the root field
    ]
    assert 'anyOf: ["TeamRole.ADMIN"]' in field, field
    await create_target(api, world.admin, grants=[user_grant(world.dev, "MANAGE")])
    body = await api(REGISTER_REPOSITORY, {"name": "libs-release"}, as_=world.admin)
    resource_id = payload(body, "registerRepository")["resource"]["id"]
    assert (await api(RESOURCES, as_=world.admin))["data"]["resources"]["totalCount"] == 1
    # A MANAGE holder changes grants, not what targets cover: the resource list is not theirs.
    assert_no_permission(await api(RESOURCES, as_=world.dev), "resources")
    body = await api(RESOURCE_NODE, {"id": resource_id}, as_=world.dev)
    assert body["data"]["node"] is None
    body = await api(RESOURCE_NODE, {"id": resource_id}, as_=world.admin)
    assert body["data"]["node"] == {"id": resource_id, "name": "libs-release"}


async def test_register_resource_other_org_may_reuse_the_name(api: Api, world: World) -> None:
    for actor in (world.admin, world.other_admin):
        body = await api(REGISTER_REPOSITORY, {"name": "libs-release"}, as_=actor)
        assert payload(body, "registerRepository")["errors"] == [], actor.name


# --- audit (R35) ------------------------------------------------------------------------------


async def test_permission_target_changes_write_audit_events(api: Api, world: World) -> None:
    target = await create_target(api, world.admin, grants=[user_grant(world.dev, "READ", "MANAGE")])
    body = await update_target(
        api,
        world.dev,  # a MANAGE holder: the event names them
        target["id"],
        grants=[user_grant(world.dev, "READ", "MANAGE"), user_grant(world.dev2, "READ")],
    )
    assert payload(body, "updatePermissionTarget")["errors"] == []
    body = await api(DELETE_TARGET, {"id": target["id"]}, as_=world.admin)
    assert payload(body, "deletePermissionTarget")["errors"] == []

    resources = [
        {"type": "REPOSITORY", "names": [], "include": ["libs-*"], "exclude": ["libs-secret"]}
    ]
    dev = f"USER:{world.dev.user_pk}"
    dev2 = f"USER:{world.dev2.user_pk}"
    [created] = await events(api, world.admin, "permission_target.create")
    assert created["actor"]["id"] == world.admin.id
    assert (created["targetType"], created["targetId"], created["targetLabel"]) == (
        "PermissionTarget",
        target["id"],
        "libs",
    )
    assert created["before"] is None
    assert created["after"]["name"] == "libs"
    assert created["after"]["resources"] == resources
    assert [g["actions"] for g in created["after"]["grants"]] == [["READ", "MANAGE"]]

    [updated] = await events(api, world.admin, "permission_target.update")
    assert updated["actor"]["id"] == world.dev.id
    assert [g["principal"] for g in updated["before"]["grants"]] == [dev]
    assert {g["principal"]: g["actions"] for g in updated["after"]["grants"]} == {
        dev: ["READ", "MANAGE"],
        dev2: ["READ"],
    }
    assert updated["after"]["resources"] == resources

    [deleted] = await events(api, world.admin, "permission_target.delete")
    assert deleted["before"] == updated["after"]
    assert deleted["after"] is None


async def test_permission_target_no_op_or_refused_update_writes_no_audit_event(
    api: Api, world: World
) -> None:
    target = await create_target(api, world.admin, grants=[user_grant(world.dev, "READ")])
    await update_target(api, world.admin, target["id"], name="libs")
    await update_target(api, world.admin, target["id"], grants=[user_grant(world.dev, "READ")])
    await update_target(api, world.admin, target["id"], grants=[anonymous_grant("WRITE")])
    await update_target(api, world.dev, target["id"], grants=[])
    assert await events(api, world.admin, "permission_target.update") == []
