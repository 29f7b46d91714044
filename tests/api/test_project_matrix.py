"""Projects, table-driven (R27-R30, R32, R34): for every role a member may hold, every
environment, every project resource type and every action of that type, `checkAccess` and
`Project.viewerPermissions` give exactly what a small hand-written table of the roles says.

The expectations are computed here from that table (what R28's defaults and R29's basic and
advanced modes mean), never from the code's compiled roles; the per-type action lists are
written out too and checked once against the code's tables. Many checks go in one GraphQL
document (aliases), so the whole matrix costs a few dozen requests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from accessgraph.auth.access import (
    BASIC_ACTIONS,
    DEVICE_ACTIONS,
    PROJECT_ACTIONS_BY_TYPE,
    ArtifactAction,
    actions_for_type,
)
from accessgraph.auth.projects import GLOBAL_ROLE_DEFAULTS
from accessgraph.models import TokenPermission
from tests.conftest import Actor, Api, Factory, World, error_codes, payload, user_error_codes

# --- the hand-written table ---------------------------------------------------------------------

ENVIRONMENTS = ("DEV", "PROD")
BOTH = frozenset(ENVIRONMENTS)
DEV_ONLY = frozenset({"DEV"})
PROD_ONLY = frozenset({"PROD"})
_ARTIFACT = ("READ", "ANNOTATE", "WRITE", "DELETE", "MANAGE")
# R32, in the spec's order.
_DEVICE = (
    "MANAGE_GROUPS",
    "MODIFY_DEVICES",
    "REMOTE_CONTROL",
    "DEPLOY_UPDATES",
    "RUN_COMMANDS",
    "REGISTER_DEVICES",
    "VIEW_DEVICE_LOGS",
    "CREATE_UPDATES",
    "MANAGE_COMMANDS",
    "MANAGE_DATA_MONITOR",
    "MANAGE_ALERTS",
    "MODIFY_ENGINE_SETTINGS",
    "MANAGE_PROCESS_MONITOR",
)
# R24/R29/R32: the actions that exist for each resource type a project holds.
ACTIONS_OF: Mapping[str, tuple[str, ...]] = {
    "REPOSITORY": _ARTIFACT,
    "BUILD": _ARTIFACT,
    "RELEASE_BUNDLE": (*_ARTIFACT, "DISTRIBUTE"),
    "PIPELINE": ("READ", "TRIGGER", "MANAGE"),
    "DEVICE": _DEVICE,
}
PROJECT_TYPES = tuple(ACTIONS_OF)
EVERY_ACTION = tuple(a.value for a in ArtifactAction)


@dataclass(frozen=True)
class Role:
    """A role as the spec describes it: environments, and basic actions (every type where the
    action exists) or advanced ones (per type)."""

    name: str
    environments: frozenset[str]
    basic: frozenset[str] = frozenset()
    advanced: Mapping[str, frozenset[str]] | None = None
    is_global: bool = False

    def allows(self, environment: str, kind: str, action: str) -> bool:
        if environment not in self.environments:
            return False
        if self.advanced is not None:
            return action in self.advanced.get(kind, frozenset())
        return action in self.basic and action in ACTIONS_OF[kind]

    def create_input(self, project_key: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "projectKey": project_key,
            "name": self.name,
            "environments": sorted(self.environments),
        }
        if self.advanced is not None:
            data["advancedActions"] = [
                {"resourceType": kind, "actions": sorted(actions)}
                for kind, actions in self.advanced.items()
            ]
        else:
            data["actions"] = sorted(self.basic)
        return data


# R28: the global roles' defaults (documented in accessgraph/auth/projects.py).
GLOBAL_ROLES = (
    Role("PROJECT_ADMIN", BOTH, frozenset(_ARTIFACT), is_global=True),
    Role("DEVELOPER", BOTH, frozenset({"READ", "WRITE"}), is_global=True),
    Role("CONTRIBUTOR", DEV_ONLY, frozenset({"READ", "ANNOTATE", "WRITE"}), is_global=True),
    Role("VIEWER", BOTH, frozenset({"READ"}), is_global=True),
    Role("RELEASE_MANAGER", BOTH, frozenset({"READ", "ANNOTATE", "DISTRIBUTE"}), is_global=True),
)
# R29: project roles of the matrix project, basic and advanced.
RELEASE_OPS = Role("Release Ops", PROD_ONLY, frozenset({"READ", "DELETE"}))
SHIPPER = Role("Shipper", DEV_ONLY, frozenset({"ANNOTATE", "TRIGGER", "DISTRIBUTE"}))
DEVICE_LEAD = Role(
    "Device Lead",
    BOTH,
    advanced={
        "REPOSITORY": frozenset({"READ", "WRITE"}),
        "PIPELINE": frozenset({"READ", "TRIGGER"}),
        "DEVICE": frozenset({"REGISTER_DEVICES", "VIEW_DEVICE_LOGS"}),
    },
)
PROJECT_ROLES = (RELEASE_OPS, SHIPPER, DEVICE_LEAD)
ROLES = (*GLOBAL_ROLES, *PROJECT_ROLES)
ROLE = {role.name: role for role in ROLES}


def expected_grants(
    held: Iterable[tuple[Role, str]], environment: str, kind: str, action: str
) -> list[dict[str, str]]:
    """The PROJECT_ROLE grants that allow `action`, from the roles held (each with its "via")."""
    return sorted(
        (
            {"source": "PROJECT_ROLE", "name": role.name, "action": action, "via": via}
            for role, via in held
            if role.allows(environment, kind, action)
        ),
        key=_grant_key,
    )


def expected_permissions(held: Iterable[tuple[Role, str]], environment: str) -> dict[str, set[str]]:
    roles = [role for role, _ in held]
    return {
        kind: {a for a in ACTIONS_OF[kind] if any(r.allows(environment, kind, a) for r in roles)}
        for kind in PROJECT_TYPES
    }


def _grant_key(grant: Mapping[str, str]) -> tuple[str, ...]:
    return (grant["source"], grant["name"], grant["action"], grant["via"])


# --- GraphQL ----------------------------------------------------------------------------------

CREATE_PROJECT = """
mutation($key: String!, $name: String!) {
  createProject(input: {key: $key, name: $name}) { project { key } errors { code } }
}"""
CREATE_ROLE = """
mutation($input: CreateProjectRoleInput!) {
  createProjectRole(input: $input) {
    role { name environments mode actions advancedActions { resourceType actions } }
    errors { code field }
  }
}"""
UPDATE_ROLE = """
mutation($input: UpdateProjectRoleInput!) {
  updateProjectRole(input: $input) { role { name mode } errors { code field } }
}"""
ASSIGN = """
mutation($key: String!, $user: ID, $group: ID, $roles: [String!]!) {
  assignProjectRole(input: {projectKey: $key, userId: $user, groupId: $group, roles: $roles}) {
    project { members { edges { roles node { ... on User { email } ... on Group { name } } } } }
    errors { code field }
  }
}"""
VIEWER_PERMISSIONS = """
query($key: String!, $env: Environment!) {
  project(key: $key) { viewerPermissions(environment: $env) { resourceType actions } }
}"""
CREATE_GROUP = """
mutation($name: String!, $members: [ID!]!) {
  createGroup(input: {name: $name, memberIds: $members}) { group { id } errors { code } }
}"""
UPDATE_GROUP_MEMBERS = """
mutation($id: ID!, $add: [ID!]!, $remove: [ID!]!) {
  updateGroupMembers(input: {groupId: $id, add: $add, remove: $remove}) { errors { code } }
}"""
REGISTER = """
mutation($input: RegisterResourceInput!) {
  registerResource(input: $input) {
    resource { type name environment projectKey }
    errors { code message field }
  }
}"""
PROJECT_RESOURCES = """
query($key: String!) {
  project(key: $key) {
    resources(first: 50) { totalCount nodes { type name environment projectKey } }
  }
}"""
CHECK = """
query($input: CheckAccessInput!) {
  checkAccess(input: $input) { allowed grants { source name action via } }
}"""
CREATE_TARGET = """
mutation($input: CreatePermissionTargetInput!) {
  createPermissionTarget(input: $input) { permissionTarget { id } errors { code } }
}"""
DECISION_FIELDS = "allowed grants { source name action via }"
BATCH = 30  # aliases per document: the server allows 30


@dataclass
class Answer:
    """One checkAccess of a batch: the decision, or the top-level error."""

    decision: dict[str, Any] | None
    code: str | None = None
    message: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


async def check_many(api: Api, actor: Actor, inputs: Sequence[dict[str, Any]]) -> list[Answer]:
    """Every input asked in documents of at most BATCH aliased checkAccess fields."""
    answers: list[Answer] = []
    for start in range(0, len(inputs), BATCH):
        chunk = inputs[start : start + BATCH]
        params = ", ".join(f"$i{n}: CheckAccessInput!" for n in range(len(chunk)))
        fields = " ".join(
            f"a{n}: checkAccess(input: $i{n}) {{ {DECISION_FIELDS} }}" for n in range(len(chunk))
        )
        variables = {f"i{n}": data for n, data in enumerate(chunk)}
        body = await api(f"query Matrix({params}) {{ {fields} }}", variables, as_=actor)
        assert body.get("data") is not None, body
        errors = {e["path"][0]: e for e in body.get("errors") or [] if e.get("path")}
        assert len(errors) == len(body.get("errors") or []), body  # every error has its alias
        for n in range(len(chunk)):
            error = errors.get(f"a{n}")
            if error is not None:
                assert body["data"][f"a{n}"] is None, body
                code = error.get("extensions", {}).get("code", "")
                answers.append(Answer(None, code, error.get("message", ""), body))
            else:
                answers.append(Answer(body["data"][f"a{n}"], raw=body))
    return answers


def check_input(
    kind: str, action: str, name: str, key: str | None = None, env: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"action": action, "resourceType": kind, "resourceName": name}
    if key is not None:
        data["projectKey"] = key
    if env is not None:
        data["environment"] = env
    return data


def matrix_inputs(key: str, environment: str) -> list[dict[str, Any]]:
    """Every valid (type, action) of the project in one environment."""
    return [
        check_input(kind, action, f"{kind.lower()}-one", key, environment)
        for kind in PROJECT_TYPES
        for action in ACTIONS_OF[kind]
    ]


def normalized(decision: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "allowed": decision["allowed"],
        "grants": sorted(decision["grants"], key=_grant_key),
    }


async def assert_matrix(
    api: Api, actor: Actor, key: str, held: Sequence[tuple[Role, str]], label: str
) -> None:
    """checkAccess for every environment x type x action equals the table's answer."""
    for environment in ENVIRONMENTS:
        inputs = matrix_inputs(key, environment)
        answers = await check_many(api, actor, inputs)
        mismatches = []
        for data, answer in zip(inputs, answers, strict=True):
            assert answer.decision is not None, (label, data, answer.code, answer.message)
            grants = expected_grants(held, environment, data["resourceType"], data["action"])
            wanted = {"allowed": bool(grants), "grants": grants}
            got = normalized(answer.decision)
            if got != wanted:
                mismatches.append((environment, data["resourceType"], data["action"], got, wanted))
        assert not mismatches, (label, mismatches)


