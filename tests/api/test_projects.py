"""Projects (R27) and global roles (R28): admins create projects and edit the predefined global
roles; the roles cannot be added or removed; every member reads them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from accessgraph.models import TokenPermission
from accessgraph.services import Services
from tests.api.test_groups import DELETE_GROUP, DELETE_USER, create_group
from tests.conftest import (
    ANONYMOUS,
    Api,
    Factory,
    World,
    assert_no_permission,
    assert_unauthenticated,
    database_state,
    payload,
    user_error_codes,
)

CREATE_PROJECT = """
mutation($key: String!, $name: String!) {
  createProject(input: {key: $key, name: $name}) {
    project { id key name } errors { code message field }
  }
}"""
PROJECTS = """
query($key: String!) {
  projects { totalCount nodes { key name } }
  project(key: $key) { key name }
}"""
GLOBAL_ROLES = "{ globalRoles { name environments actions isDefault } }"
UPDATE_GLOBAL_ROLE = """
mutation($name: String!, $envs: [Environment!]!, $actions: [ArtifactAction!]!) {
  updateGlobalRole(input: {name: $name, environments: $envs, actions: $actions}) {
    globalRole { name environments actions isDefault } errors { code field }
  }
}"""
AUDIT = "{ auditEvents(first: 5) { nodes { action targetLabel before after } } }"

# R28: the defaults (documented in accessgraph/auth/projects.py and README).
DEFAULTS = [
    {"name": "PROJECT_ADMIN", "environments": ["DEV", "PROD"],
     "actions": ["READ", "ANNOTATE", "WRITE", "DELETE", "MANAGE"], "isDefault": True},
    {"name": "DEVELOPER", "environments": ["DEV", "PROD"], "actions": ["READ", "WRITE"],
     "isDefault": True},
    {"name": "CONTRIBUTOR", "environments": ["DEV"], "actions": ["READ", "ANNOTATE", "WRITE"],
     "isDefault": True},
    {"name": "VIEWER", "environments": ["DEV", "PROD"], "actions": ["READ"], "isDefault": True},
    {"name": "RELEASE_MANAGER", "environments": ["DEV", "PROD"],
     "actions": ["READ", "ANNOTATE", "DISTRIBUTE"], "isDefault": True},
]  # fmt: skip


async def state(services: Services) -> dict[str, Any]:
    snapshot: dict[str, Any] = await database_state(services)
    async with services.db.session() as session:
        for table in ("projects", "global_role_settings", "project_roles", "project_members"):
            rows = await session.execute(text(f"SELECT * FROM {table} ORDER BY id"))
            snapshot[table] = [tuple(row) for row in rows]
    return snapshot


async def test_create_project_by_admin_is_listed_and_audited(api: Api, world: World) -> None:
    body = await api(CREATE_PROJECT, {"key": "payments", "name": "Payments"}, as_=world.admin)
    assert payload(body, "createProject")["project"]["key"] == "payments"
    body = await api(PROJECTS, {"key": "payments"}, as_=world.admin)
    assert body["data"] == {
        "projects": {"totalCount": 1, "nodes": [{"key": "payments", "name": "Payments"}]},
        "project": {"key": "payments", "name": "Payments"},
    }
    events = (await api(AUDIT, as_=world.admin))["data"]["auditEvents"]["nodes"]
    assert events[0]["action"] == "project.create"
    assert events[0]["after"] == {"key": "payments", "name": "Payments", "projectAdmins": []}


async def test_create_project_bad_input_changes_nothing(
    api: Api, world: World, services: Services
) -> None:
    payload(
        await api(CREATE_PROJECT, {"key": "payments", "name": "P"}, as_=world.admin),
        "createProject",
    )
    before = await state(services)
    for key, name, code in (
        ("payments", "Again", "PROJECT_KEY_TAKEN"),
        ("Payments", "Upper", "INVALID_PROJECT_KEY"),
        ("p", "Too short", "INVALID_PROJECT_KEY"),
        ("9lives", "Digit first", "INVALID_PROJECT_KEY"),
        ("pay-ments", "Dash", "INVALID_PROJECT_KEY"),
        ("x" * 33, "Too long", "INVALID_PROJECT_KEY"),
        ("billing", "   ", "INVALID_NAME"),
    ):
        body = await api(CREATE_PROJECT, {"key": key, "name": name}, as_=world.admin)
        assert user_error_codes(body, "createProject") == [code], (key, body)
    assert await state(services) == before


async def test_create_project_is_for_admins(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R27: only "Administer the Platform" creates projects; a READ_ONLY admin token changes
    nothing (R14); another organization never sees the project (R1)."""
    payload(
        await api(CREATE_PROJECT, {"key": "payments", "name": "P"}, as_=world.admin),
        "createProject",
    )
    read_only = await factory.token(world.admin, TokenPermission.READ_ONLY)
    before = await state(services)
    for actor in (world.dev, read_only):
        body = await api(CREATE_PROJECT, {"key": "other", "name": "O"}, as_=actor)
        assert_no_permission(body, "createProject")
    assert_unauthenticated(
        await api(CREATE_PROJECT, {"key": "other", "name": "O"}, as_=ANONYMOUS), "createProject"
    )
    assert await state(services) == before
    for actor in (world.dev, world.other_admin):
        body = await api(PROJECTS, {"key": "payments"}, as_=actor)
        assert body["data"] == {"projects": {"totalCount": 0, "nodes": []}, "project": None}


