"""accessgraph.auth.policy on projects (R27-R30): seeing and administering a project decided on
a `ProjectResource`, project roles as grants on an `ArtifactResource` of the project (per
environment, per resource type, directly and through groups), and the caps above them (R1
another organization, R14 read-only tokens, subscription tokens, anonymous callers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from accessgraph.auth.access import (
    BASIC_ACTIONS,
    DEVICE_ACTIONS,
    AccessIndex,
    ArtifactAction,
    CompiledRole,
    PrincipalKey,
    actions_for_type,
    mask,
)
from accessgraph.auth.policy import (
    Action,
    ArtifactResource,
    Grant,
    ProjectResource,
    default_policy,
)
from accessgraph.auth.principal import Principal
from accessgraph.models.enums import (
    Environment,
    ManagePolicy,
    PrincipalType,
    ResourceType,
    TeamRole,
    TokenPermission,
)

A = ArtifactAction
RT = ResourceType
DEV, PROD = Environment.DEV, Environment.PROD
USER, GROUP = PrincipalType.USER, PrincipalType.GROUP
ORG, OTHER_ORG = 1, 2
PAY, WEB = 10, 11  # projects
ALICE, BOB, CAROL, DAN = 100, 101, 102, 103  # developers
LEADS = 50  # a group; Dan is in it

BOTH = frozenset({"DEV", "PROD"})
PROJECT_ADMIN = CompiledRole(
    "PROJECT_ADMIN", BOTH, mask([A.READ, A.ANNOTATE, A.WRITE, A.DELETE, A.MANAGE]), is_global=True
)
DEVELOPER = CompiledRole("DEVELOPER", BOTH, mask([A.READ, A.WRITE]), is_global=True)
LEAD = CompiledRole("Lead Developer", frozenset({"DEV"}), mask([A.WRITE, A.DELETE]))
DEVICES = CompiledRole(
    "Field Ops",
    frozenset({"PROD"}),
    advanced={"DEVICE": mask([A.REMOTE_CONTROL]), "PIPELINE": mask([A.TRIGGER])},
)
# A project role may not be named like a global role, but a stored name is no credential:
# only the global PROJECT_ADMIN role administers.
IMPOSTOR = CompiledRole("PROJECT_ADMIN", frozenset({"DEV"}), mask([A.READ]))


def index() -> AccessIndex:
    roles: dict[PrincipalKey, dict[int, tuple[CompiledRole, ...]]] = {
        (USER, ALICE): {PAY: (PROJECT_ADMIN,)},
        (USER, BOB): {PAY: (DEVELOPER, LEAD), WEB: (PROJECT_ADMIN,)},  # the seed's example (R30)
        (GROUP, LEADS): {PAY: (PROJECT_ADMIN, DEVICES)},
        (USER, CAROL): {WEB: (IMPOSTOR,)},
    }
    return AccessIndex(
        org_id=ORG,
        version=1,
        manage_policy=ManagePolicy.EXCLUDE_MANAGE,
        targets={},
        groups_of_user={DAN: frozenset({LEADS})},
        group_names={LEADS: "leads"},
        projects={"pay": PAY, "web": WEB},
        member_roles=roles,
    )


INDEX = index()
POLICY = default_policy()


def user(pk: int, role: TeamRole = TeamRole.DEVELOPER, org: int = ORG) -> Principal:
    return Principal(org_id=org, user_id=pk, role=role, email=f"{pk}@acme.test")


def project(pk: int, org: int = ORG) -> ProjectResource:
    return ProjectResource(org, pk, INDEX)


def resource(
    kind: ResourceType, env: Environment | None, key: str = "pay", name: str | None = "libs"
) -> ArtifactResource:
    return ArtifactResource(ORG, kind, name, INDEX, env, key)


# --- seeing and administering a project ---------------------------------------------------------

# (caller, project) -> (VIEW_PROJECT, ADMINISTER_PROJECT)
# fmt: off
PROJECT_MATRIX = {
    ("alice", PAY): (True, True),    # PROJECT_ADMIN directly
    ("alice", WEB): (False, False),  # Project Admin of A is nothing in B
    ("bob", PAY):   (True, False),   # member without PROJECT_ADMIN
    ("bob", WEB):   (True, True),
    ("carol", WEB): (True, False),   # a project role named PROJECT_ADMIN is not the global role
    ("carol", PAY): (False, False),
    ("dan", PAY):   (True, True),    # PROJECT_ADMIN through the group
    ("dan", WEB):   (False, False),
    ("admin", PAY): (True, True),    # team ADMIN: "Administer the Platform"
    ("admin", WEB): (True, True),
}
# fmt: on
CALLERS = {
    "alice": user(ALICE),
    "bob": user(BOB),
    "carol": user(CAROL),
    "dan": user(DAN),
    "admin": user(999, TeamRole.ADMIN),
}


@pytest.mark.parametrize(("who", "pk"), list(PROJECT_MATRIX))
def test_project_view_and_administer_follow_membership(who: str, pk: int) -> None:
    """R27/R30: members see their project; PROJECT_ADMIN holders and admins administer it."""
    view, administer = PROJECT_MATRIX[who, pk]
    principal = CALLERS[who]
    assert POLICY.decide(principal, Action.VIEW_PROJECT, project(pk)).allowed is view
    assert POLICY.decide(principal, Action.ADMINISTER_PROJECT, project(pk)).allowed is administer


def test_administer_project_grant_names_the_group_it_comes_through() -> None:
    decision = POLICY.decide(user(DAN), Action.ADMINISTER_PROJECT, project(PAY))
    assert decision.grants == (
        Grant("PROJECT_ROLE", "PROJECT_ADMIN", "ADMINISTER_PROJECT", "group leads"),
    )


def test_administer_project_refused_to_read_only_token_of_project_admin() -> None:
    """R14: a read-only token never writes, whatever its owner administers."""
    token = replace(user(ALICE), token_id=7, token_permission=TokenPermission.READ_ONLY)
    assert POLICY.decide(token, Action.VIEW_PROJECT, project(PAY)).allowed
    assert not POLICY.decide(token, Action.ADMINISTER_PROJECT, project(PAY)).allowed


def test_project_of_another_organization_is_refused_even_to_its_admin() -> None:
    """R1: a caller of another organization reaches nothing, team ADMIN or not."""
    stranger = user(ALICE, TeamRole.ADMIN, org=OTHER_ORG)
    for action in (Action.VIEW_PROJECT, Action.ADMINISTER_PROJECT):
        assert not POLICY.decide(stranger, action, project(PAY)).allowed


def test_project_refused_to_subscription_token_and_anonymous() -> None:
    scoped = replace(
        user(ALICE),
        token_id=9,
        token_permission=TokenPermission.READ_WRITE,
        token_subscription_id=5,
    )
    anonymous = Principal(org_id=ORG)
    for principal in (scoped, anonymous):
        for action in (Action.VIEW_PROJECT, Action.ADMINISTER_PROJECT):
            assert not POLICY.decide(principal, action, project(PAY)).allowed


def test_administer_project_without_a_project_is_for_admins_only() -> None:
    """Without the resource, nobody's membership counts: only "Administer the Platform"."""
    assert not POLICY.decide(user(ALICE), Action.ADMINISTER_PROJECT).allowed
    assert POLICY.decide(CALLERS["admin"], Action.ADMINISTER_PROJECT).allowed