async def viewer_permissions(api: Api, actor: Actor, key: str, env: str) -> dict[str, set[str]]:
    """Project.viewerPermissions as {type: actions}; every project type, types absent = none."""
    body = await api(VIEWER_PERMISSIONS, {"key": key, "env": env}, as_=actor)
    assert not body.get("errors"), body
    assert body["data"]["project"] is not None, body
    rows = body["data"]["project"]["viewerPermissions"]
    kinds = [row["resourceType"] for row in rows]
    assert len(kinds) == len(set(kinds)) and set(kinds) <= set(PROJECT_TYPES), rows
    held = {row["resourceType"]: row["actions"] for row in rows}
    for actions in held.values():
        assert len(actions) == len(set(actions)), rows
    return {kind: set(held.get(kind, [])) for kind in PROJECT_TYPES}


async def create_project(api: Api, world: World, key: str) -> None:
    body = await api(CREATE_PROJECT, {"key": key, "name": key.title()}, as_=world.admin)
    assert payload(body, "createProject")["errors"] == [], body


async def create_roles(api: Api, world: World, key: str, roles: Iterable[Role]) -> None:
    for role in roles:
        body = await api(CREATE_ROLE, {"input": role.create_input(key)}, as_=world.admin)
        assert payload(body, "createProjectRole")["errors"] == [], (role.name, body)