async def test_global_roles_exist_with_their_defaults_for_every_member(
    api: Api, world: World
) -> None:
    for actor in (world.admin, world.dev, world.other_admin):
        body = await api(GLOBAL_ROLES, as_=actor)
        assert body["data"]["globalRoles"] == DEFAULTS


async def test_update_global_role_changes_it_for_this_organization_only(
    api: Api, world: World
) -> None:
    """R28: admins edit a global role's environments and actions; another organization keeps
    the defaults."""
    body = await api(
        UPDATE_GLOBAL_ROLE,
        {"name": "CONTRIBUTOR", "envs": ["PROD", "DEV"], "actions": ["READ", "WRITE"]},
        as_=world.admin,
    )
    assert payload(body, "updateGlobalRole")["globalRole"] == {
        "name": "CONTRIBUTOR", "environments": ["DEV", "PROD"], "actions": ["READ", "WRITE"],
        "isDefault": False,
    }  # fmt: skip
    mine = (await api(GLOBAL_ROLES, as_=world.dev))["data"]["globalRoles"]
    assert mine[2]["environments"] == ["DEV", "PROD"] and mine[2]["isDefault"] is False
    theirs = (await api(GLOBAL_ROLES, as_=world.other_admin))["data"]["globalRoles"]
    assert theirs == DEFAULTS
    events = (await api(AUDIT, as_=world.admin))["data"]["auditEvents"]["nodes"]
    assert events[0]["action"] == "global_role.update"
    assert events[0]["before"] == {
        "environments": ["DEV"],
        "actions": ["READ", "ANNOTATE", "WRITE"],
    }


