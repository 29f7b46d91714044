"""Account permissions (R33): admins grant individual users "invite and modify accounts",
"billing" and "create and modify projects" (`grantAccountPermission`,
`revokeAccountPermission`), and the matching operations respect them at the next request; none
of them opens what stays with admins (making admins, appointing Project Admins, granting)."""

from __future__ import annotations

from typing import Any

import pytest

from accessgraph.models import TokenPermission
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

GRANT = """
mutation($user: ID!, $permission: String!) {
  grantAccountPermission(input: {userId: $user, permission: $permission}) {
    user { email accountPermissions } errors { code message field }
  }
}"""
REVOKE = """
mutation($user: ID!, $permission: String!) {
  revokeAccountPermission(input: {userId: $user, permission: $permission}) {
    user { email accountPermissions } errors { code field }
  }
}"""
USERS = """
{ users { nodes { email accountPermissions viewerCanManageAccountPermissions } } }"""
CREATE_PROJECT = """
mutation($key: String!, $admins: [ID!]! = []) {
  createProject(input: {key: $key, name: "Mine", adminUserIds: $admins}) {
    project { key viewerCanAdminister members { edges { roles node { ... on User { email } } } } }
    errors { code field }
  }
}"""
PROJECTS = "{ projects { nodes { key } } }"
INVITE = """
mutation($email: String!, $role: TeamRole!) {
  inviteUser(input: {email: $email, role: $role}) { user { email role status } errors { code } }
}"""
CREATE_USER = """
mutation($email: String!, $role: TeamRole!) {
  createUser(input: {email: $email, password: "a long passphrase 1", role: $role}) {
    user { email role status } errors { code }
  }
}"""
RESEND = """
mutation($user: ID!) { resendInvitation(input: {userId: $user}) { user { email } errors { code } } }"""
UPDATE_ROLE = """
mutation($user: ID!) {
  updateUserRole(input: {userId: $user, role: ADMIN}) { user { role } errors { code } }
}"""
BILLING = """
query($id: ID!) {
  subscription(id: $id) { name viewerCanUpdateBilling billing { company } }
}"""
SUBSCRIPTIONS = "{ subscriptions { totalCount } }"
UPDATE_BILLING = """
mutation($sub: ID!) {
  updateBillingDetails(input: {subscriptionId: $sub, company: "Granted Corp"}) {
    billing { company } errors { code }
  }
}"""
AUDIT = "{ auditEvents(first: 50) { nodes { action targetLabel before after } } }"


async def _grant(api: Api, admin: Actor, user: Actor, permission: str) -> dict[str, Any]:
    body = await api(GRANT, {"user": user.id, "permission": permission}, as_=admin)
    result: dict[str, Any] = payload(body, "grantAccountPermission")
    return result


# --- granting -----------------------------------------------------------------------------------


async def test_admin_grants_and_revokes_an_account_permission(api: Api, world: World) -> None:
    granted = await _grant(api, world.admin, world.dev, "CREATE_AND_MODIFY_PROJECTS")
    assert granted == {
        "user": {"email": "dev@acme.test", "accountPermissions": ["CREATE_AND_MODIFY_PROJECTS"]},
        "errors": [],
    }
    body = await api(USERS, as_=world.admin)
    rows = {u["email"]: u for u in body["data"]["users"]["nodes"]}
    assert rows["dev@acme.test"]["accountPermissions"] == ["CREATE_AND_MODIFY_PROJECTS"]
    assert rows["dev@acme.test"]["viewerCanManageAccountPermissions"] is True
    assert rows["admin@acme.test"]["viewerCanManageAccountPermissions"] is False  # own
    variables = {"user": world.dev.id, "permission": "CREATE_AND_MODIFY_PROJECTS"}
    body = await api(REVOKE, variables, as_=world.admin)
    assert payload(body, "revokeAccountPermission")["user"]["accountPermissions"] == []
    body = await api(AUDIT, as_=world.admin)
    events = [e for e in body["data"]["auditEvents"]["nodes"] if "account" in e["action"]]
    assert [(e["action"], e["before"], e["after"]) for e in events] == [
        (
            "account_permission.revoke",
            {"accountPermissions": ["CREATE_AND_MODIFY_PROJECTS"]},
            {"accountPermissions": []},
        ),
        (
            "account_permission.grant",
            {"accountPermissions": []},
            {"accountPermissions": ["CREATE_AND_MODIFY_PROJECTS"]},
        ),
    ]