async def assign(
    api: Api,
    world: World,
    key: str,
    roles: Sequence[str],
    *,
    user: Actor | None = None,
    group: str | None = None,
) -> list[dict[str, Any]]:
    variables = {
        "key": key,
        "user": user.id if user else None,
        "group": group,
        "roles": list(roles),
    }
    result = payload(await api(ASSIGN, variables, as_=world.admin), "assignProjectRole")
    assert result["errors"] == [], result
    edges: list[dict[str, Any]] = result["project"]["members"]["edges"]
    return edges


async def create_group(api: Api, world: World, name: str, members: Sequence[Actor]) -> str:
    body = await api(
        CREATE_GROUP, {"name": name, "members": [m.id for m in members]}, as_=world.admin
    )
    result = payload(body, "createGroup")
    assert result["errors"] == [], result
    group_id: str = result["group"]["id"]
    return group_id


# --- the tables agree with the code's (so the matrix covers what exists) -----------------------


def test_hand_written_tables_match_the_code() -> None:
    """R24/R29/R32: the action lists per type, and R28's defaults, as the code declares them;
    device permissions are never basic actions."""
    assert {k.value: tuple(a.value for a in v) for k, v in PROJECT_ACTIONS_BY_TYPE.items()} == (
        ACTIONS_OF
    )
    assert tuple(a.value for a in DEVICE_ACTIONS) == _DEVICE
    assert {a.value for a in BASIC_ACTIONS} == set(EVERY_ACTION) - set(_DEVICE)
    for kind in PROJECT_ACTIONS_BY_TYPE:
        assert tuple(a.value for a in actions_for_type(kind)) == ACTIONS_OF[kind.value]
    defaults = {
        role.value: (
            {e.value for e in rights.environments},
            {a.value for a in ArtifactAction if rights.actions & a.bit},
        )
        for role, rights in GLOBAL_ROLE_DEFAULTS.items()
    }
    assert defaults == {r.name: (set(r.environments), set(r.basic)) for r in GLOBAL_ROLES}


# --- 1. checkAccess: role x environment x type x action (R28-R30, R34) -------------------------