async def test_update_global_role_bad_input_changes_nothing(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R28: global roles cannot be added (an unknown name is NOT_FOUND); an empty environment
    list or action list is refused; developers and READ_ONLY tokens may not edit."""
    read_only = await factory.token(world.admin, TokenPermission.READ_ONLY)
    before = await state(services)
    for name, envs, actions, code in (
        ("LEAD_DEVELOPER", ["DEV"], ["READ"], "NOT_FOUND"),
        ("DEVELOPER", [], ["READ"], "NO_ENVIRONMENTS"),
        ("DEVELOPER", ["DEV"], [], "NO_ACTIONS"),
    ):
        body = await api(
            UPDATE_GLOBAL_ROLE, {"name": name, "envs": envs, "actions": actions}, as_=world.admin
        )
        assert user_error_codes(body, "updateGlobalRole") == [code], body
    for actor in (world.dev, read_only):
        body = await api(
            UPDATE_GLOBAL_ROLE,
            {"name": "VIEWER", "envs": ["DEV"], "actions": ["READ"]},
            as_=actor,
        )
        assert_no_permission(body, "updateGlobalRole")
    assert await state(services) == before


# --- project roles (R29) ----------------------------------------------------------------------

CREATE_ROLE = """
mutation($input: CreateProjectRoleInput!) {
  createProjectRole(input: $input) {
    role { name environments mode actions advancedActions { resourceType actions } }
    errors { code field }
  }
}"""
UPDATE_ROLE = """
mutation($input: UpdateProjectRoleInput!) {
  updateProjectRole(input: $input) {
    role { name environments mode actions advancedActions { resourceType actions } }
    droppedAdvancedActions { resourceType actions }
    errors { code field }
  }
}"""
DELETE_ROLE = """
mutation($key: String!, $name: String!) {
  deleteProjectRole(input: {projectKey: $key, roleName: $name}) { deletedRoleName errors { code } }
}"""
ROLES = """
query { projects { nodes { key roles { name mode environments actions } } } }"""


async def _project(api: Api, world: World, key: str = "payments") -> None:
    payload(
        await api(CREATE_PROJECT, {"key": key, "name": key.title()}, as_=world.admin),
        "createProject",
    )


async def test_create_project_role_basic_defaults_to_dev(api: Api, world: World) -> None:
    """R29: a role's environments default to DEV; basic actions hold for every type."""
    await _project(api, world)
    body = await api(
        CREATE_ROLE,
        {
            "input": {
                "projectKey": "payments",
                "name": "Lead Developer",
                "actions": ["WRITE", "DELETE"],
            }
        },
        as_=world.admin,
    )
    assert payload(body, "createProjectRole")["role"] == {
        "name": "Lead Developer", "environments": ["DEV"], "mode": "BASIC",
        "actions": ["WRITE", "DELETE"], "advancedActions": [],
    }  # fmt: skip
    roles = (await api(ROLES, as_=world.admin))["data"]["projects"]["nodes"][0]["roles"]
    assert roles == [
        {
            "name": "Lead Developer",
            "mode": "BASIC",
            "environments": ["DEV"],
            "actions": ["WRITE", "DELETE"],
        }
    ]


async def test_update_project_role_advanced_to_basic_drops_and_reports(
    api: Api, world: World
) -> None:
    """R29: switching from advanced back to basic drops the advanced actions, and says so."""
    await _project(api, world)
    advanced = [
        {"resourceType": "REPOSITORY", "actions": ["READ", "ANNOTATE"]},
        {"resourceType": "PIPELINE", "actions": ["READ", "TRIGGER"]},
    ]
    body = await api(
        CREATE_ROLE,
        {"input": {"projectKey": "payments", "name": "QA", "environments": ["DEV", "PROD"],
                   "advancedActions": advanced}},
        as_=world.admin,
    )  # fmt: skip
    assert payload(body, "createProjectRole")["role"]["advancedActions"] == advanced
    body = await api(
        UPDATE_ROLE,
        {"input": {"projectKey": "payments", "roleName": "qa", "actions": ["READ"]}},
        as_=world.admin,
    )
    result = payload(body, "updateProjectRole")
    assert result["role"]["mode"] == "BASIC" and result["role"]["advancedActions"] == []
    assert result["droppedAdvancedActions"] == advanced


async def test_project_role_bad_input_changes_nothing(
    api: Api, world: World, services: Services
) -> None:
    await _project(api, world)
    await _project(api, world, "billing")
    payload(
        await api(
            CREATE_ROLE,
            {"input": {"projectKey": "payments", "name": "QA", "actions": ["READ"]}},
            as_=world.admin,
        ),
        "createProjectRole",
    )
    before = await state(services)
    for data, code in (
        ({"name": "qa", "actions": ["READ"]}, "ROLE_NAME_TAKEN"),
        ({"name": "Developer", "actions": ["READ"]}, "ROLE_NAME_SHADOWS_GLOBAL"),
        ({"name": "release manager", "actions": ["READ"]}, "ROLE_NAME_SHADOWS_GLOBAL"),
        ({"name": "X", "environments": [], "actions": ["READ"]}, "NO_ENVIRONMENTS"),
        ({"name": "X", "actions": []}, "NO_ACTIONS"),
        ({"name": "X"}, "NO_ACTIONS"),
        ({"name": "X", "actions": ["READ"], "advancedActions": []}, "INVALID_INPUT"),
        ({"name": "X", "advancedActions": [{"resourceType": "REPOSITORY", "actions": ["TRIGGER"]}]},
         "ACTION_NOT_SUPPORTED"),
        ({"name": "X", "advancedActions": [{"resourceType": "REPOSITORY", "actions": ["DISTRIBUTE"]}]},
         "ACTION_NOT_SUPPORTED"),
        ({"name": "X", "advancedActions": [{"resourceType": "DESTINATION", "actions": ["READ"]}]},
         "UNSUPPORTED_RESOURCE_TYPE"),
        ({"name": "X", "advancedActions": [{"resourceType": "BUILD", "actions": ["READ"]},
                                           {"resourceType": "BUILD", "actions": ["WRITE"]}]},
         "DUPLICATE_RESOURCE_TYPE"),
        ({"projectKey": "nope", "name": "X", "actions": ["READ"]}, "NOT_FOUND"),
    ):  # fmt: skip
        body = await api(
            CREATE_ROLE, {"input": {"projectKey": "payments", **data}}, as_=world.admin
        )
        assert user_error_codes(body, "createProjectRole") == [code], (data, body)
    # A role of another project is not this project's (R29: roles are per project).
    body = await api(DELETE_ROLE, {"key": "billing", "name": "QA"}, as_=world.admin)
    assert user_error_codes(body, "deleteProjectRole") == ["NOT_FOUND"]
    assert await state(services) == before


async def test_project_roles_are_managed_by_admins(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R29: a member without the Project Admin role, and a read-only token, may not create,
    change or delete roles (FORBIDDEN); a non-member is told the project does not exist."""
    await _project(api, world)
    payload(
        await api(
            CREATE_ROLE,
            {"input": {"projectKey": "payments", "name": "QA", "actions": ["READ"]}},
            as_=world.admin,
        ),
        "createProjectRole",
    )
    body = await api(
        CREATE_ROLE,
        {"input": {"projectKey": "payments", "name": "B", "actions": ["READ"]}},
        as_=world.dev,
    )
    assert user_error_codes(body, "createProjectRole") == ["NOT_FOUND"]
    viewer = {"key": "payments", "user": world.dev.id, "roles": ["VIEWER"]}
    payload(await api(ASSIGN, viewer, as_=world.admin), "assignProjectRole")
    read_only = await factory.token(world.admin, TokenPermission.READ_ONLY)
    before = await state(services)
    for actor in (world.dev, read_only):
        body = await api(
            CREATE_ROLE,
            {"input": {"projectKey": "payments", "name": "B", "actions": ["READ"]}},
            as_=actor,
        )
        assert_no_permission(body, "createProjectRole")
        body = await api(
            UPDATE_ROLE,
            {"input": {"projectKey": "payments", "roleName": "QA", "actions": ["WRITE"]}},
            as_=actor,
        )
        assert_no_permission(body, "updateProjectRole")
        body = await api(DELETE_ROLE, {"key": "payments", "name": "QA"}, as_=actor)
        assert_no_permission(body, "deleteProjectRole")
    body = await api(DELETE_ROLE, {"key": "payments", "name": "QA"}, as_=world.other_admin)
    assert user_error_codes(body, "deleteProjectRole") == ["NOT_FOUND"]  # R1
    assert await state(services) == before
    body = await api(DELETE_ROLE, {"key": "payments", "name": "qa"}, as_=world.admin)
    assert payload(body, "deleteProjectRole") == {"deletedRoleName": "QA", "errors": []}


# --- members and project grants in checkAccess (R30, R34) ---------------------------------------

ASSIGN = """
mutation($key: String!, $user: ID, $group: ID, $roles: [String!]!) {
  assignProjectRole(input: {projectKey: $key, userId: $user, groupId: $group, roles: $roles}) {
    project { key members { totalCount edges { roles node { __typename ... on User { email } ... on Group { name } } } } }
    errors { code field }
  }
}"""
REMOVE = """
mutation($key: String!, $user: ID) {
  removeProjectMember(input: {projectKey: $key, userId: $user}) { errors { code } }
}"""
CHECK = """
query($action: String!, $env: Environment, $type: ResourceType = REPOSITORY) {
  checkAccess(input: {action: $action, resourceType: $type, resourceName: "payments-libs",
                      projectKey: "payments", environment: $env}) {
    allowed grants { source name action via }
  }
}"""


async def _lead_developer(api: Api, world: World) -> None:
    await _project(api, world)
    body = await api(
        CREATE_ROLE,
        {
            "input": {
                "projectKey": "payments",
                "name": "Lead Developer",
                "actions": ["WRITE", "DELETE"],
            }
        },
        as_=world.admin,
    )
    payload(body, "createProjectRole")


async def _allowed(api: Api, actor: Any, action: str, env: str, kind: str = "REPOSITORY") -> bool:
    body = await api(CHECK, {"action": action, "env": env, "type": kind}, as_=actor)
    assert not body.get("errors"), body
    return bool(body["data"]["checkAccess"]["allowed"])


async def test_check_access_seed_example_developer_plus_lead_developer(
    api: Api, world: World
) -> None:
    """R30, the seed's example: Developer (READ, WRITE in DEV and PROD) plus Lead Developer
    (WRITE, DELETE in DEV) may DELETE in DEV and not in PROD."""
    await _lead_developer(api, world)
    body = await api(
        ASSIGN,
        {"key": "payments", "user": world.dev.id, "roles": ["DEVELOPER", "Lead Developer"]},
        as_=world.admin,
    )
    members = payload(body, "assignProjectRole")["project"]["members"]
    assert members["edges"] == [
        {
            "roles": ["DEVELOPER", "Lead Developer"],
            "node": {"__typename": "User", "email": "dev@acme.test"},
        }
    ]
    expected = {
        ("READ", "DEV"): True, ("READ", "PROD"): True,
        ("WRITE", "DEV"): True, ("WRITE", "PROD"): True,
        ("DELETE", "DEV"): True, ("DELETE", "PROD"): False,
        ("MANAGE", "DEV"): False, ("MANAGE", "PROD"): False,
    }  # fmt: skip
    for (action, env), allowed in expected.items():
        assert await _allowed(api, world.dev, action, env) is allowed, (action, env)
    body = await api(CHECK, {"action": "DELETE", "env": "DEV"}, as_=world.dev)
    assert body["data"]["checkAccess"]["grants"] == [
        {"source": "PROJECT_ROLE", "name": "Lead Developer", "action": "DELETE", "via": "user"}
    ]
    # Roles hold per environment: asking about an unregistered project resource without one
    # is a clear error, not a silent "no".
    body = await api(CHECK, {"action": "READ", "env": None}, as_=world.dev)
    assert body["data"] == {"checkAccess": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "environment" in body["errors"][0]["message"]


async def test_check_access_project_roles_through_a_group_and_removal(
    api: Api, world: World
) -> None:
    """R30: roles held through a group count, listed via the group; removing the member takes
    effect on the very next check."""
    await _project(api, world)
    body = await api(
        """mutation($d: ID!) { createGroup(input: {name: "Payments team", memberIds: [$d]}) { group { id } } }""",
        {"d": world.dev2.id},
        as_=world.admin,
    )
    group = payload(body, "createGroup")["group"]["id"]
    body = await api(
        ASSIGN, {"key": "payments", "group": group, "roles": ["VIEWER"]}, as_=world.admin
    )
    assert payload(body, "assignProjectRole")["errors"] == []
    body = await api(CHECK, {"action": "READ", "env": "PROD"}, as_=world.dev2)
    assert body["data"]["checkAccess"] == {
        "allowed": True,
        "grants": [
            {
                "source": "PROJECT_ROLE",
                "name": "VIEWER",
                "action": "READ",
                "via": "group Payments team",
            }
        ],
    }
    assert await _allowed(api, world.dev2, "WRITE", "DEV") is False
    assert await _allowed(api, world.dev, "READ", "DEV") is False  # not in the group
    body = await api(
        ASSIGN, {"key": "payments", "user": world.dev.id, "roles": ["CONTRIBUTOR"]}, as_=world.admin
    )
    assert await _allowed(api, world.dev, "WRITE", "DEV") is True
    assert await _allowed(api, world.dev, "WRITE", "PROD") is False  # CONTRIBUTOR: DEV only
    payload(
        await api(REMOVE, {"key": "payments", "user": world.dev.id}, as_=world.admin),
        "removeProjectMember",
    )
    assert await _allowed(api, world.dev, "WRITE", "DEV") is False


async def test_update_global_role_is_seen_by_every_project_at_once(api: Api, world: World) -> None:
    """R28: admins edit a global role; every project (and the next check) sees the change."""
    await _project(api, world)
    payload(
        await api(
            ASSIGN, {"key": "payments", "user": world.dev.id, "roles": ["VIEWER"]}, as_=world.admin
        ),
        "assignProjectRole",
    )
    assert await _allowed(api, world.dev, "WRITE", "DEV") is False
    body = await api(
        UPDATE_GLOBAL_ROLE,
        {"name": "VIEWER", "envs": ["DEV"], "actions": ["READ", "WRITE"]},
        as_=world.admin,
    )
    assert payload(body, "updateGlobalRole")["errors"] == []
    assert await _allowed(api, world.dev, "WRITE", "DEV") is True
    assert await _allowed(api, world.dev, "READ", "PROD") is False


async def test_assign_project_role_bad_input_changes_nothing(
    api: Api, world: World, services: Services
) -> None:
    await _lead_developer(api, world)
    await _project(api, world, "billing")
    before = await state(services)
    for variables, code in (
        ({"key": "billing", "user": world.dev.id, "roles": ["Lead Developer"]}, "ROLE_NOT_IN_PROJECT"),
        ({"key": "payments", "user": world.dev.id, "roles": ["Astronaut"]}, "NOT_FOUND"),
        ({"key": "payments", "user": world.dev.id, "roles": []}, "NO_ROLES"),
        ({"key": "payments", "roles": ["VIEWER"]}, "INVALID_INPUT"),
        ({"key": "payments", "user": world.other_admin.id, "roles": ["VIEWER"]}, "NOT_FOUND"),
        ({"key": "nope", "user": world.dev.id, "roles": ["VIEWER"]}, "NOT_FOUND"),
    ):  # fmt: skip
        body = await api(ASSIGN, variables, as_=world.admin)
        assert user_error_codes(body, "assignProjectRole") == [code], (variables, body)
    body = await api(REMOVE, {"key": "payments", "user": world.dev.id}, as_=world.admin)
    assert user_error_codes(body, "removeProjectMember") == ["NOT_MEMBER"]
    body = await api(
        ASSIGN, {"key": "payments", "user": world.dev.id, "roles": ["VIEWER"]}, as_=world.dev
    )
    assert user_error_codes(body, "assignProjectRole") == ["NOT_FOUND"]  # not theirs to see
    assert await state(services) == before


# --- a principal or role that goes away takes its project grants along ---------------------------

MEMBERS = """
query($key: String!) {
  project(key: $key) { members { totalCount edges { roles node { __typename } } } }
}"""


async def test_delete_group_removes_its_project_memberships(
    api: Api, world: World, services: Services
) -> None:
    """R30/R35: a deleted group's project roles go with it, so no later group (the database
    may reuse an id) can inherit them."""
    await _project(api, world)
    group = await create_group(api, world.admin, "payments-team", [world.dev])
    variables = {"key": "payments", "group": group["id"], "roles": ["DEVELOPER"]}
    payload(await api(ASSIGN, variables, as_=world.admin), "assignProjectRole")
    assert await _allowed(api, world.dev, "WRITE", "PROD")
    body = await api(DELETE_GROUP, {"id": group["id"]}, as_=world.admin)
    assert payload(body, "deleteGroup")["errors"] == []
    assert not await _allowed(api, world.dev, "WRITE", "PROD")
    body = await api(MEMBERS, {"key": "payments"}, as_=world.admin)
    assert body["data"]["project"]["members"]["totalCount"] == 0
    async with services.db.session() as session:
        left = await session.execute(text("SELECT COUNT(*) FROM project_members"))
        assert left.scalar_one() == 0


async def test_delete_user_removes_their_project_memberships(
    api: Api, world: World, services: Services
) -> None:
    """R6: a deleted user's access goes at once, project roles included."""
    await _project(api, world)
    variables = {"key": "payments", "user": world.dev.id, "roles": ["DEVELOPER"]}
    payload(await api(ASSIGN, variables, as_=world.admin), "assignProjectRole")
    body = await api(DELETE_USER, {"id": world.dev.id}, as_=world.admin)
    assert payload(body, "deleteUser")["errors"] == []
    body = await api(MEMBERS, {"key": "payments"}, as_=world.admin)
    assert body["data"]["project"]["members"]["totalCount"] == 0


async def test_delete_project_role_takes_it_from_members(
    api: Api, world: World, services: Services
) -> None:
    """R29: a deleted role leaves no id behind in members' role lists, so a role created later
    (which may get the same id) is not silently held by them."""
    await _lead_developer(api, world)
    variables = {"key": "payments", "user": world.dev.id, "roles": ["VIEWER", "Lead Developer"]}
    payload(await api(ASSIGN, variables, as_=world.admin), "assignProjectRole")
    assert await _allowed(api, world.dev, "DELETE", "DEV")
    body = await api(DELETE_ROLE, {"key": "payments", "name": "Lead Developer"}, as_=world.admin)
    assert payload(body, "deleteProjectRole")["errors"] == []
    assert not await _allowed(api, world.dev, "DELETE", "DEV")
    body = await api(MEMBERS, {"key": "payments"}, as_=world.admin)
    assert [e["roles"] for e in body["data"]["project"]["members"]["edges"]] == [["VIEWER"]]
    async with services.db.session() as session:
        ids = await session.execute(text("SELECT project_role_ids FROM project_members"))
        assert [row[0] in ("[]", []) for row in ids] == [True]
    body = await api(
        CREATE_ROLE,
        {"input": {"projectKey": "payments", "name": "Cleaner", "actions": ["DELETE"]}},
        as_=world.admin,
    )
    assert payload(body, "createProjectRole")["errors"] == []
    assert not await _allowed(api, world.dev, "DELETE", "DEV")
