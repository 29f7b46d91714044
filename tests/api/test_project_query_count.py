"""STYLE 6 for projects (R27-R30): checkAccess on a project's resource and the project pages run
a constant number of SQL statements, whatever the number of members, roles and projects.

Bulk rows go straight into the tables through the models (a few use-case calls set the scene),
then the organization's access_version is bumped as every write of the app does, so the next
check rebuilds the access index from them.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from accessgraph.auth.access import ArtifactAction, mask
from accessgraph.models import (
    Group,
    GroupMember,
    PrincipalType,
    Project,
    ProjectMember,
    ProjectRole,
    TeamRole,
    User,
    UserStatus,
)
from accessgraph.resolvers.access_index import bump
from accessgraph.services import Services
from tests.conftest import Actor, Api, StatementCounter, World, payload

A = ArtifactAction
CREATE_PROJECT = """
mutation($key: String!) {
  createProject(input: {key: $key, name: "Alpha"}) { project { key } errors { code } }
}"""
CREATE_ROLE = """
mutation($input: CreateProjectRoleInput!) {
  createProjectRole(input: $input) { role { name } errors { code field } }
}"""
ASSIGN = """
mutation($key: String!, $user: ID, $group: ID, $roles: [String!]!) {
  assignProjectRole(input: {projectKey: $key, userId: $user, groupId: $group, roles: $roles}) {
    errors { code field }
  }
}"""
CREATE_GROUP = """
mutation($members: [ID!]!) {
  createGroup(input: {name: "Alpha team", memberIds: $members}) { group { id } errors { code } }
}"""
REGISTER = """
mutation {
  registerResource(input: {type: REPOSITORY, name: "alpha-repo", projectKey: "alpha",
                           environment: DEV}) {
    resource { name } errors { code }
  }
}"""
CHECK = """
query {
  checkAccess(input: {action: "WRITE", resourceType: REPOSITORY, resourceName: "alpha-repo"}) {
    allowed grants { source name action via }
  }
}"""
PROJECT_PAGE = """
query($key: String!) {
  project(key: $key) {
    key name
    viewerPermissions(environment: DEV) { resourceType actions }
    members(first: 50) {
      totalCount
      edges { roles node { __typename ... on User { email } ... on Group { name } } }
    }
    roles { name }
    globalRoles { name }
  }
}"""
PROJECT_LIST_FIELDS = {
    "members": "members(first: 5) { totalCount }",
    "roles": "roles { name }",
    "globalRoles": "globalRoles { name }",
}


def projects_page(fields: str) -> str:
    return "query { projects(first: 20) { nodes { key " + fields + " } } }"


# --- bulk rows ---------------------------------------------------------------------------------


async def _add_roles(services: Services, project_id: int, count: int, start: int = 0) -> list[int]:
    """`count` roles in the project, basic and advanced alternately; their ids."""
    now = services.clock.now()
    async with services.db.write() as session:
        roles = []
        for n in range(start, start + count):
            name = f"Bulk role {n}"
            advanced = n % 2 == 1
            roles.append(
                ProjectRole(
                    project_id=project_id,
                    name=name,
                    name_normalized=name.casefold(),
                    environments=["DEV"] if n % 3 else ["DEV", "PROD"],
                    advanced=advanced,
                    basic_actions=0 if advanced else mask([A.READ, A.ANNOTATE]),
                    advanced_actions=(
                        {"REPOSITORY": mask([A.READ]), "PIPELINE": mask([A.READ, A.TRIGGER])}
                        if advanced
                        else {}
                    ),
                    created_at=now,
                    updated_at=now,
                )
            )
        session.add_all(roles)
        await session.flush()
        return [role.id for role in roles if role.id is not None]


async def _add_members(
    services: Services,
    org_id: int,
    project_ids: list[int],
    *,
    users: int,
    groups: int,
    role_ids: dict[int, list[int]],
    tag: str,
) -> None:
    """`users` new users and `groups` new groups (each with one of the new users), all members
    of every project in `project_ids`, each holding a global role and one of that project's
    `role_ids`; then the organization's access_version is bumped."""
    now = services.clock.now()
    async with services.db.write() as session:
        new_users = [
            User(
                org_id=org_id,
                email=f"{tag}{n}@acme.test",
                email_normalized=f"{tag}{n}@acme.test",
                first_name="Bulk",
                last_name=f"{tag}{n}",
                role=TeamRole.DEVELOPER,
                status=UserStatus.ACTIVE,
                created_at=now,
            )
            for n in range(users)
        ]
        new_groups = [
            Group(
                org_id=org_id,
                name=f"{tag} group {n}",
                name_normalized=f"{tag} group {n}",
                created_at=now,
            )
            for n in range(groups)
        ]
        session.add_all([*new_users, *new_groups])
        await session.flush()
        for n, group in enumerate(new_groups):
            assert group.id is not None and new_users
            user_id = new_users[n % len(new_users)].id
            assert user_id is not None
            session.add(GroupMember(group_id=group.id, user_id=user_id, created_at=now))
        principals: list[tuple[PrincipalType, int | None]] = [
            (PrincipalType.USER, u.id) for u in new_users
        ] + [(PrincipalType.GROUP, g.id) for g in new_groups]
        for project_id in project_ids:
            roles = role_ids[project_id]
            for n, (kind, pk) in enumerate(principals):
                assert pk is not None
                session.add(
                    ProjectMember(
                        project_id=project_id,
                        principal_type=kind,
                        principal_id=pk,
                        global_roles=[("DEVELOPER", "VIEWER", "CONTRIBUTOR")[n % 3]],
                        project_role_ids=[roles[n % len(roles)]] if roles else [],
                        created_at=now,
                    )
                )
        await bump(session, org_id)