# --- project roles as grants on the project's resources ------------------------------------------


def allowed(principal: Principal, action: ArtifactAction, where: ArtifactResource) -> bool:
    return POLICY.decide(principal, action, where).allowed


def test_seed_example_developer_plus_lead_developer_delete_in_dev_only() -> None:
    """R30: Developer (READ, WRITE in DEV and PROD) + Lead Developer (WRITE, DELETE in DEV)."""
    bob = user(BOB)
    # fmt: off
    expected = {
        (A.READ, DEV): True,    (A.READ, PROD): True,
        (A.WRITE, DEV): True,   (A.WRITE, PROD): True,
        (A.DELETE, DEV): True,  (A.DELETE, PROD): False,
        (A.MANAGE, DEV): False, (A.MANAGE, PROD): False,
    }
    # fmt: on
    for (action, env), want in expected.items():
        assert allowed(bob, action, resource(RT.REPOSITORY, env)) is want, (action, env)
    grants = POLICY.decide(bob, A.WRITE, resource(RT.REPOSITORY, DEV)).grants
    assert {g.name for g in grants} == {"DEVELOPER", "Lead Developer"}


def test_basic_role_holds_only_where_the_action_exists() -> None:
    """A basic WRITE holds on repositories and builds, not on pipelines (READ/TRIGGER/MANAGE)
    and never on devices (device permissions are given per type)."""
    bob = user(BOB)
    assert allowed(bob, A.WRITE, resource(RT.BUILD, DEV))
    assert not allowed(bob, A.WRITE, resource(RT.PIPELINE, DEV))
    assert allowed(bob, A.READ, resource(RT.PIPELINE, DEV))
    for action in DEVICE_ACTIONS:
        assert not allowed(user(ALICE), action, resource(RT.DEVICE, DEV))


def test_advanced_role_holds_per_type_and_environment_through_group() -> None:
    dan = user(DAN)
    assert allowed(dan, A.REMOTE_CONTROL, resource(RT.DEVICE, PROD))
    assert not allowed(dan, A.REMOTE_CONTROL, resource(RT.DEVICE, DEV))  # Field Ops: PROD only
    assert not allowed(dan, A.RUN_COMMANDS, resource(RT.DEVICE, PROD))
    grants = POLICY.decide(dan, A.TRIGGER, resource(RT.PIPELINE, PROD)).grants
    assert grants == (Grant("PROJECT_ROLE", "Field Ops", "TRIGGER", "group leads"),)


