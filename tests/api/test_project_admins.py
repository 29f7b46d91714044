"""Project Admins (R27-R30): a user holding the PROJECT_ADMIN global role in a project (appointed
by a team admin, directly or through a group) administers that project, and only it: its roles,
its members other than Project Admins, and its own adjustments of the global roles (R28). A
project they are not a member of does not exist for them; only team admins appoint or remove
Project Admins. Every change is audited (R35)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from accessgraph.models import TeamRole, TokenPermission
from accessgraph.services import Services
from tests.conftest import (
    Actor,
    Api,
    Factory,
    World,
    assert_no_permission,
    database_state,
    error_codes,
    payload,
    user_error_codes,
)

CREATE_PROJECT = """
mutation($key: String!, $name: String!, $admins: [ID!]! = []) {
  createProject(input: {key: $key, name: $name, adminUserIds: $admins}) {
    project { id key members { edges { roles node { ... on User { email } } } } }
    errors { code message field }
  }
}"""
PROJECT = """
query($key: String!) {
  project(key: $key) {
    key viewerCanAdminister
    members { totalCount edges { roles node { __typename ... on User { email } ... on Group { name } } } }
    roles { name environments actions }
    globalRoles { name environments actions projectKey }
  }
}"""
PROJECTS = """
{ projects { totalCount nodes { key viewerCanAdminister } } }"""
NODE = """
query($id: ID!) { node(id: $id) { id ... on Project { key } } }"""
GLOBAL_ROLES = "{ globalRoles { name environments actions isDefault projectKey } }"
UPDATE_GLOBAL_ROLE = """
mutation($name: String!, $envs: [Environment!]!, $actions: [ArtifactAction!]!) {
  updateGlobalRole(input: {name: $name, environments: $envs, actions: $actions}) {
    globalRole { name environments actions projectKey } errors { code field }
  }
}"""
ADJUST = """
mutation($input: UpdateProjectGlobalRoleInput!) {
  updateProjectGlobalRole(input: $input) {
    globalRole { name environments actions projectKey } errors { code message field }
  }
}"""
RESET = """
mutation($input: ResetProjectGlobalRoleInput!) {
  resetProjectGlobalRole(input: $input) {
    globalRole { name environments actions projectKey } errors { code message field }
  }
}"""
CREATE_ROLE = """
mutation($input: CreateProjectRoleInput!) {
  createProjectRole(input: $input) {
    role { name environments mode actions } errors { code message field }
  }
}"""
UPDATE_ROLE = """
mutation($input: UpdateProjectRoleInput!) {
  updateProjectRole(input: $input) {
    role { name environments mode actions } errors { code message field }
  }
}"""
DELETE_ROLE = """
mutation($key: String!, $name: String!) {
  deleteProjectRole(input: {projectKey: $key, roleName: $name}) {
    deletedRoleName errors { code message field }
  }
}"""
ASSIGN = """
mutation($key: String!, $user: ID, $group: ID, $roles: [String!]!) {
  assignProjectRole(input: {projectKey: $key, userId: $user, groupId: $group, roles: $roles}) {
    project { key members { edges { roles node { ... on User { email } ... on Group { name } } } } }
    errors { code message field }
  }
}"""
REMOVE = """
mutation($key: String!, $user: ID, $group: ID) {
  removeProjectMember(input: {projectKey: $key, userId: $user, groupId: $group}) {
    project { key members { totalCount } } errors { code message field }
  }
}"""
CREATE_GROUP = """
mutation($name: String!, $members: [ID!]!) {
  createGroup(input: {name: $name, memberIds: $members}) { group { id } errors { code } }
}"""
UPDATE_GROUP_MEMBERS = """
mutation($group: ID!, $remove: [ID!]!) {
  updateGroupMembers(input: {groupId: $group, remove: $remove}) { group { id } errors { code } }
}"""
CHECK = """
query($action: String!, $key: String!, $env: Environment!) {
  checkAccess(input: {action: $action, resourceType: REPOSITORY, resourceName: "libs",
                      projectKey: $key, environment: $env}) {
    allowed grants { source name action via }
  }
}"""
AUDIT = """
query($action: String) {
  auditEvents(first: 20, filter: {action: $action}) {
    nodes { action actor { email } targetLabel before after }
  }
}"""

# The organization's settings of the global roles, as the root `globalRoles` shows them (R28).
ORG_ROLES = [
    {"name": "PROJECT_ADMIN", "environments": ["DEV", "PROD"],
     "actions": ["READ", "ANNOTATE", "WRITE", "DELETE", "MANAGE"], "isDefault": True,
     "projectKey": None},
    {"name": "DEVELOPER", "environments": ["DEV", "PROD"], "actions": ["READ", "WRITE"],
     "isDefault": True, "projectKey": None},
    {"name": "CONTRIBUTOR", "environments": ["DEV"], "actions": ["READ", "ANNOTATE", "WRITE"],
     "isDefault": True, "projectKey": None},
    {"name": "VIEWER", "environments": ["DEV", "PROD"], "actions": ["READ"], "isDefault": True,
     "projectKey": None},
    {"name": "RELEASE_MANAGER", "environments": ["DEV", "PROD"],
     "actions": ["READ", "ANNOTATE", "DISTRIBUTE"], "isDefault": True, "projectKey": None},
]  # fmt: skip
PROJECT_TABLES = (
    "projects",
    "global_role_settings",
    "project_global_roles",
    "project_roles",
    "project_members",
    "groups",
    "group_members",
)


async def state(services: Services) -> dict[str, Any]:
    snapshot: dict[str, Any] = await database_state(services)
    async with services.db.session() as session:
        for table in PROJECT_TABLES:
            rows = await session.execute(text(f"SELECT * FROM {table} ORDER BY 1, 2"))
            snapshot[table] = [tuple(row) for row in rows]
    return snapshot


# --- helpers ----------------------------------------------------------------------------------


async def _project(api: Api, world: World, key: str, admins: list[Actor] | None = None) -> str:
    """A project created by the team admin, with these Project Admins; returns its global ID."""
    variables = {"key": key, "name": key.title(), "admins": [a.id for a in admins or []]}
    result = payload(await api(CREATE_PROJECT, variables, as_=world.admin), "createProject")
    assert result["errors"] == [], result
    project_id: str = result["project"]["id"]
    return project_id


async def _ok(api: Api, actor: Actor, query: str, variables: dict[str, Any], field: str) -> Any:
    """Runs a mutation that must succeed; returns its payload."""
    result = payload(await api(query, variables, as_=actor), field)
    assert result["errors"] == [], result
    return result


async def _assign(api: Api, actor: Actor, key: str, member: Actor, roles: list[str]) -> None:
    variables = {"key": key, "user": member.id, "roles": roles}
    await _ok(api, actor, ASSIGN, variables, "assignProjectRole")


async def _group(api: Api, world: World, name: str, members: list[Actor]) -> str:
    variables = {"name": name, "members": [m.id for m in members]}
    result = await _ok(api, world.admin, CREATE_GROUP, variables, "createGroup")
    group_id: str = result["group"]["id"]
    return group_id


async def _project_view(api: Api, actor: Actor, key: str) -> Any:
    body = await api(PROJECT, {"key": key}, as_=actor)
    assert not body.get("errors"), body
    return body["data"]["project"]


async def _allowed(api: Api, actor: Actor, action: str, key: str, env: str) -> bool:
    body = await api(CHECK, {"action": action, "key": key, "env": env}, as_=actor)
    assert not body.get("errors"), body
    return bool(body["data"]["checkAccess"]["allowed"])


def _every_project_mutation(key: str, member: Actor) -> list[tuple[str, dict[str, Any], str]]:
    """One call of each mutation a Project Admin may make on project `key` (each would change
    something there: the project has a role QA, a DEVELOPER adjustment and `member`)."""
    return [
        (CREATE_ROLE, {"input": {"projectKey": key, "name": "Ops", "actions": ["READ"]}},
         "createProjectRole"),
        (UPDATE_ROLE, {"input": {"projectKey": key, "roleName": "QA", "actions": ["WRITE"]}},
         "updateProjectRole"),
        (DELETE_ROLE, {"key": key, "name": "QA"}, "deleteProjectRole"),
        (ASSIGN, {"key": key, "user": member.id, "roles": ["DEVELOPER"]}, "assignProjectRole"),
        (REMOVE, {"key": key, "user": member.id}, "removeProjectMember"),
        (ADJUST, {"input": {"projectKey": key, "name": "VIEWER", "environments": ["DEV"],
                            "actions": ["READ"]}}, "updateProjectGlobalRole"),
        (RESET, {"input": {"projectKey": key, "name": "DEVELOPER"}}, "resetProjectGlobalRole"),
    ]  # fmt: skip


async def _furnished(api: Api, world: World, key: str, member: Actor) -> None:
    """The team admin gives project `key` a role QA, a DEVELOPER adjustment and `member` as a
    VIEWER, so that every call of `_every_project_mutation` would change something."""
    role = {"input": {"projectKey": key, "name": "QA", "actions": ["READ"]}}
    await _ok(api, world.admin, CREATE_ROLE, role, "createProjectRole")
    adjust = {"projectKey": key, "name": "DEVELOPER", "environments": ["DEV"], "actions": ["READ"]}
    await _ok(api, world.admin, ADJUST, {"input": adjust}, "updateProjectGlobalRole")
    await _assign(api, world.admin, key, member, ["VIEWER"])


def _assert_only_admins(body: dict[str, Any], field: str) -> None:
    """R27: FORBIDDEN, saying that only admins appoint and remove Project Admins."""
    assert_no_permission(body, field)
    assert "Only admins" in body["errors"][0]["message"], body


# --- appointing Project Admins (R27) -----------------------------------------------------------


async def test_create_project_appoints_project_admins(
    api: Api, world: World, services: Services
) -> None:
    """R27: an admin appoints Project Admins when creating the project; they are members holding
    PROJECT_ADMIN and may administer it; a user of another organization cannot be appointed."""
    variables = {"key": "payments", "name": "Payments", "admins": [world.dev.id]}
    result = payload(await api(CREATE_PROJECT, variables, as_=world.admin), "createProject")
    assert result["errors"] == []
    assert result["project"]["members"]["edges"] == [
        {"roles": ["PROJECT_ADMIN"], "node": {"email": "dev@acme.test"}}
    ]
    view = await _project_view(api, world.dev, "payments")
    assert view["viewerCanAdminister"] is True
    body = await api(AUDIT, {"action": "project.create"}, as_=world.admin)
    assert body["data"]["auditEvents"]["nodes"][0]["after"] == {
        "key": "payments", "name": "Payments", "projectAdmins": ["dev@acme.test"],
    }  # fmt: skip
    before = await state(services)
    variables = {"key": "billing", "name": "Billing", "admins": [world.other_admin.id]}
    body = await api(CREATE_PROJECT, variables, as_=world.admin)
    assert payload(body, "createProject")["errors"] == [
        {"code": "NOT_FOUND", "message": "User not found.", "field": ["adminUserIds", "0"]}
    ]
    assert await state(services) == before


async def test_assign_project_role_by_admin_appoints_a_project_admin(
    api: Api, world: World
) -> None:
    """R27: an admin appoints a Project Admin of an existing project with assignProjectRole."""
    await _project(api, world, "billing")
    assert await _project_view(api, world.dev2, "billing") is None
    await _assign(api, world.admin, "billing", world.dev2, ["PROJECT_ADMIN"])
    view = await _project_view(api, world.dev2, "billing")
    assert view["viewerCanAdminister"] is True
    assert view["members"]["edges"] == [
        {"roles": ["PROJECT_ADMIN"], "node": {"__typename": "User", "email": "dev2@acme.test"}}
    ]
    role = {"input": {"projectKey": "billing", "name": "QA", "actions": ["READ"]}}
    await _ok(api, world.dev2, CREATE_ROLE, role, "createProjectRole")


# --- what a Project Admin may do in their project ----------------------------------------------


async def test_project_admin_creates_updates_and_deletes_project_roles(
    api: Api, world: World
) -> None:
    """R29: the project's Project Admin (a team DEVELOPER) manages its roles."""
    await _project(api, world, "payments", admins=[world.dev])
    role = {
        "projectKey": "payments",
        "name": "QA",
        "environments": ["DEV", "PROD"],
        "actions": ["READ", "ANNOTATE"],
    }
    result = await _ok(api, world.dev, CREATE_ROLE, {"input": role}, "createProjectRole")
    assert result["role"] == {
        "name": "QA", "environments": ["DEV", "PROD"], "mode": "BASIC",
        "actions": ["READ", "ANNOTATE"],
    }  # fmt: skip
    change = {
        "projectKey": "payments",
        "roleName": "qa",
        "name": "Testers",
        "environments": ["DEV"],
    }
    result = await _ok(api, world.dev, UPDATE_ROLE, {"input": change}, "updateProjectRole")
    assert result["role"] == {
        "name": "Testers", "environments": ["DEV"], "mode": "BASIC",
        "actions": ["READ", "ANNOTATE"],
    }  # fmt: skip
    assert (await _project_view(api, world.dev, "payments"))["roles"] == [
        {"name": "Testers", "environments": ["DEV"], "actions": ["READ", "ANNOTATE"]}
    ]
    variables = {"key": "payments", "name": "Testers"}
    result = await _ok(api, world.dev, DELETE_ROLE, variables, "deleteProjectRole")
    assert result["deletedRoleName"] == "Testers"
    assert (await _project_view(api, world.dev, "payments"))["roles"] == []