async def test_check_access_matrix_for_every_role(api: Api, world: World) -> None:
    """R28-R30/R34: world.dev (a team DEVELOPER with no other grant) holds one role at a time;
    for each, every environment x project type x action is allowed exactly where the table
    says, through one PROJECT_ROLE grant via "user". Reassigning replaces the role set."""
    await create_project(api, world, "matrix")
    await create_roles(api, world, "matrix", PROJECT_ROLES)
    # Before any role: nothing at all.
    await assert_matrix(api, world.dev, "matrix", [], "no role")
    for role in ROLES:
        edges = await assign(api, world, "matrix", [role.name], user=world.dev)
        assert edges == [{"roles": [role.name], "node": {"email": "dev@acme.test"}}], edges
        await assert_matrix(api, world.dev, "matrix", [(role, "user")], role.name)
    # Several roles at once: the union, one grant per role that allows (R30).
    several = [ROLE["DEVELOPER"], RELEASE_OPS, SHIPPER]
    await assign(api, world, "matrix", [r.name for r in several], user=world.dev)
    await assert_matrix(api, world.dev, "matrix", [(r, "user") for r in several], "union")
    # Another member of the organization holds nothing through world.dev's roles.
    await assert_matrix(api, world.dev2, "matrix", [], "dev2")


async def test_check_access_action_not_of_the_type_is_bad_input(api: Api, world: World) -> None:
    """R24/R29: an action that does not exist for the type (TRIGGER on a repository, DISTRIBUTE
    on a build, READ on a device, ...) or an unknown action is a BAD_USER_INPUT error, not a
    silent "no"; the valid checks of the same document still answer."""
    await create_project(api, world, "matrix")
    await assign(api, world, "matrix", ["PROJECT_ADMIN"], user=world.dev)
    invalid = [
        check_input(kind, action, "thing", "matrix", "DEV")
        for kind in PROJECT_TYPES
        for action in EVERY_ACTION
        if action not in ACTIONS_OF[kind]
    ]
    invalid.append(check_input("REPOSITORY", "FLY", "thing", "matrix", "DEV"))
    valid = check_input("REPOSITORY", "READ", "thing", "matrix", "DEV")
    answers = await check_many(api, world.dev, [valid, *invalid])
    assert answers[0].decision is not None and answers[0].decision["allowed"] is True
    wrong = [
        (data["resourceType"], data["action"], answer.code)
        for data, answer in zip(invalid, answers[1:], strict=True)
        if answer.code != "BAD_USER_INPUT"
    ]
    assert not wrong, wrong
    by_case = {
        (d["resourceType"], d["action"]): a for d, a in zip(invalid, answers[1:], strict=True)
    }
    for kind, action in (
        ("REPOSITORY", "TRIGGER"),
        ("BUILD", "DISTRIBUTE"),
        ("DEVICE", "READ"),
        ("PIPELINE", "WRITE"),
        ("RELEASE_BUNDLE", "RUN_COMMANDS"),
    ):
        assert by_case[kind, action].code == "BAD_USER_INPUT"
        assert action in by_case[kind, action].message, by_case[kind, action].message


# --- 2. Project.viewerPermissions agrees with checkAccess ---------------------------------------


async def test_viewer_permissions_equal_the_matrix_for_every_role(api: Api, world: World) -> None:
    """Project.viewerPermissions(environment) lists, per type, exactly the actions checkAccess
    allows for the same role, environment and type (the console never offers what the
    registry refuses)."""
    await create_project(api, world, "matrix")
    await create_roles(api, world, "matrix", PROJECT_ROLES)
    for role in ROLES:
        await assign(api, world, "matrix", [role.name], user=world.dev)
        for environment in ENVIRONMENTS:
            held = await viewer_permissions(api, world.dev, "matrix", environment)
            assert held == expected_permissions([(role, "user")], environment), (
                role.name,
                environment,
            )
    # And the same thing, asked of checkAccess for the last role, row by row.
    last = ROLES[-1]
    for environment in ENVIRONMENTS:
        inputs = matrix_inputs("matrix", environment)
        answers = await check_many(api, world.dev, inputs)
        allowed: dict[str, set[str]] = {kind: set() for kind in PROJECT_TYPES}
        for data, answer in zip(inputs, answers, strict=True):
            assert answer.decision is not None, answer
            if answer.decision["allowed"]:
                allowed[data["resourceType"]].add(data["action"])
        assert allowed == await viewer_permissions(api, world.dev, "matrix", environment)
        assert allowed == expected_permissions([(last, "user")], environment)