async def _add_projects(
    services: Services, org_id: int, count: int, start: int
) -> dict[int, list[int]]:
    """`count` projects (keys p<start>...), each with two roles; their role ids by project."""
    now = services.clock.now()
    async with services.db.write() as session:
        projects = [
            Project(org_id=org_id, key=f"p{n:03d}", name=f"Project {n}", created_at=now)
            for n in range(start, start + count)
        ]
        session.add_all(projects)
        await session.flush()
        ids = [p.id for p in projects if p.id is not None]
    return {pk: await _add_roles(services, pk, 2) for pk in ids}


async def _project_id(services: Services, key: str) -> int:
    async with services.db.session() as session:
        pk = await session.scalar(select(col(Project.id)).where(col(Project.key) == key))
    assert pk is not None
    return int(pk)


# --- counting ------------------------------------------------------------------------------------


async def _statements(
    api: Api, counter: StatementCounter, actor: Actor, query: str, variables: Any = None
) -> tuple[int, dict[str, Any]]:
    counter.statements.clear()
    body = await api(query, variables, as_=actor)
    assert not body.get("errors"), body
    return len(counter.statements), body["data"]


async def _alpha(api: Api, world: World) -> None:
    """Project alpha; its role Lead Developer (WRITE, DELETE in DEV); the developer holds it;
    repository alpha-repo is registered in alpha, DEV."""
    payload(await api(CREATE_PROJECT, {"key": "alpha"}, as_=world.admin), "createProject")
    role = {"projectKey": "alpha", "name": "Lead Developer", "actions": ["WRITE", "DELETE"]}
    body = await api(CREATE_ROLE, {"input": role}, as_=world.admin)
    assert payload(body, "createProjectRole")["errors"] == []
    body = await api(
        ASSIGN,
        {"key": "alpha", "user": world.dev.id, "roles": ["Lead Developer"]},
        as_=world.admin,
    )
    assert payload(body, "assignProjectRole")["errors"] == []
    assert payload(await api(REGISTER, as_=world.admin), "registerResource")["errors"] == []


# --- (a) checkAccess on a project's resource ------------------------------------------------------


async def test_check_access_in_a_project_statement_count_is_constant(
    api: Api, world: World, services: Services, count_statements: StatementCounter
) -> None:
    """1 member and 1 role, then 200 members (the developer also through a group) and 20
    roles: the same statements per check, cached index or rebuilt."""
    await _alpha(api, world)
    cold_small, _ = await _statements(api, count_statements, world.dev, CHECK)  # builds the index
    small, data = await _statements(api, count_statements, world.dev, CHECK)
    assert data["checkAccess"] == {
        "allowed": True,
        "grants": [
            {"source": "PROJECT_ROLE", "name": "Lead Developer", "action": "WRITE", "via": "user"}
        ],
    }

    alpha = await _project_id(services, "alpha")
    role_ids = await _add_roles(services, alpha, 19)
    await _add_members(
        services, world.org, [alpha], users=150, groups=48, role_ids={alpha: role_ids}, tag="m"
    )
    # The developer's group holds DEVELOPER (READ, WRITE in DEV and PROD) there too: the 200th.
    body = await api(CREATE_GROUP, {"members": [world.dev.id]}, as_=world.admin)
    group = payload(body, "createGroup")["group"]["id"]
    body = await api(
        ASSIGN, {"key": "alpha", "group": group, "roles": ["DEVELOPER"]}, as_=world.admin
    )
    assert payload(body, "assignProjectRole")["errors"] == []
    async with services.db.session() as session:
        members = (
            await session.execute(
                select(ProjectMember).where(col(ProjectMember.project_id) == alpha)
            )
        ).all()
        roles = (
            await session.execute(select(ProjectRole).where(col(ProjectRole.project_id) == alpha))
        ).all()
    assert (len(members), len(roles)) == (200, 20)

    cold_large, _ = await _statements(api, count_statements, world.dev, CHECK)
    large, data = await _statements(api, count_statements, world.dev, CHECK)
    assert data["checkAccess"]["allowed"] is True
    assert {"source": "PROJECT_ROLE", "name": "DEVELOPER", "action": "WRITE",
            "via": "group Alpha team"} in data["checkAccess"]["grants"]  # fmt: skip
    assert small == large, (small, large, count_statements.statements)
    assert cold_small == cold_large  # the index's rebuild does not grow either