async def test_project_admin_assigns_and_removes_members(api: Api, world: World) -> None:
    """R30: the Project Admin assigns members roles other than PROJECT_ADMIN (global and the
    project's own), changes them and removes members who are not Project Admins."""
    await _project(api, world, "payments", admins=[world.dev])
    role = {"input": {"projectKey": "payments", "name": "QA", "actions": ["DELETE"]}}
    await _ok(api, world.dev, CREATE_ROLE, role, "createProjectRole")
    group = await _group(api, world, "Payments team", [world.dev2])
    variables = {"key": "payments", "user": world.dev2.id, "roles": ["VIEWER", "QA"]}
    result = await _ok(api, world.dev, ASSIGN, variables, "assignProjectRole")
    assert result["project"]["members"]["edges"] == [
        {"roles": ["PROJECT_ADMIN"], "node": {"email": "dev@acme.test"}},
        {"roles": ["VIEWER", "QA"], "node": {"email": "dev2@acme.test"}},
    ]
    assert await _allowed(api, world.dev2, "DELETE", "payments", "DEV") is True
    variables = {"key": "payments", "group": group, "roles": ["CONTRIBUTOR"]}
    await _ok(api, world.dev, ASSIGN, variables, "assignProjectRole")
    await _assign(api, world.dev, "payments", world.dev2, ["DEVELOPER"])
    edges = (await _project_view(api, world.dev, "payments"))["members"]["edges"]
    assert [(e["node"].get("email") or e["node"]["name"], e["roles"]) for e in edges] == [
        ("dev@acme.test", ["PROJECT_ADMIN"]),
        ("dev2@acme.test", ["DEVELOPER"]),
        ("Payments team", ["CONTRIBUTOR"]),
    ]
    assert await _allowed(api, world.dev2, "DELETE", "payments", "DEV") is False
    variables = {"key": "payments", "user": world.dev2.id}
    result = await _ok(api, world.dev, REMOVE, variables, "removeProjectMember")
    assert result["project"]["members"]["totalCount"] == 2
    result = await _ok(
        api, world.dev, REMOVE, {"key": "payments", "group": group}, "removeProjectMember"
    )
    assert result["project"]["members"]["totalCount"] == 1
    assert await _project_view(api, world.dev2, "payments") is None