def test_roles_hold_only_in_their_project_and_need_an_environment() -> None:
    bob = user(BOB)
    # PAY: Developer + Lead Developer (no DELETE in PROD); WEB: Project Admin (DELETE anywhere).
    assert not allowed(bob, A.DELETE, resource(RT.REPOSITORY, PROD))
    assert allowed(bob, A.DELETE, resource(RT.REPOSITORY, PROD, key="web"))
    grants = POLICY.decide(bob, A.DELETE, resource(RT.REPOSITORY, PROD, key="web")).grants
    assert [g.name for g in grants] == ["PROJECT_ADMIN"]
    assert not allowed(bob, A.READ, resource(RT.REPOSITORY, None))
    assert not allowed(bob, A.READ, resource(RT.REPOSITORY, DEV, key="nope"))
    assert not allowed(user(CAROL), A.READ, resource(RT.REPOSITORY, DEV))  # not a member of PAY


def test_project_roles_capped_by_read_only_token() -> None:
    token = replace(user(BOB), token_id=7, token_permission=TokenPermission.READ_ONLY)
    assert allowed(token, A.READ, resource(RT.REPOSITORY, PROD))
    assert not allowed(token, A.WRITE, resource(RT.REPOSITORY, PROD))


def test_nameless_resource_is_not_matched_by_permission_targets() -> None:
    """`viewerPermissions` asks about "any resource of this type in the project": permission
    targets, which cover named resources, cannot answer that, project roles can."""
    where = resource(RT.REPOSITORY, DEV, name=None)
    assert allowed(user(BOB), A.DELETE, where)
    assert not allowed(user(CAROL), A.READ, where)


def test_every_project_type_has_actions_and_basic_excludes_device_permissions() -> None:
    for kind in (RT.REPOSITORY, RT.BUILD, RT.RELEASE_BUNDLE, RT.PIPELINE, RT.DEVICE):
        assert actions_for_type(kind)
    assert set(actions_for_type(RT.DEVICE)) == set(DEVICE_ACTIONS)
    assert not set(DEVICE_ACTIONS) & set(BASIC_ACTIONS)
    assert len(DEVICE_ACTIONS) == 13  # R32 lists thirteen project permissions


def test_project_roles_never_grant_on_destinations() -> None:
    """A DESTINATION (R24) is never in a project: even the Project Admin's basic actions and a
    destination asked "in" a project grant nothing through project roles."""
    assert PROJECT_ADMIN.bits_for(RT.DESTINATION) == 0
    for action in (A.READ, A.WRITE, A.DELETE, A.MANAGE):
        assert not allowed(user(BOB), action, resource(RT.DESTINATION, PROD, key="web"))


def test_device_operations_are_decided_in_the_devices_environment() -> None:
    """R32: Field Ops (REMOTE_CONTROL in PROD, through Dan's group) reaches PROD devices only;
    a project-wide device operation (`any_environment`) needs the permission somewhere."""
    dan = user(DAN)
    prod = ArtifactResource(ORG, RT.DEVICE, "gw-01", INDEX, PROD, "pay")
    dev = ArtifactResource(ORG, RT.DEVICE, "gw-02", INDEX, DEV, "pay")
    anywhere = ArtifactResource(ORG, RT.DEVICE, None, INDEX, None, "pay", any_environment=True)
    assert POLICY.decide(dan, Action.REMOTE_CONTROL, prod).allowed
    assert not POLICY.decide(dan, Action.REMOTE_CONTROL, dev).allowed
    assert POLICY.decide(dan, Action.REMOTE_CONTROL, anywhere).allowed
    assert not POLICY.decide(dan, Action.MODIFY_DEVICES, anywhere).allowed
    # No environment and not project-wide: nothing (as for every project resource).
    nowhere = ArtifactResource(ORG, RT.DEVICE, "gw-03", INDEX, None, "pay")
    assert not POLICY.decide(dan, Action.REMOTE_CONTROL, nowhere).allowed
    # Another project, another organization, a read-only token: refused.
    assert not POLICY.decide(dan, Action.REMOTE_CONTROL, replace(prod, project_key="web")).allowed
    assert not POLICY.decide(user(DAN, org=OTHER_ORG), Action.REMOTE_CONTROL, prod).allowed
    token = replace(dan, token_id=9, token_permission=TokenPermission.READ_ONLY)
    assert not POLICY.decide(token, Action.REMOTE_CONTROL, prod).allowed


def test_global_roles_grant_no_device_permission() -> None:
    """PROJECT_ADMIN's basic actions (every type where they exist) never include device
    permissions: those are given per type, in advanced mode (R29, R32)."""
    anywhere = ArtifactResource(ORG, RT.DEVICE, None, INDEX, None, "pay", any_environment=True)
    for action in (Action.MANAGE_DEVICE_GROUPS, Action.REGISTER_DEVICES, Action.VIEW_DEVICE_LOGS):
        assert not POLICY.decide(user(ALICE), action, anywhere).allowed