# --- (b) the project pages ---------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["member", "admin"])
async def test_project_page_statement_count_is_constant(
    api: Api,
    world: World,
    services: Services,
    count_statements: StatementCounter,
    viewer: str,
) -> None:
    """3 members (two users, a group), then 60 (users and groups): the same statements."""
    await _alpha(api, world)
    alpha = await _project_id(services, "alpha")
    role_ids = {alpha: await _add_roles(services, alpha, 2, start=100)}
    await _add_members(services, world.org, [alpha], users=1, groups=1, role_ids=role_ids, tag="a")
    actor = world.dev if viewer == "member" else world.admin
    variables = {"key": "alpha"}
    await _statements(api, count_statements, actor, PROJECT_PAGE, variables)  # warm-up
    small, data = await _statements(api, count_statements, actor, PROJECT_PAGE, variables)
    members = data["project"]["members"]
    assert members["totalCount"] == 3
    assert {e["node"]["__typename"] for e in members["edges"]} == {"User", "Group"}

    await _add_members(
        services, world.org, [alpha], users=40, groups=17, role_ids=role_ids, tag="b"
    )
    await _statements(api, count_statements, actor, PROJECT_PAGE, variables)  # rebuilds
    large, data = await _statements(api, count_statements, actor, PROJECT_PAGE, variables)
    members = data["project"]["members"]
    assert members["totalCount"] == 60 and len(members["edges"]) == 50
    assert {e["node"]["__typename"] for e in members["edges"]} == {"User", "Group"}
    assert all(edge["roles"] for edge in members["edges"])
    assert len(data["project"]["roles"]) == 3 and len(data["project"]["globalRoles"]) == 5
    assert small == large, (small, large, count_statements.statements)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(" ".join(PROJECT_LIST_FIELDS.values()), id="all"),
        pytest.param(PROJECT_LIST_FIELDS["members"], id="members"),
        pytest.param(PROJECT_LIST_FIELDS["roles"], id="roles"),
        pytest.param(PROJECT_LIST_FIELDS["globalRoles"], id="globalRoles"),
    ],
)
@pytest.mark.parametrize("viewer", ["member", "admin"])
async def test_project_list_statement_count_is_constant(
    api: Api,
    world: World,
    services: Services,
    count_statements: StatementCounter,
    viewer: str,
    fields: str,
) -> None:
    """2 projects, then 12, each with members (the developer among them) and roles: the
    same statements for the list."""
    actor = world.dev if viewer == "member" else world.admin
    query = projects_page(fields)

    async def grow(count: int, start: int) -> None:
        role_ids = await _add_projects(services, world.org, count, start)
        ids = sorted(role_ids)
        await _add_members(
            services, world.org, ids, users=2, groups=1, role_ids=role_ids, tag=f"p{start}-"
        )
        async with services.db.write() as session:
            for pk in ids:
                session.add(
                    ProjectMember(
                        project_id=pk,
                        principal_type=PrincipalType.USER,
                        principal_id=world.dev.user_pk or 0,
                        global_roles=["VIEWER"],
                        project_role_ids=[],
                        created_at=services.clock.now(),
                    )
                )
            await bump(session, world.org)

    await grow(2, 0)
    await _statements(api, count_statements, actor, query)  # warm-up: builds the index
    small, data = await _statements(api, count_statements, actor, query)
    assert len(data["projects"]["nodes"]) == 2
    await grow(10, 2)
    await _statements(api, count_statements, actor, query)
    large, data = await _statements(api, count_statements, actor, query)
    nodes = data["projects"]["nodes"]
    assert len(nodes) == 12
    if "members" in fields:
        assert all(node["members"]["totalCount"] == 4 for node in nodes)
    assert small == large, (small, large, count_statements.statements)