async def test_project_admin_adjusts_and_resets_a_global_role(api: Api, world: World) -> None:
    """R28: the Project Admin adjusts a global role for their project, and resets it."""
    await _project(api, world, "payments", admins=[world.dev])
    adjust = {
        "projectKey": "payments",
        "name": "developer",
        "environments": ["PROD", "DEV"],
        "actions": ["READ", "ANNOTATE"],
    }
    result = await _ok(api, world.dev, ADJUST, {"input": adjust}, "updateProjectGlobalRole")
    assert result["globalRole"] == {
        "name": "DEVELOPER", "environments": ["DEV", "PROD"], "actions": ["READ", "ANNOTATE"],
        "projectKey": "payments",
    }  # fmt: skip
    reset = {"projectKey": "payments", "name": "DEVELOPER"}
    result = await _ok(api, world.dev, RESET, {"input": reset}, "resetProjectGlobalRole")
    assert result["globalRole"] == {
        "name": "DEVELOPER", "environments": ["DEV", "PROD"], "actions": ["READ", "WRITE"],
        "projectKey": None,
    }  # fmt: skip
    roles = (await _project_view(api, world.dev, "payments"))["globalRoles"]
    assert all(role["projectKey"] is None for role in roles)
    # The organization's setting, and new projects, stay the team admins' (R27, R28).
    variables = {"name": "DEVELOPER", "envs": ["DEV"], "actions": ["READ"]}
    assert_no_permission(
        await api(UPDATE_GLOBAL_ROLE, variables, as_=world.dev), "updateGlobalRole"
    )
    variables = {"key": "billing", "name": "Billing", "admins": [world.dev.id]}
    assert_no_permission(await api(CREATE_PROJECT, variables, as_=world.dev), "createProject")