async def test_viewer_permissions_of_admin_and_read_only_token(
    api: Api, world: World, factory: Factory
) -> None:
    """A team ADMIN holds every action of every type in both environments; a READ_ONLY token
    of a member holds READ at most (R14), whatever the member's roles; checkAccess agrees."""
    await create_project(api, world, "matrix")
    await create_roles(api, world, "matrix", [DEVICE_LEAD])
    every = {kind: set(ACTIONS_OF[kind]) for kind in PROJECT_TYPES}
    for environment in ENVIRONMENTS:
        assert await viewer_permissions(api, world.admin, "matrix", environment) == every
    answers = await check_many(api, world.admin, matrix_inputs("matrix", "PROD"))
    assert all(a.decision is not None and a.decision["allowed"] for a in answers), answers
    assert answers[0].decision is not None
    assert answers[0].decision["grants"] == [
        {"source": "TEAM_ROLE", "name": "ADMIN", "action": "READ", "via": "user"}
    ]

    read_only = await factory.token(world.dev, TokenPermission.READ_ONLY)
    for roles in (["PROJECT_ADMIN"], ["CONTRIBUTOR"], ["Device Lead", "RELEASE_MANAGER"]):
        await assign(api, world, "matrix", roles, user=world.dev)
        held = [(ROLE[name], "user") for name in roles]
        for environment in ENVIRONMENTS:
            full = expected_permissions(held, environment)
            capped = {kind: full[kind] & {"READ"} for kind in PROJECT_TYPES}
            assert await viewer_permissions(api, read_only, "matrix", environment) == capped, (
                roles,
                environment,
            )
            assert await viewer_permissions(api, world.dev, "matrix", environment) == full
            inputs = matrix_inputs("matrix", environment)
            answers = await check_many(api, read_only, inputs)
            for data, answer in zip(inputs, answers, strict=True):
                assert answer.decision is not None, answer
                kind, action = data["resourceType"], data["action"]
                assert answer.decision["allowed"] is (action in capped[kind]), (roles, data)
    read_only_admin = await factory.token(world.admin, TokenPermission.READ_ONLY)
    reads = {kind: set(ACTIONS_OF[kind]) & {"READ"} for kind in PROJECT_TYPES}
    assert await viewer_permissions(api, read_only_admin, "matrix", "DEV") == reads


# --- 3. roles through groups (R30) ---------------------------------------------------------------


async def test_group_roles_add_to_direct_roles(api: Api, world: World) -> None:
    """R30: a group's roles hold for its members, listed via "group <name>"; a member's rights
    are the union of direct and group roles (VIEWER directly + CONTRIBUTOR through the group:
    WRITE in DEV only); leaving the group takes its roles away at once."""
    await create_project(api, world, "matrix")
    await create_roles(api, world, "matrix", [DEVICE_LEAD])
    group = await create_group(api, world, "Platform team", [world.dev])
    edges = await assign(api, world, "matrix", ["CONTRIBUTOR"], group=group)
    assert edges == [{"roles": ["CONTRIBUTOR"], "node": {"name": "Platform team"}}]
    await assign(api, world, "matrix", ["VIEWER"], user=world.dev)
    via_group = "group Platform team"
    held = [(ROLE["VIEWER"], "user"), (ROLE["CONTRIBUTOR"], via_group)]
    await assert_matrix(api, world.dev, "matrix", held, "viewer + group contributor")
    for environment in ENVIRONMENTS:
        assert await viewer_permissions(
            api, world.dev, "matrix", environment
        ) == expected_permissions(held, environment)
    answers = await check_many(
        api,
        world.dev,
        [
            check_input("REPOSITORY", "WRITE", "libs", "matrix", "DEV"),
            check_input("REPOSITORY", "WRITE", "libs", "matrix", "PROD"),
            check_input("REPOSITORY", "READ", "libs", "matrix", "DEV"),
        ],
    )
    assert [a.decision for a in answers] == [
        {
            "allowed": True,
            "grants": [
                {
                    "source": "PROJECT_ROLE",
                    "name": "CONTRIBUTOR",
                    "action": "WRITE",
                    "via": via_group,
                }
            ],
        },
        {"allowed": False, "grants": []},
        {
            "allowed": True,
            "grants": [
                {"source": "PROJECT_ROLE", "name": "VIEWER", "action": "READ", "via": "user"},
                {
                    "source": "PROJECT_ROLE",
                    "name": "CONTRIBUTOR",
                    "action": "READ",
                    "via": via_group,
                },
            ],
        },
    ]

    # An admin asking about the group itself: its own roles, through itself.
    body = await api(
        CHECK,
        {
            "input": {
                **check_input("REPOSITORY", "WRITE", "libs", "matrix", "DEV"),
                "groupId": group,
            }
        },
        as_=world.admin,
    )
    assert not error_codes(body), body
    assert body["data"]["checkAccess"] == answers[0].decision

    # A group holding an advanced role: its members get the device permissions too.
    await assign(api, world, "matrix", ["CONTRIBUTOR", "Device Lead"], group=group)
    held = [(ROLE["VIEWER"], "user"), (ROLE["CONTRIBUTOR"], via_group), (DEVICE_LEAD, via_group)]
    await assert_matrix(api, world.dev, "matrix", held, "viewer + group contributor/device lead")

    # dev2 joins the group: the group's roles only; dev leaves it: the direct role only.
    body = await api(
        UPDATE_GROUP_MEMBERS,
        {"id": group, "add": [world.dev2.id], "remove": [world.dev.id]},
        as_=world.admin,
    )
    assert payload(body, "updateGroupMembers")["errors"] == []
    await assert_matrix(
        api,
        world.dev2,
        "matrix",
        [(ROLE["CONTRIBUTOR"], via_group), (DEVICE_LEAD, via_group)],
        "dev2 through the group",
    )
    await assert_matrix(api, world.dev, "matrix", [(ROLE["VIEWER"], "user")], "dev alone")