async def test_granting_what_is_held_changes_nothing(
    api: Api, world: World, services: Services
) -> None:
    await _grant(api, world.admin, world.dev, "BILLING")
    before = await database_state(services)
    again = await _grant(api, world.admin, world.dev, "billing")  # names are case-insensitive
    assert again["errors"] == [] and again["user"]["accountPermissions"] == ["BILLING"]
    body = await api(REVOKE, {"user": world.dev2.id, "permission": "BILLING"}, as_=world.admin)
    assert payload(body, "revokeAccountPermission")["errors"] == []
    assert await database_state(services) == before  # no change, no audit event


@pytest.mark.parametrize(
    ("who", "permission", "code"),
    [
        ("dev", "FLY_PLANES", "UNKNOWN_PERMISSION"),
        ("dev", "", "UNKNOWN_PERMISSION"),
        ("admin", "BILLING", "SELF_GRANT"),
        ("other_admin", "BILLING", "NOT_FOUND"),
    ],
)
async def test_bad_grant_is_refused_and_changes_nothing(
    api: Api, world: World, services: Services, who: str, permission: str, code: str
) -> None:
    target = {"dev": world.dev, "admin": world.admin, "other_admin": world.other_admin}[who]
    before = await database_state(services)
    body = await api(GRANT, {"user": target.id, "permission": permission}, as_=world.admin)
    errors = payload(body, "grantAccountPermission")["errors"]
    assert [e["code"] for e in errors] == [code]
    assert await database_state(services) == before


async def test_deleted_user_cannot_be_granted(api: Api, world: World) -> None:
    body = await api(
        "mutation($u: ID!) { deleteUser(input: {userId: $u}) { errors { code } } }",
        {"u": world.dev2.id},
        as_=world.admin,
    )
    assert payload(body, "deleteUser")["errors"] == []
    body = await api(GRANT, {"user": world.dev2.id, "permission": "BILLING"}, as_=world.admin)
    assert user_error_codes(body, "grantAccountPermission") == ["NOT_FOUND"]