# --- ...and nowhere else ------------------------------------------------------------------------


async def test_project_admin_on_a_project_they_are_not_member_of_is_not_found(
    api: Api, world: World, services: Services
) -> None:
    """R27: to the Project Admin of payments, billing (where they are not a member) answers
    every administration exactly like a project that does not exist; nothing changes."""
    await _project(api, world, "payments", admins=[world.dev])
    await _project(api, world, "billing")
    await _furnished(api, world, "billing", world.dev2)
    before = await state(services)
    missing = _every_project_mutation("nope", world.dev2)
    for (query, variables, field), (_, absent, _) in zip(
        _every_project_mutation("billing", world.dev2), missing, strict=True
    ):
        hidden = payload(await api(query, variables, as_=world.dev), field)["errors"]
        unknown = payload(await api(query, absent, as_=world.dev), field)["errors"]
        assert [e["code"] for e in hidden] == ["NOT_FOUND"], (field, hidden)
        assert hidden[0]["field"] == ["projectKey"], (field, hidden)
        assert hidden == [
            {**e, "message": e["message"].replace("nope", "billing")} for e in unknown
        ]
    assert await state(services) == before
    assert await _project_view(api, world.dev, "billing") is None


async def test_project_admin_on_a_project_where_they_are_viewer_is_forbidden(
    api: Api, world: World, services: Services
) -> None:
    """R27: the Project Admin of payments who is only a VIEWER in billing sees billing but may
    not administer it: every administration is FORBIDDEN; nothing changes."""
    await _project(api, world, "payments", admins=[world.dev])
    await _project(api, world, "billing")
    await _furnished(api, world, "billing", world.dev2)
    await _assign(api, world.admin, "billing", world.dev, ["VIEWER"])
    view = await _project_view(api, world.dev, "billing")
    assert view["key"] == "billing" and view["viewerCanAdminister"] is False
    before = await state(services)
    for query, variables, field in _every_project_mutation("billing", world.dev2):
        assert_no_permission(await api(query, variables, as_=world.dev), field)
    assert await state(services) == before