# --- 4. resources registered in a project (R27, R30, R34) ---------------------------------------


async def register(
    api: Api, world: World, kind: str, name: str, key: str | None = None, env: str | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": kind, "name": name}
    if key is not None:
        data["projectKey"] = key
    if env is not None:
        data["environment"] = env
    return await api(REGISTER, {"input": data}, as_=world.admin)


async def test_registered_resources_place_checks_in_their_project(api: Api, world: World) -> None:
    """R27/R34: a resource registered in a project and environment is asked about by name alone
    (what a registry knows); its project's roles apply in its environment. Contradicting the
    registration is a clear error; a project key without an environment defaults to DEV."""
    await create_project(api, world, "payments")
    await create_project(api, world, "billing")
    for kind, name, env in (
        ("REPOSITORY", "payments-libs", "PROD"),
        ("BUILD", "payments-build", None),
        ("RELEASE_BUNDLE", "payments-bundle", "PROD"),
        ("PIPELINE", "payments-ci", "DEV"),
    ):
        result = payload(
            await register(api, world, kind, name, "payments", env), "registerResource"
        )
        assert result["errors"] == [], result
        assert result["resource"] == {
            "type": kind,
            "name": name,
            "environment": env or "DEV",
            "projectKey": "payments",
        }
    outside = payload(await register(api, world, "REPOSITORY", "shared-libs"), "registerResource")
    assert outside["resource"]["projectKey"] is None and outside["errors"] == []

    # Refusals: nothing registered.
    for args, code in (
        (("PIPELINE", "loose-ci", None, None), "UNSUPPORTED_RESOURCE_TYPE"),
        (("DESTINATION", "edge-1", "payments", "DEV"), "UNSUPPORTED_RESOURCE_TYPE"),
        (("DEVICE", "sensor-1", "payments", "DEV"), "UNSUPPORTED_RESOURCE_TYPE"),
        (("REPOSITORY", "other-libs", "nope", "DEV"), "NOT_FOUND"),
        (("REPOSITORY", "payments-libs", "payments", "PROD"), "RESOURCE_EXISTS"),
        (("REPOSITORY", "payments-libs", "billing", "DEV"), "RESOURCE_EXISTS"),
        (("REPOSITORY", "shared-libs", "billing", None), "RESOURCE_EXISTS"),
    ):
        body = await register(api, world, *args)
        assert user_error_codes(body, "registerResource") == [code], (args, body)
    body = await api(PROJECT_RESOURCES, {"key": "payments"}, as_=world.admin)
    resources = body["data"]["project"]["resources"]
    assert resources["totalCount"] == 4
    assert sorted((n["type"], n["name"], n["environment"]) for n in resources["nodes"]) == [
        ("BUILD", "payments-build", "DEV"),
        ("PIPELINE", "payments-ci", "DEV"),
        ("RELEASE_BUNDLE", "payments-bundle", "PROD"),
        ("REPOSITORY", "payments-libs", "PROD"),
    ]
    assert {n["projectKey"] for n in resources["nodes"]} == {"payments"}
    body = await api(PROJECT_RESOURCES, {"key": "billing"}, as_=world.admin)
    assert body["data"]["project"]["resources"] == {"totalCount": 0, "nodes": []}

    # CONTRIBUTOR (DEV only) in payments: the registration's environment decides.
    await assign(api, world, "payments", ["CONTRIBUTOR"], user=world.dev)
    contributor = [
        {"source": "PROJECT_ROLE", "name": "CONTRIBUTOR", "action": a, "via": "user"}
        for a in ("WRITE", "READ")
    ]
    cases: list[tuple[dict[str, Any], dict[str, Any] | str]] = [
        # by name alone
        (check_input("BUILD", "WRITE", "payments-build"), {"allowed": True, "grants": [contributor[0]]}),
        (check_input("PIPELINE", "READ", "payments-ci"), {"allowed": True, "grants": [contributor[1]]}),
        (check_input("REPOSITORY", "WRITE", "payments-libs"), {"allowed": False, "grants": []}),
        (check_input("REPOSITORY", "READ", "payments-libs"), {"allowed": False, "grants": []}),
        (check_input("RELEASE_BUNDLE", "READ", "payments-bundle"), {"allowed": False, "grants": []}),
        # consistent with the registration: the same answers
        (check_input("BUILD", "WRITE", "payments-build", "payments", "DEV"),
         {"allowed": True, "grants": [contributor[0]]}),
        (check_input("BUILD", "WRITE", "payments-build", "payments"),
         {"allowed": True, "grants": [contributor[0]]}),
        (check_input("REPOSITORY", "READ", "payments-libs", None, "PROD"),
         {"allowed": False, "grants": []}),
        # contradicting it: errors naming the registration
        (check_input("REPOSITORY", "READ", "payments-libs", "payments", "DEV"), "BAD_USER_INPUT"),
        (check_input("REPOSITORY", "READ", "payments-libs", None, "DEV"), "BAD_USER_INPUT"),
        (check_input("REPOSITORY", "READ", "payments-libs", "billing", "PROD"), "BAD_USER_INPUT"),
        (check_input("BUILD", "READ", "payments-build", "billing"), "BAD_USER_INPUT"),
        # not registered in a project: the project roles do not apply by name alone
        (check_input("REPOSITORY", "READ", "shared-libs"), {"allowed": False, "grants": []}),
        (check_input("REPOSITORY", "READ", "unknown-libs"), {"allowed": False, "grants": []}),
        # unregistered, placed by the input
        (check_input("REPOSITORY", "READ", "unknown-libs", "payments", "DEV"),
         {"allowed": True, "grants": [contributor[1]]}),
        (check_input("REPOSITORY", "READ", "unknown-libs", "payments"), "BAD_USER_INPUT"),
        (check_input("REPOSITORY", "READ", "unknown-libs", "nope", "DEV"), "NOT_FOUND"),
    ]  # fmt: skip
    answers = await check_many(api, world.dev, [data for data, _ in cases])
    for (data, wanted), answer in zip(cases, answers, strict=True):
        if isinstance(wanted, str):
            assert answer.code == wanted, (data, answer.code, answer.decision)
        else:
            assert answer.decision is not None, (data, answer.code, answer.message)
            assert normalized(answer.decision) == wanted, (data, answer.decision)
    contradictions = [a for (_, w), a in zip(cases, answers, strict=True) if w == "BAD_USER_INPUT"]
    for answer in contradictions[:3]:
        assert "payments" in answer.message and "PROD" in answer.message, answer.message
    assert "payments" in contradictions[3].message and "DEV" in contradictions[3].message
    assert "environment" in contradictions[4].message, contradictions[4].message


# --- 5. device permissions: advanced mode only (R29, R32) -----------------------------------------


async def test_device_actions_only_in_advanced_mode(api: Api, world: World) -> None:
    """R32: device permissions are granted by project roles on resource type DEVICE (advanced
    mode): as basic actions they are refused, READ does not exist for devices, and a role with
    RUN_COMMANDS on DEVICE grants exactly that, on devices only, in its environments only."""
    await create_project(api, world, "matrix")
    for data, code in (
        ({"name": "Bad", "actions": ["REGISTER_DEVICES"]}, "ACTION_NOT_SUPPORTED"),
        ({"name": "Bad", "actions": ["READ", "RUN_COMMANDS"]}, "ACTION_NOT_SUPPORTED"),
        ({"name": "Bad", "advancedActions": [{"resourceType": "DEVICE", "actions": ["READ"]}]},
         "ACTION_NOT_SUPPORTED"),
        ({"name": "Bad", "advancedActions": [{"resourceType": "REPOSITORY",
                                              "actions": ["RUN_COMMANDS"]}]},
         "ACTION_NOT_SUPPORTED"),
    ):  # fmt: skip
        body = await api(CREATE_ROLE, {"input": {"projectKey": "matrix", **data}}, as_=world.admin)
        assert user_error_codes(body, "createProjectRole") == [code], (data, body)
    operator = Role("Operator", PROD_ONLY, advanced={"DEVICE": frozenset({"RUN_COMMANDS"})})
    body = await api(CREATE_ROLE, {"input": operator.create_input("matrix")}, as_=world.admin)
    assert payload(body, "createProjectRole")["role"] == {
        "name": "Operator",
        "environments": ["PROD"],
        "mode": "ADVANCED",
        "actions": [],
        "advancedActions": [{"resourceType": "DEVICE", "actions": ["RUN_COMMANDS"]}],
    }
    # Switching it to basic with a device action is refused too; the role is unchanged.
    body = await api(
        UPDATE_ROLE,
        {"input": {"projectKey": "matrix", "roleName": "Operator", "actions": ["RUN_COMMANDS"]}},
        as_=world.admin,
    )
    assert user_error_codes(body, "updateProjectRole") == ["ACTION_NOT_SUPPORTED"]
    await assign(api, world, "matrix", ["Operator"], user=world.dev)
    await assert_matrix(api, world.dev, "matrix", [(operator, "user")], "operator")
    assert await viewer_permissions(api, world.dev, "matrix", "PROD") == {
        **{kind: set() for kind in PROJECT_TYPES},
        "DEVICE": {"RUN_COMMANDS"},
    }
    assert await viewer_permissions(api, world.dev, "matrix", "DEV") == {
        kind: set() for kind in PROJECT_TYPES
    }
    [on_repository] = await check_many(
        api, world.dev, [check_input("REPOSITORY", "RUN_COMMANDS", "libs", "matrix", "PROD")]
    )
    assert on_repository.code == "BAD_USER_INPUT"


# --- 6. permission targets and project roles together (R24, R30, R34) ------------------------


async def test_permission_target_and_project_role_both_listed(api: Api, world: World) -> None:
    """R34: on a resource of a project that a permission target also covers, every grant that
    allows the action is listed: the target's (in any environment) and the project role's
    (in the role's environments)."""
    await create_project(api, world, "payments")
    body = await register(api, world, "REPOSITORY", "payments-libs", "payments", "PROD")
    assert payload(body, "registerResource")["errors"] == []
    target = {
        "name": "payments-repos",
        "resources": [{"type": "REPOSITORY", "includePatterns": ["payments-*"]}],
        "grants": [
            {"principalType": "USER", "userId": world.dev.id, "actions": ["READ", "ANNOTATE"]}
        ],
    }
    body = await api(CREATE_TARGET, {"input": target}, as_=world.admin)
    assert payload(body, "createPermissionTarget")["errors"] == []
    await assign(api, world, "payments", ["VIEWER", "CONTRIBUTOR"], user=world.dev)

    def grant(source: str, name: str, action: str) -> dict[str, str]:
        return {"source": source, "name": name, "action": action, "via": "user"}

    cases = [
        (check_input("REPOSITORY", "READ", "payments-libs"),
         [grant("PERMISSION_TARGET", "payments-repos", "READ"),
          grant("PROJECT_ROLE", "VIEWER", "READ")]),
        # CONTRIBUTOR holds ANNOTATE in DEV only; the resource is in PROD: the target alone.
        (check_input("REPOSITORY", "ANNOTATE", "payments-libs"),
         [grant("PERMISSION_TARGET", "payments-repos", "ANNOTATE")]),
        (check_input("REPOSITORY", "WRITE", "payments-libs"), []),
        # An unregistered resource placed in DEV: all three grants for READ.
        (check_input("REPOSITORY", "READ", "payments-tools", "payments", "DEV"),
         [grant("PERMISSION_TARGET", "payments-repos", "READ"),
          grant("PROJECT_ROLE", "VIEWER", "READ"),
          grant("PROJECT_ROLE", "CONTRIBUTOR", "READ")]),
        (check_input("REPOSITORY", "WRITE", "payments-tools", "payments", "DEV"),
         [grant("PROJECT_ROLE", "CONTRIBUTOR", "WRITE")]),
    ]  # fmt: skip
    answers = await check_many(api, world.dev, [data for data, _ in cases])
    for (data, grants), answer in zip(cases, answers, strict=True):
        assert answer.decision is not None, (data, answer.code, answer.message)
        assert normalized(answer.decision) == {
            "allowed": bool(grants),
            "grants": sorted(grants, key=_grant_key),
        }, data
    sources = {g["source"] for g in answers[0].decision["grants"]} if answers[0].decision else set()
    assert sources == {"PERMISSION_TARGET", "PROJECT_ROLE"}
    # Asked by an admin about world.dev: the same grants.
    body = await api(
        CHECK,
        {"input": {**check_input("REPOSITORY", "READ", "payments-libs"), "userId": world.dev.id}},
        as_=world.admin,
    )
    assert not error_codes(body), body
    assert normalized(body["data"]["checkAccess"]) == normalized(answers[0].decision or {})


# --- destinations are not project resources (R24, R29) --------------------------------------------


async def test_project_roles_grant_nothing_on_destinations(api: Api, world: World) -> None:
    """R29: project roles cover REPOSITORY, BUILD, RELEASE_BUNDLE, PIPELINE and DEVICE; a
    destination (edge node, R24) is never in a project (registerResource refuses it, advanced
    roles refuse the type, viewerPermissions does not list it). Naming a project when asking
    about a destination must not make a project role grant it: a BAD_USER_INPUT error, or a
    denial with no PROJECT_ROLE grant."""
    await create_project(api, world, "matrix")
    await assign(api, world, "matrix", ["RELEASE_MANAGER", "PROJECT_ADMIN"], user=world.dev)
    inputs = [
        check_input("DESTINATION", action, "edge-1", "matrix", environment)
        for action in ("READ", "DISTRIBUTE", "MANAGE")
        for environment in ENVIRONMENTS
    ]
    answers = await check_many(api, world.dev, inputs)
    wrong = [
        (data["action"], data["environment"], answer.code, answer.decision)
        for data, answer in zip(inputs, answers, strict=True)
        if answer.code != "BAD_USER_INPUT"
    ]
    assert not wrong, wrong