async def test_only_admins_grant(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """Developers, even holding every account permission, and an admin's read-only token are
    refused; so nobody escalates by granting."""
    for permission in ("INVITE_AND_MODIFY_ACCOUNTS", "BILLING", "CREATE_AND_MODIFY_PROJECTS"):
        assert (await _grant(api, world.admin, world.dev, permission))["errors"] == []
    read_only = await factory.token(world.admin, TokenPermission.READ_ONLY)
    before = await database_state(services)
    for actor in (world.dev, read_only):
        for query in (GRANT, REVOKE):
            body = await api(query, {"user": world.dev2.id, "permission": "BILLING"}, as_=actor)
            field = "grantAccountPermission" if query is GRANT else "revokeAccountPermission"
            assert_no_permission(body, field)
    assert await database_state(services) == before


# --- create and modify projects ----------------------------------------------------------------


async def test_project_creator_administers_only_what_they_create(api: Api, world: World) -> None:
    """The seed's example: a developer holding "create and modify projects" creates a project,
    and becomes its Project Admin; they still appoint nobody and see no other project."""
    body = await api(CREATE_PROJECT, {"key": "mine"}, as_=world.dev)
    assert_no_permission(body, "createProject")
    await api(CREATE_PROJECT, {"key": "theirs"}, as_=world.admin)
    await _grant(api, world.admin, world.dev, "CREATE_AND_MODIFY_PROJECTS")

    body = await api(CREATE_PROJECT, {"key": "mine"}, as_=world.dev)
    project = payload(body, "createProject")["project"]
    assert project["viewerCanAdminister"] is True
    assert project["members"]["edges"] == [
        {"roles": ["PROJECT_ADMIN"], "node": {"email": "dev@acme.test"}}
    ]
    body = await api(CREATE_PROJECT, {"key": "other", "admins": [world.dev2.id]}, as_=world.dev)
    assert_no_permission(body, "createProject")
    body = await api(PROJECTS, as_=world.dev)
    assert [p["key"] for p in body["data"]["projects"]["nodes"]] == ["mine"]


async def test_revoked_permission_stops_at_the_next_request(
    api: Api, world: World, factory: Factory
) -> None:
    """Also through the developer's token, which acts as its owner now (R14)."""
    await _grant(api, world.admin, world.dev, "CREATE_AND_MODIFY_PROJECTS")
    token = await factory.token(world.dev, TokenPermission.READ_WRITE)
    read_only = await factory.token(world.dev, TokenPermission.READ_ONLY, name="reader")
    assert (
        payload(await api(CREATE_PROJECT, {"key": "one"}, as_=token), "createProject")["errors"]
        == []
    )
    assert_no_permission(await api(CREATE_PROJECT, {"key": "two"}, as_=read_only), "createProject")
    body = await api(
        REVOKE, {"user": world.dev.id, "permission": "CREATE_AND_MODIFY_PROJECTS"}, as_=world.admin
    )
    assert payload(body, "revokeAccountPermission")["errors"] == []
    assert_no_permission(await api(CREATE_PROJECT, {"key": "three"}, as_=token), "createProject")
    assert_no_permission(await api(CREATE_PROJECT, {"key": "four"}, as_=world.dev), "createProject")


# --- invite and modify accounts ----------------------------------------------------------------


async def test_account_inviter_invites_and_creates_developers_only(
    api: Api, world: World, services: Services
) -> None:
    await _grant(api, world.admin, world.dev, "INVITE_AND_MODIFY_ACCOUNTS")
    body = await api(INVITE, {"email": "new@acme.test", "role": "DEVELOPER"}, as_=world.dev)
    invited = payload(body, "inviteUser")
    assert invited["errors"] == [] and invited["user"]["status"] == "INVITED"
    body = await api(CREATE_USER, {"email": "made@acme.test", "role": "DEVELOPER"}, as_=world.dev)
    assert payload(body, "createUser")["errors"] == []

    before = await database_state(services)
    body = await api(INVITE, {"email": "boss@acme.test", "role": "ADMIN"}, as_=world.dev)
    assert_no_permission(body, "inviteUser")
    body = await api(CREATE_USER, {"email": "boss@acme.test", "role": "ADMIN"}, as_=world.dev)
    assert_no_permission(body, "createUser")
    assert_no_permission(
        await api(UPDATE_ROLE, {"user": world.dev.id}, as_=world.dev), "updateUserRole"
    )
    body = await api(GRANT, {"user": world.dev2.id, "permission": "BILLING"}, as_=world.dev)
    assert_no_permission(body, "grantAccountPermission")
    assert await database_state(services) == before


async def test_account_inviter_resends_developer_invitations_not_admin_ones(
    api: Api, world: World
) -> None:
    await _grant(api, world.admin, world.dev, "INVITE_AND_MODIFY_ACCOUNTS")
    body = await api(INVITE, {"email": "dev3@acme.test", "role": "DEVELOPER"}, as_=world.admin)
    await api(INVITE, {"email": "admin2@acme.test", "role": "ADMIN"}, as_=world.admin)
    body = await api("{ users { nodes { id email viewerCanResendInvitation } } }", as_=world.dev)
    users = {u["email"]: u for u in body["data"]["users"]["nodes"]}
    assert users["dev3@acme.test"]["viewerCanResendInvitation"] is True
    assert users["admin2@acme.test"]["viewerCanResendInvitation"] is False
    body = await api(RESEND, {"user": users["dev3@acme.test"]["id"]}, as_=world.dev)
    assert payload(body, "resendInvitation")["errors"] == []
    body = await api(RESEND, {"user": users["admin2@acme.test"]["id"]}, as_=world.dev)
    assert_no_permission(body, "resendInvitation")


# --- billing -----------------------------------------------------------------------------------


async def test_billing_permission_opens_every_subscriptions_billing(
    api: Api, world: World, factory: Factory
) -> None:
    """R33 beside R22: team admins do not read billing details, subscription roles and the
    BILLING account permission do; an admin cannot grant it to themselves, another admin can."""
    sub = await factory.subscription("Acme", world.admin, name="Acme Cloud")
    body = await api(UPDATE_BILLING, {"sub": sub}, as_=world.admin)  # as its Primary Admin
    assert payload(body, "updateBillingDetails")["errors"] == []
    second_admin = await factory.member(world.org, "admin2@acme.test", name="admin 2")
    await api(
        "mutation($u: ID!) { updateUserRole(input: {userId: $u, role: ADMIN}) { errors { code } } }",
        {"u": second_admin.id},
        as_=world.admin,
    )
    body = await api(BILLING, {"id": sub}, as_=second_admin)  # a team admin, not a member
    assert body["data"]["subscription"]["billing"] is None

    assert (await api(SUBSCRIPTIONS, as_=world.dev))["data"]["subscriptions"]["totalCount"] == 0
    await _grant(api, world.admin, world.dev, "BILLING")
    assert (await api(SUBSCRIPTIONS, as_=world.dev))["data"]["subscriptions"]["totalCount"] == 1
    body = await api(BILLING, {"id": sub}, as_=world.dev)
    assert body["data"]["subscription"]["billing"] == {"company": "Granted Corp"}
    assert body["data"]["subscription"]["viewerCanUpdateBilling"] is True
    body = await api(UPDATE_BILLING, {"sub": sub}, as_=world.dev)
    assert payload(body, "updateBillingDetails")["errors"] == []

    body = await api(GRANT, {"user": second_admin.id, "permission": "BILLING"}, as_=second_admin)
    assert user_error_codes(body, "grantAccountPermission") == ["SELF_GRANT"]
    await _grant(api, world.admin, second_admin, "BILLING")
    body = await api(BILLING, {"id": sub}, as_=second_admin)
    assert body["data"]["subscription"]["billing"] == {"company": "Granted Corp"}


# --- table-driven: each account permission opens exactly its operations --------------------------


async def _try(api: Api, world: World, factory: Factory, actor: Actor, operation: str) -> bool:
    """True if `actor` may do `operation` (it ran), False if FORBIDDEN."""
    if operation == "updateBillingDetails":
        sub = await factory.subscription("Acme", world.admin, name=f"Sub {operation}")
        body = await api(UPDATE_BILLING, {"sub": sub}, as_=actor)
    elif operation == "createProject":
        body = await api(CREATE_PROJECT, {"key": "table"}, as_=actor)
    elif operation == "inviteUser":
        body = await api(INVITE, {"email": "t1@acme.test", "role": "DEVELOPER"}, as_=actor)
    else:
        assert operation == "createUser"
        body = await api(CREATE_USER, {"email": "t2@acme.test", "role": "DEVELOPER"}, as_=actor)
    if body.get("errors"):
        assert_no_permission(body, operation)
        return False
    errors = payload(body, operation)["errors"]
    if operation == "updateBillingDetails" and errors == [{"code": "NOT_FOUND"}]:
        return False  # a subscription you may not see does not exist for you
    assert errors == [], body
    return True


OPENS = {
    "INVITE_AND_MODIFY_ACCOUNTS": {"inviteUser", "createUser"},
    "BILLING": {"updateBillingDetails"},
    "CREATE_AND_MODIFY_PROJECTS": {"createProject"},
    None: set(),
}


@pytest.mark.parametrize("permission", list(OPENS), ids=str)
@pytest.mark.parametrize(
    "operation", ["inviteUser", "createUser", "updateBillingDetails", "createProject"]
)
async def test_each_account_permission_opens_exactly_its_operations(
    api: Api, world: World, factory: Factory, permission: str | None, operation: str
) -> None:
    if permission is not None:
        assert (await _grant(api, world.admin, world.dev, permission))["errors"] == []
    assert await _try(api, world, factory, world.dev, operation) is (operation in OPENS[permission])