async def test_projects_of_another_organization_are_out_of_reach(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R1: Globex's projects (one with the same key as Acme's) are never seen nor changed by
    Acme's admin or Project Admin; a change by Acme's Project Admin lands in Acme's project."""
    acme_payments = await _project(api, world, "payments", admins=[world.dev])
    for key in ("payments", "ledger"):
        variables = {"key": key, "name": "Globex " + key}
        result = await _ok(api, world.other_admin, CREATE_PROJECT, variables, "createProject")
        globex_id = result["project"]["id"]
        role = {"input": {"projectKey": key, "name": "QA", "actions": ["READ"]}}
        await _ok(api, world.other_admin, CREATE_ROLE, role, "createProjectRole")
    globex_member = await factory.member(world.other_org, "dev@globex.test", TeamRole.DEVELOPER)
    await _assign(api, world.other_admin, "ledger", globex_member, ["VIEWER"])
    globex_before = await _project_view(api, world.other_admin, "payments")
    # Acme's Project Admin: "payments" is Acme's; "ledger" does not exist for them.
    role = {"input": {"projectKey": "payments", "name": "QA", "actions": ["WRITE"]}}
    await _ok(api, world.dev, CREATE_ROLE, role, "createProjectRole")
    assert await _project_view(api, world.other_admin, "payments") == globex_before
    before = await state(services)
    for actor in (world.dev, world.admin):
        for query, variables, field in _every_project_mutation("ledger", globex_member):
            body = await api(query, variables, as_=actor)
            assert user_error_codes(body, field) == ["NOT_FOUND"], (actor.name, field, body)
        assert await _project_view(api, actor, "ledger") is None
        body = await api(NODE, {"id": globex_id}, as_=actor)
        assert body["data"] == {"node": None}, body
    assert await state(services) == before
    body = await api(PROJECTS, as_=world.admin)
    assert body["data"]["projects"]["nodes"] == [{"key": "payments", "viewerCanAdminister": True}]
    # ...and Globex's admin does not see Acme's project through its ID either.
    body = await api(NODE, {"id": acme_payments}, as_=world.other_admin)
    assert body["data"] == {"node": None}


# --- only team admins appoint or remove Project Admins (R27) -------------------------------------


async def test_project_admin_cannot_appoint_or_remove_project_admins(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R27: a Project Admin may not give PROJECT_ADMIN (to a user or a group), take it from a
    member's roles (their own included) nor remove a member holding it (themselves included):
    FORBIDDEN, "Only admins ..."; nothing changes."""
    await _project(api, world, "payments", admins=[world.dev, world.dev2])
    dev3 = await factory.member(world.org, "dev3@acme.test", TeamRole.DEVELOPER, "developer 3")
    group = await _group(api, world, "Leads", [dev3])
    await _assign(api, world.dev, "payments", dev3, ["VIEWER"])
    before = await state(services)
    attempts: list[tuple[str, dict[str, Any], str]] = [
        (ASSIGN, {"key": "payments", "user": dev3.id, "roles": ["VIEWER", "PROJECT_ADMIN"]},
         "assignProjectRole"),
        (ASSIGN, {"key": "payments", "user": dev3.id, "roles": ["project admin"]},
         "assignProjectRole"),
        (ASSIGN, {"key": "payments", "group": group, "roles": ["PROJECT_ADMIN"]},
         "assignProjectRole"),
        (ASSIGN, {"key": "payments", "user": world.dev2.id, "roles": ["DEVELOPER"]},
         "assignProjectRole"),
        (ASSIGN, {"key": "payments", "user": world.dev.id, "roles": ["DEVELOPER"]},
         "assignProjectRole"),
        (REMOVE, {"key": "payments", "user": world.dev2.id}, "removeProjectMember"),
        (REMOVE, {"key": "payments", "user": world.dev.id}, "removeProjectMember"),
    ]  # fmt: skip
    for query, variables, field in attempts:
        _assert_only_admins(await api(query, variables, as_=world.dev), field)
    assert await state(services) == before
    # A team admin does all of it.
    for query, variables, field in attempts:
        await _ok(api, world.admin, query, variables, field)
    view = await _project_view(api, world.admin, "payments")
    assert [
        (e["node"].get("email") or e["node"]["name"], e["roles"]) for e in view["members"]["edges"]
    ] == [
        ("dev3@acme.test", ["PROJECT_ADMIN"]),
        ("Leads", ["PROJECT_ADMIN"]),
    ]
    assert await _project_view(api, world.dev, "payments") is None


async def test_project_admin_through_a_group_until_removed_from_it(
    api: Api, world: World, services: Services
) -> None:
    """R27/R30: a group holding PROJECT_ADMIN makes its members Project Admins of the project;
    a member taken out of the group loses it on the very next request."""
    await _project(api, world, "payments")
    group = await _group(api, world, "Payments leads", [world.dev2])
    variables = {"key": "payments", "group": group, "roles": ["PROJECT_ADMIN"]}
    await _ok(api, world.admin, ASSIGN, variables, "assignProjectRole")
    assert (await _project_view(api, world.dev2, "payments"))["viewerCanAdminister"] is True
    role = {"input": {"projectKey": "payments", "name": "QA", "actions": ["READ"]}}
    await _ok(api, world.dev2, CREATE_ROLE, role, "createProjectRole")
    await _assign(api, world.dev2, "payments", world.dev, ["VIEWER", "QA"])
    # The group's own PROJECT_ADMIN is not the group member's to take away.
    body = await api(REMOVE, {"key": "payments", "group": group}, as_=world.dev2)
    _assert_only_admins(body, "removeProjectMember")
    body = await api(
        UPDATE_GROUP_MEMBERS, {"group": group, "remove": [world.dev2.id]}, as_=world.admin
    )
    assert payload(body, "updateGroupMembers")["errors"] == []
    before = await state(services)
    role = {"input": {"projectKey": "payments", "name": "Ops", "actions": ["READ"]}}
    body = await api(CREATE_ROLE, role, as_=world.dev2)
    assert user_error_codes(body, "createProjectRole") == ["NOT_FOUND"]
    assert await _project_view(api, world.dev2, "payments") is None
    assert await state(services) == before


# --- visibility ----------------------------------------------------------------------------------


async def test_projects_lists_only_the_members_projects(
    api: Api, world: World, factory: Factory
) -> None:
    """R27/R30: a developer sees the projects where they or one of their groups is a member
    (admins: all); `project(key)` and `node(id)` are null for a non-member; a member sees its
    members, roles and global roles; `viewerCanAdminister` is for admins and its Project
    Admins."""
    payments = await _project(api, world, "payments", admins=[world.dev])
    billing = await _project(api, world, "billing")
    ledger = await _project(api, world, "ledger")
    group = await _group(api, world, "Billing team", [world.dev2])
    variables = {"key": "billing", "group": group, "roles": ["VIEWER"]}
    await _ok(api, world.admin, ASSIGN, variables, "assignProjectRole")
    role = {"input": {"projectKey": "billing", "name": "QA", "actions": ["READ"]}}
    await _ok(api, world.admin, CREATE_ROLE, role, "createProjectRole")
    outsider = await factory.member(world.org, "dev3@acme.test", TeamRole.DEVELOPER)

    async def listed(actor: Actor) -> list[tuple[str, bool]]:
        body = await api(PROJECTS, as_=actor)
        assert not body.get("errors"), body
        nodes = body["data"]["projects"]["nodes"]
        assert body["data"]["projects"]["totalCount"] == len(nodes)
        return sorted((n["key"], n["viewerCanAdminister"]) for n in nodes)

    assert await listed(world.admin) == [("billing", True), ("ledger", True), ("payments", True)]
    assert await listed(world.dev) == [("payments", True)]
    assert await listed(world.dev2) == [("billing", False)]
    assert await listed(outsider) == []
    ids = {"payments": payments, "billing": billing, "ledger": ledger}
    seen = {world.dev.name: {"payments"}, world.dev2.name: {"billing"}, outsider.name: set()}
    for actor in (world.dev, world.dev2, outsider):
        for key, project_id in ids.items():
            visible = key in seen[actor.name]
            view = await _project_view(api, actor, key)
            assert (view is not None) is visible, (actor.name, key)
            body = await api(NODE, {"id": project_id}, as_=actor)
            expected = {"id": project_id, "key": key} if visible else None
            assert body["data"] == {"node": expected}, (actor.name, key, body)
    view = await _project_view(api, world.dev2, "billing")
    assert view["members"] == {
        "totalCount": 1,
        "edges": [{"roles": ["VIEWER"], "node": {"__typename": "Group", "name": "Billing team"}}],
    }
    assert view["roles"] == [{"name": "QA", "environments": ["DEV"], "actions": ["READ"]}]
    assert view["globalRoles"] == [
        {k: v for k, v in r.items() if k != "isDefault"} for r in ORG_ROLES
    ]


async def test_read_only_token_of_a_project_admin_reads_and_changes_nothing(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R14: a READ_ONLY token of the Project Admin reads the project; every project mutation is
    FORBIDDEN and changes nothing."""
    await _project(api, world, "payments", admins=[world.dev])
    await _furnished(api, world, "payments", world.dev2)
    read_only = await factory.token(world.dev, TokenPermission.READ_ONLY)
    view = await _project_view(api, read_only, "payments")
    assert view["key"] == "payments"
    assert view["viewerCanAdminister"] is False
    assert view["members"]["totalCount"] == 2
    assert [r["name"] for r in view["roles"]] == ["QA"]
    before = await state(services)
    for query, variables, field in _every_project_mutation("payments", world.dev2):
        assert_no_permission(await api(query, variables, as_=read_only), field)
    assert await state(services) == before
    # A READ_WRITE token of the same Project Admin administers the project.
    read_write = await factory.token(world.dev, TokenPermission.READ_WRITE, "ci")
    assert (await _project_view(api, read_write, "payments"))["viewerCanAdminister"] is True
    for query, variables, field in _every_project_mutation("payments", world.dev2):
        await _ok(api, read_write, query, variables, field)


# --- per-project global roles (R28) ------------------------------------------------------------


async def test_update_project_global_role_changes_rights_in_that_project_only(
    api: Api, world: World
) -> None:
    """R28: a Project Admin's adjustment of DEVELOPER holds for DEVELOPER members of that
    project only; `Project.globalRoles` shows it (projectKey set); the organization's roles are
    unchanged; an org-wide edit does not override the adjustment; a reset brings the
    organization's setting back."""
    await _project(api, world, "payments", admins=[world.dev])
    await _project(api, world, "billing")
    for key in ("payments", "billing"):
        await _assign(api, world.admin, key, world.dev2, ["DEVELOPER"])
    assert await _allowed(api, world.dev2, "WRITE", "payments", "PROD") is True
    adjust = {
        "projectKey": "payments",
        "name": "DEVELOPER",
        "environments": ["DEV"],
        "actions": ["READ"],
    }
    await _ok(api, world.dev, ADJUST, {"input": adjust}, "updateProjectGlobalRole")
    expected = {
        ("READ", "payments", "DEV"): True, ("READ", "payments", "PROD"): False,
        ("WRITE", "payments", "DEV"): False, ("WRITE", "payments", "PROD"): False,
        ("READ", "billing", "PROD"): True, ("WRITE", "billing", "PROD"): True,
    }  # fmt: skip
    for (action, key, env), allowed in expected.items():
        assert await _allowed(api, world.dev2, action, key, env) is allowed, (action, key, env)
    body = await api(CHECK, {"action": "READ", "key": "payments", "env": "DEV"}, as_=world.dev2)
    assert body["data"]["checkAccess"]["grants"] == [
        {"source": "PROJECT_ROLE", "name": "DEVELOPER", "action": "READ", "via": "user"}
    ]
    roles = (await _project_view(api, world.dev2, "payments"))["globalRoles"]
    assert [(r["name"], r["projectKey"]) for r in roles] == [
        ("PROJECT_ADMIN", None), ("DEVELOPER", "payments"), ("CONTRIBUTOR", None),
        ("VIEWER", None), ("RELEASE_MANAGER", None),
    ]  # fmt: skip
    assert roles[1] == {
        "name": "DEVELOPER",
        "environments": ["DEV"],
        "actions": ["READ"],
        "projectKey": "payments",
    }
    roles = (await _project_view(api, world.dev2, "billing"))["globalRoles"]
    assert all(r["projectKey"] is None for r in roles) and roles[1]["actions"] == ["READ", "WRITE"]
    assert (await api(GLOBAL_ROLES, as_=world.dev))["data"]["globalRoles"] == ORG_ROLES
    # An org-wide edit reaches billing, not payments' adjustment.
    body = await api(
        UPDATE_GLOBAL_ROLE,
        {"name": "DEVELOPER", "envs": ["DEV", "PROD"], "actions": ["READ", "WRITE", "DELETE"]},
        as_=world.admin,
    )
    assert payload(body, "updateGlobalRole")["errors"] == []
    assert await _allowed(api, world.dev2, "DELETE", "billing", "PROD") is True
    assert await _allowed(api, world.dev2, "DELETE", "payments", "DEV") is False
    assert await _allowed(api, world.dev2, "READ", "payments", "PROD") is False
    roles = (await _project_view(api, world.dev2, "payments"))["globalRoles"]
    assert roles[1] == {
        "name": "DEVELOPER",
        "environments": ["DEV"],
        "actions": ["READ"],
        "projectKey": "payments",
    }
    reset = {"projectKey": "payments", "name": "DEVELOPER"}
    result = await _ok(api, world.dev, RESET, {"input": reset}, "resetProjectGlobalRole")
    assert result["globalRole"] == {
        "name": "DEVELOPER", "environments": ["DEV", "PROD"],
        "actions": ["READ", "WRITE", "DELETE"], "projectKey": None,
    }  # fmt: skip
    assert await _allowed(api, world.dev2, "DELETE", "payments", "PROD") is True
    roles = (await _project_view(api, world.dev2, "payments"))["globalRoles"]
    assert all(r["projectKey"] is None for r in roles)


async def test_update_project_global_role_bad_input_changes_nothing(
    api: Api, world: World, services: Services
) -> None:
    """R28: global roles cannot be added (an unknown name is NOT_FOUND); an adjustment needs
    environments and basic actions (device permissions are per type, R32)."""
    await _project(api, world, "payments", admins=[world.dev])
    before = await state(services)
    for name, envs, actions, code, field in (
        ("LEAD_DEVELOPER", ["DEV"], ["READ"], "NOT_FOUND", ["name"]),
        ("DEVELOPER", [], ["READ"], "NO_ENVIRONMENTS", ["environments"]),
        ("DEVELOPER", ["DEV"], [], "NO_ACTIONS", ["actions"]),
        ("DEVELOPER", ["DEV"], ["READ", "REGISTER_DEVICES"], "ACTION_NOT_SUPPORTED", ["actions"]),
    ):
        adjust = {"projectKey": "payments", "name": name, "environments": envs, "actions": actions}
        body = await api(ADJUST, {"input": adjust}, as_=world.dev)
        errors = payload(body, "updateProjectGlobalRole")["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)], (name, body)
    body = await api(RESET, {"input": {"projectKey": "payments", "name": "LEAD"}}, as_=world.dev)
    assert user_error_codes(body, "resetProjectGlobalRole") == ["NOT_FOUND"]
    # Resetting a role that was not adjusted changes nothing, and says what holds.
    reset = {"projectKey": "payments", "name": "VIEWER"}
    result = await _ok(api, world.dev, RESET, {"input": reset}, "resetProjectGlobalRole")
    assert result["globalRole"]["projectKey"] is None
    assert await state(services) == before


# --- audit (R35) ---------------------------------------------------------------------------------


async def test_project_admin_changes_are_audited(api: Api, world: World) -> None:
    """R35: a Project Admin's adjustments, resets and member assignments are audited with them
    as the actor, before and after."""
    await _project(api, world, "payments", admins=[world.dev])
    await _assign(api, world.dev, "payments", world.dev2, ["VIEWER"])
    adjust = {
        "projectKey": "payments",
        "name": "VIEWER",
        "environments": ["DEV"],
        "actions": ["READ", "ANNOTATE"],
    }
    await _ok(api, world.dev, ADJUST, {"input": adjust}, "updateProjectGlobalRole")
    reset = {"projectKey": "payments", "name": "VIEWER"}
    await _ok(api, world.dev, RESET, {"input": reset}, "resetProjectGlobalRole")

    async def events(action: str) -> list[dict[str, Any]]:
        body = await api(AUDIT, {"action": action}, as_=world.admin)
        assert not body.get("errors"), body
        nodes: list[dict[str, Any]] = body["data"]["auditEvents"]["nodes"]
        return nodes

    assert await events("global_role.adjust") == [
        {
            "action": "global_role.adjust",
            "actor": {"email": "dev@acme.test"},
            "targetLabel": "payments/VIEWER",
            "before": {"environments": ["DEV", "PROD"], "actions": ["READ"]},
            "after": {"environments": ["DEV"], "actions": ["READ", "ANNOTATE"]},
        }
    ]
    assert await events("global_role.reset") == [
        {
            "action": "global_role.reset",
            "actor": {"email": "dev@acme.test"},
            "targetLabel": "payments/VIEWER",
            "before": {"environments": ["DEV"], "actions": ["READ", "ANNOTATE"]},
            "after": {"environments": ["DEV", "PROD"], "actions": ["READ"]},
        }
    ]
    [assigned] = await events("project.member_assign")
    assert assigned["actor"] == {"email": "dev@acme.test"}
    assert assigned["targetLabel"] == "payments: dev2@acme.test"
    assert assigned["before"] is None
    assert assigned["after"] == {"globalRoles": ["VIEWER"], "projectRoleIds": []}
    # Refused changes write nothing (the developer does not read the log at all).
    body = await api(
        ASSIGN,
        {"key": "payments", "user": world.dev2.id, "roles": ["PROJECT_ADMIN"]},
        as_=world.dev,
    )
    _assert_only_admins(body, "assignProjectRole")
    assert len(await events("project.member_assign")) == 1
    body = await api(AUDIT, {"action": None}, as_=world.dev)
    assert error_codes(body) == ["FORBIDDEN"]
