"""THE authorization matrix: every protected root field and mutation, called as every kind of
caller, against one literal table of expected outcomes (R3 is the oracle; R1, R14, R15, R17).

An "ok" cell checks that the operation really took effect (in the caller's own organization);
every refused cell checks that nothing changed and that nothing of Acme leaked.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from accessgraph.auth.principal import Principal
from accessgraph.models import (
    AccessToken,
    AuditEvent,
    Invitation,
    LoginSession,
    Organization,
    TeamRole,
    TokenPermission,
    User,
    UserStatus,
)
from accessgraph.resolvers import tokens as token_cases
from accessgraph.schema.base import from_global_id, to_global_id
from accessgraph.services import Services
from tests.conftest import (
    ANONYMOUS,
    PASSWORD,
    Actor,
    Api,
    Factory,
    RecordingMailer,
    World,
    assert_no_permission,
    database_state,
    error_codes,
    user_error_codes,
)

ACTORS = (
    "anonymous",
    "developer",
    "admin",
    "admin_ro_token",
    "admin_rw_token",
    "revoked_token",
    "other_org_admin",
)
OK, FORBIDDEN, UNAUTHENTICATED, NOT_FOUND = "ok", "FORBIDDEN", "UNAUTHENTICATED", "NOT_FOUND"
HTTP_401 = "401"

# operation -> outcome per actor, in the order of ACTORS. NOT_FOUND: a mutation's UserError
# NOT_FOUND, or a query answering null without an error. 401: the credential itself is refused.
# fmt: off
EXPECTED: dict[str, tuple[str, ...]] = {
    #                             anonymous        developer  admin admin_ro   admin_rw revoked   other_org_admin
    "login":                      (OK,              OK,        OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "logout":                     (OK,              OK,        OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "inviteUser":                 (UNAUTHENTICATED, FORBIDDEN, OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "resendInvitation":           (UNAUTHENTICATED, FORBIDDEN, OK,   FORBIDDEN, OK,      HTTP_401, NOT_FOUND),
    "acceptInvitation":           (OK,              OK,        OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "createUser":                 (UNAUTHENTICATED, FORBIDDEN, OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "updateUserRole":             (UNAUTHENTICATED, FORBIDDEN, OK,   FORBIDDEN, OK,      HTTP_401, NOT_FOUND),
    "deleteUser":                 (UNAUTHENTICATED, FORBIDDEN, OK,   FORBIDDEN, OK,      HTTP_401, NOT_FOUND),
    "createToken":                (UNAUTHENTICATED, OK,        OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "revokeToken(another's)":     (UNAUTHENTICATED, FORBIDDEN, OK,   FORBIDDEN, OK,      HTTP_401, NOT_FOUND),
    "revokeToken(own)":           (UNAUTHENTICATED, OK,        OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "deleteToken(another's)":     (UNAUTHENTICATED, FORBIDDEN, OK,   FORBIDDEN, OK,      HTTP_401, NOT_FOUND),
    "deleteToken(own)":           (UNAUTHENTICATED, OK,        OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "updateOrganizationSettings": (UNAUTHENTICATED, FORBIDDEN, OK,   FORBIDDEN, OK,      HTTP_401, OK),
    "users":                      (UNAUTHENTICATED, OK,        OK,   OK,        OK,      HTTP_401, OK),
    "user":                       (UNAUTHENTICATED, OK,        OK,   OK,        OK,      HTTP_401, NOT_FOUND),
    "tokens":                     (UNAUTHENTICATED, OK,        OK,   OK,        OK,      HTTP_401, OK),
    "auditEvents":                (UNAUTHENTICATED, FORBIDDEN, OK,   OK,        OK,      HTTP_401, OK),
    "organization":               (UNAUTHENTICATED, OK,        OK,   OK,        OK,      HTTP_401, OK),
    "teamRoles":                  (UNAUTHENTICATED, OK,        OK,   OK,        OK,      HTTP_401, OK),
    "viewer":                     (OK,              OK,        OK,   OK,        OK,      HTTP_401, OK),
    "viewerToken":                (OK,              OK,        OK,   OK,        OK,      HTTP_401, OK),
    "node":                       (NOT_FOUND,       OK,        OK,   OK,        OK,      HTTP_401, NOT_FOUND),
}
# fmt: on

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token viewer { email } errors { code } }
}"""
LOGOUT = "mutation { logout { ok errors { code } } }"
INVITE_USER = """
mutation Invite($email: String!) {
  inviteUser(input: {email: $email}) { user { id email status } errors { code } }
}"""
RESEND_INVITATION = """
mutation Resend($id: ID!) {
  resendInvitation(input: {userId: $id}) { user { email status } errors { code } }
}"""
ACCEPT_INVITATION = """
mutation Accept($token: String!, $password: String!) {
  acceptInvitation(input: {token: $token, password: $password, firstName: "Pat"}) {
    user { email status } errors { code }
  }
}"""
CREATE_USER = """
mutation CreateUser($email: String!, $password: String!) {
  createUser(input: {email: $email, password: $password}) { user { email status } errors { code } }
}"""
UPDATE_USER_ROLE = """
mutation UpdateRole($id: ID!) {
  updateUserRole(input: {userId: $id, role: ADMIN}) { user { email role } errors { code } }
}"""
DELETE_USER = """
mutation DeleteUser($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId errors { code } } }"""
CREATE_TOKEN = """
mutation { createToken(input: {name: "matrix", permission: READ_ONLY}) {
  secret token { name createdBy { email } } errors { code }
} }"""
REVOKE_TOKEN = """
mutation Revoke($id: ID!) { revokeToken(input: {tokenId: $id}) { token { status } errors { code } } }"""
DELETE_TOKEN = """
mutation Delete($id: ID!) { deleteToken(input: {tokenId: $id}) { deletedTokenId errors { code } } }"""
UPDATE_ORGANIZATION = """
mutation { updateOrganizationSettings(input: {name: "Renamed Inc"}) { organization { name } errors { code } } }"""
USERS = "{ users(first: 100) { totalCount nodes { email } } }"
USER = "query User($id: ID!) { user(id: $id) { email role } }"
TOKENS = "{ tokens(first: 100) { totalCount nodes { name } } }"
AUDIT_EVENTS = "{ auditEvents(first: 100) { totalCount nodes { action targetLabel } } }"
ORGANIZATION = "{ organization { name } }"
TEAM_ROLES = "{ teamRoles { role permissions { permission granted } } }"
VIEWER = "{ viewer { email } }"
VIEWER_TOKEN = "{ viewerToken { name } }"
NODE = "query Node($id: ID!) { node(id: $id) { id ... on User { email } } }"

NEW_PASSWORD = "another correct horse battery"
PENDING_EMAIL = "pending@acme.test"
# Whose token "own" means for each caller (the anonymous caller borrows the developer's).
OWN = {
    "anonymous": "dev",
    "developer": "dev",
    "admin": "admin",
    "admin_ro_token": "admin",
    "admin_rw_token": "admin",
    "revoked_token": "admin",
    "other_org_admin": "globex",
}
SESSION_ACTORS = {"developer", "admin", "other_org_admin"}


# --- the scene: two organizations, every kind of caller, and the objects they aim at -----------


@dataclass
class Scene:
    services: Services
    world: World
    mailer: RecordingMailer
    actors: dict[str, Actor]
    tokens: dict[str, int]  # token name -> pk
    pending_pk: int
    pending_secret: str

    def org_of(self, actor: str) -> int | None:
        return self.actors[actor].org_pk

    def user_of(self, actor: str) -> int | None:
        return self.actors[actor].user_pk


def _principal(actor: Actor, role: TeamRole) -> Principal:
    return Principal(org_id=actor.org_pk, user_id=actor.user_pk, role=role, email=actor.email)


@pytest.fixture
async def scene(
    world: World, factory: Factory, services: Services, mailer: RecordingMailer, api: Api
) -> Scene:
    # The callers' tokens come from the createToken use case ...
    admin_ro = await factory.token(world.admin, TokenPermission.READ_ONLY, "admin-ro")
    admin_rw = await factory.token(world.admin, TokenPermission.READ_WRITE, "admin-rw")
    revoked = await factory.token(world.admin, TokenPermission.READ_WRITE, "admin-revoked")
    made = {
        name: int(token.extra["token_pk"])
        for name, token in (
            ("admin-ro", admin_ro),
            ("admin-rw", admin_rw),
            ("admin-revoked", revoked),
        )
    }
    # ... the tokens that are only targets need no value: one transaction inserts them all.
    owners = {
        "admin": world.admin,
        "dev": world.dev,
        "dev2": world.dev2,
        "globex": world.other_admin,
    }
    now = services.clock.now()
    rows = {
        f"{prefix}-{suffix}": AccessToken(
            org_id=owner.org_pk,
            owner_id=owner.user_pk,
            name=f"{prefix}-{suffix}",
            permission=TokenPermission.READ_WRITE,
            username=f"agt-matrix-{prefix}-{suffix}",
            secret_hash="0" * 64,
            created_at=now,
            revoked_at=now if suffix == "old" and prefix != "globex" else None,
        )
        for prefix, owner in owners.items()
        for suffix in ("ci", "old")
    }
    async with services.db.write() as session:
        session.add_all(rows.values())
    made.update({name: row.id for name, row in rows.items() if row.id is not None})
    # Through the use case, so that each organization has an audit trail of its own.
    await token_cases.revoke_token(
        services, _principal(world.admin, TeamRole.ADMIN), made["admin-revoked"]
    )
    await token_cases.revoke_token(
        services, _principal(world.other_admin, TeamRole.ADMIN), made["globex-old"]
    )
    invited = await api(INVITE_USER, {"email": PENDING_EMAIL}, as_=world.admin)
    pending_pk = from_global_id(invited["data"]["inviteUser"]["user"]["id"], "User")
    assert pending_pk is not None
    return Scene(
        services=services,
        world=world,
        mailer=mailer,
        actors={
            "anonymous": ANONYMOUS,
            "developer": world.dev,
            "admin": world.admin,
            "admin_ro_token": admin_ro,
            "admin_rw_token": admin_rw,
            "revoked_token": revoked,
            "other_org_admin": world.other_admin,
        },
        tokens=made,
        pending_pk=pending_pk,
        pending_secret=mailer.last_secret(PENDING_EMAIL),
    )


# --- reading state back ------------------------------------------------------------------------


async def _get(services: Services, table: Any, pk: int) -> Any:
    async with services.db.session() as session:
        return await session.get(table, pk, populate_existing=True)


async def _scalars(services: Services, stmt: Any) -> list[Any]:
    async with services.db.session() as session:
        return list((await session.execute(stmt)).scalars())


async def _user_by_email(services: Services, email: str) -> list[User]:
    return await _scalars(services, select(User).where(User.email == email))  # type: ignore[arg-type]


# --- the operations: how to call each, and what "took effect" means ------------------------------

Prepare = Callable[[Scene, str], tuple[str, dict[str, Any]]]
Check = Callable[[Scene, str, Any, dict[str, list[tuple[Any, ...]]]], Awaitable[None]]


@dataclass(frozen=True)
class Operation:
    field: str
    prepare: Prepare
    took_effect: Check
    is_query: bool = False


async def _login_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["viewer"] == {"email": "dev2@acme.test"} and data["token"]
    known = {row[0] for row in before["sessions"]}
    sessions = await _scalars(
        scene.services, select(LoginSession).where(LoginSession.user_id == scene.world.dev2.user_pk)
    )  # type: ignore[arg-type]
    assert [s.revoked_at for s in sessions if s.id not in known] == [None]


async def _logout_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data == {"ok": True, "errors": []}
    sessions = await _scalars(
        scene.services, select(LoginSession).where(LoginSession.user_id == scene.user_of(actor))
    )  # type: ignore[arg-type]
    if actor in SESSION_ACTORS:
        assert [s.revoked_at is not None for s in sessions] == [True]
    else:
        assert all(s.revoked_at is None for s in sessions)


async def _invite_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["user"]["status"] == "INVITED"
    [user] = await _user_by_email(scene.services, "newcomer@acme.test")
    assert user.org_id == scene.org_of(actor) and user.status == UserStatus.INVITED
    assert scene.mailer.sent[-1].to == "newcomer@acme.test"


async def _resend_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["user"] == {"email": PENDING_EMAIL, "status": "INVITED"}
    links = await _scalars(
        scene.services,
        select(Invitation).where(Invitation.user_id == scene.pending_pk).order_by(Invitation.id),
    )  # type: ignore[arg-type]
    assert [link.superseded_at is not None for link in links] == [True, False]
    assert scene.mailer.last_secret(PENDING_EMAIL) != scene.pending_secret


async def _accept_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["user"] == {"email": PENDING_EMAIL, "status": "ACTIVE"}
    user = await _get(scene.services, User, scene.pending_pk)
    assert user.status == UserStatus.ACTIVE and user.first_name == "Pat"


async def _create_user_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["user"]["status"] == "INVITED"
    [user] = await _user_by_email(scene.services, "created@acme.test")
    assert user.org_id == scene.org_of(actor) and user.password_hash


async def _update_role_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["user"] == {"email": "dev2@acme.test", "role": "ADMIN"}
    assert (await _get(scene.services, User, scene.world.dev2.user_pk)).role == TeamRole.ADMIN


async def _delete_user_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data == {"deletedUserId": scene.world.dev2.id, "errors": []}
    assert (await _get(scene.services, User, scene.world.dev2.user_pk)).deleted_at is not None
    assert (await _get(scene.services, AccessToken, scene.tokens["dev2-ci"])).revoked_at is not None


async def _create_token_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data["errors"] == [] and data["secret"]
    assert data["token"]["createdBy"]["email"] == scene.actors[actor].email
    [row] = await _scalars(scene.services, select(AccessToken).where(AccessToken.name == "matrix"))  # type: ignore[arg-type]
    assert row.owner_id == scene.user_of(actor) and row.org_id == scene.org_of(actor)


def _revoked(name: Callable[[str], str]) -> Check:
    async def check(scene: Scene, actor: str, data: Any, before: Any) -> None:
        assert data == {"token": {"status": "REVOKED"}, "errors": []}
        assert (
            await _get(scene.services, AccessToken, scene.tokens[name(actor)])
        ).revoked_at is not None

    return check


def _deleted(name: Callable[[str], str]) -> Check:
    async def check(scene: Scene, actor: str, data: Any, before: Any) -> None:
        pk = scene.tokens[name(actor)]
        assert data == {"deletedTokenId": to_global_id("Token", pk), "errors": []}
        assert await _get(scene.services, AccessToken, pk) is None

    return check


async def _rename_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data == {"organization": {"name": "Renamed Inc"}, "errors": []}
    names = {o.id: o.name for o in await _scalars(scene.services, select(Organization))}
    own, other = (
        scene.org_of(actor),
        ({scene.world.org, scene.world.other_org} - {scene.org_of(actor)}).pop(),
    )
    assert names[own] == "Renamed Inc" and names[other] == (
        "Globex" if other == scene.world.other_org else "Acme"
    )


async def _users_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    live = await _scalars(
        scene.services,
        select(User).where(User.org_id == scene.org_of(actor), User.deleted_at.is_(None)),
    )  # type: ignore[arg-type,union-attr]
    assert sorted(n["email"] for n in data["nodes"]) == sorted(u.email for u in live)
    assert data["totalCount"] == len(live) >= 1


async def _user_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data == {"email": "dev2@acme.test", "role": "DEVELOPER"}


async def _tokens_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    stmt = select(AccessToken).where(AccessToken.org_id == scene.org_of(actor))  # type: ignore[arg-type]
    if actor == "developer":
        stmt = stmt.where(AccessToken.owner_id == scene.user_of(actor))  # type: ignore[arg-type]
    expected = sorted(t.name for t in await _scalars(scene.services, stmt))
    assert sorted(n["name"] for n in data["nodes"]) == expected and data["totalCount"] == len(
        expected
    )
    assert {"developer": 2, "other_org_admin": 2}.get(actor, 9) == len(expected)


async def _audit_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    async with scene.services.db.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.org_id == scene.org_of(actor))
        )  # type: ignore[arg-type]
    assert data["totalCount"] == count and count and len(data["nodes"]) == count
    if actor == "other_org_admin":
        assert all("acme" not in json.dumps(n) for n in data["nodes"])


async def _organization_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data == {"name": "Globex" if actor == "other_org_admin" else "Acme"}


async def _team_roles_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    granted = {r["role"]: {p["permission"] for p in r["permissions"] if p["granted"]} for r in data}
    developer = {
        "PUSH_PULL_ARTIFACTS",
        "VIEW_ARTIFACTS",
        "MANAGE_WORKFLOWS",
        "VIEW_USERS",
        "CREATE_TOKENS",
        "REVOKE_OWN_TOKENS",
    }
    admin_only = {
        "INVITE_USERS",
        "UPDATE_USER_ROLES",
        "DELETE_USERS",
        "REVOKE_ANY_TOKENS",
        "MANAGE_TEAM_SETTINGS",
    }
    assert granted == {"ADMIN": developer | admin_only, "DEVELOPER": developer}


async def _viewer_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    email = scene.actors[actor].email
    assert data == ({"email": email} if email else None)


async def _viewer_token_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    expected = {"admin_ro_token": "admin-ro", "admin_rw_token": "admin-rw"}.get(actor)
    assert data == ({"name": expected} if expected else None)


async def _node_ok(scene: Scene, actor: str, data: Any, before: Any) -> None:
    assert data == {"id": scene.world.dev2.id, "email": "dev2@acme.test"}


def _token_id(scene: Scene, name: str) -> dict[str, Any]:
    return {"id": to_global_id("Token", scene.tokens[name])}


OPERATIONS: dict[str, Operation] = {
    "login": Operation(
        "login", lambda s, a: (LOGIN, {"email": "dev2@acme.test", "password": PASSWORD}), _login_ok
    ),
    "logout": Operation("logout", lambda s, a: (LOGOUT, {}), _logout_ok),
    "inviteUser": Operation(
        "inviteUser", lambda s, a: (INVITE_USER, {"email": "newcomer@acme.test"}), _invite_ok
    ),
    "resendInvitation": Operation(
        "resendInvitation",
        lambda s, a: (RESEND_INVITATION, {"id": to_global_id("User", s.pending_pk)}),
        _resend_ok,
    ),
    "acceptInvitation": Operation(
        "acceptInvitation",
        lambda s, a: (ACCEPT_INVITATION, {"token": s.pending_secret, "password": NEW_PASSWORD}),
        _accept_ok,
    ),
    "createUser": Operation(
        "createUser",
        lambda s, a: (CREATE_USER, {"email": "created@acme.test", "password": NEW_PASSWORD}),
        _create_user_ok,
    ),
    "updateUserRole": Operation(
        "updateUserRole", lambda s, a: (UPDATE_USER_ROLE, {"id": s.world.dev2.id}), _update_role_ok
    ),
    "deleteUser": Operation(
        "deleteUser", lambda s, a: (DELETE_USER, {"id": s.world.dev2.id}), _delete_user_ok
    ),
    "createToken": Operation("createToken", lambda s, a: (CREATE_TOKEN, {}), _create_token_ok),
    "revokeToken(another's)": Operation(
        "revokeToken",
        lambda s, a: (REVOKE_TOKEN, _token_id(s, "dev2-ci")),
        _revoked(lambda a: "dev2-ci"),
    ),
    "revokeToken(own)": Operation(
        "revokeToken",
        lambda s, a: (REVOKE_TOKEN, _token_id(s, f"{OWN[a]}-ci")),
        _revoked(lambda a: f"{OWN[a]}-ci"),
    ),
    "deleteToken(another's)": Operation(
        "deleteToken",
        lambda s, a: (DELETE_TOKEN, _token_id(s, "dev2-old")),
        _deleted(lambda a: "dev2-old"),
    ),
    "deleteToken(own)": Operation(
        "deleteToken",
        lambda s, a: (DELETE_TOKEN, _token_id(s, f"{OWN[a]}-old")),
        _deleted(lambda a: f"{OWN[a]}-old"),
    ),
    "updateOrganizationSettings": Operation(
        "updateOrganizationSettings", lambda s, a: (UPDATE_ORGANIZATION, {}), _rename_ok
    ),
    "users": Operation("users", lambda s, a: (USERS, {}), _users_ok, is_query=True),
    "user": Operation(
        "user", lambda s, a: (USER, {"id": s.world.dev2.id}), _user_ok, is_query=True
    ),
    "tokens": Operation("tokens", lambda s, a: (TOKENS, {}), _tokens_ok, is_query=True),
    "auditEvents": Operation(
        "auditEvents", lambda s, a: (AUDIT_EVENTS, {}), _audit_ok, is_query=True
    ),
    "organization": Operation(
        "organization", lambda s, a: (ORGANIZATION, {}), _organization_ok, is_query=True
    ),
    "teamRoles": Operation(
        "teamRoles", lambda s, a: (TEAM_ROLES, {}), _team_roles_ok, is_query=True
    ),
    "viewer": Operation("viewer", lambda s, a: (VIEWER, {}), _viewer_ok, is_query=True),
    "viewerToken": Operation(
        "viewerToken", lambda s, a: (VIEWER_TOKEN, {}), _viewer_token_ok, is_query=True
    ),
    "node": Operation(
        "node", lambda s, a: (NODE, {"id": s.world.dev2.id}), _node_ok, is_query=True
    ),
}

CELLS = [
    pytest.param(operation, actor, outcome, id=f"{operation}-{actor}")
    for operation, outcomes in EXPECTED.items()
    for actor, outcome in zip(ACTORS, outcomes, strict=True)
]


def test_matrix_covers_every_operation_and_actor() -> None:
    assert set(EXPECTED) == set(OPERATIONS)
    assert all(len(row) == len(ACTORS) for row in EXPECTED.values())


@pytest.mark.parametrize(("operation", "actor", "outcome"), CELLS)
async def test_authorization_matrix_cell(
    api: Api, scene: Scene, operation: str, actor: str, outcome: str
) -> None:
    op = OPERATIONS[operation]
    document, variables = op.prepare(scene, actor)
    before = await database_state(scene.services)
    mails_before = len(scene.mailer.sent)
    response = await api.client.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers=scene.actors[actor].headers,
    )
    body: dict[str, Any] = response.json()
    if outcome == HTTP_401:
        assert response.status_code == 401, body
        assert error_codes(body) == ["UNAUTHENTICATED"] and body["data"] is None
    else:
        assert response.status_code == 200, body
    if outcome == OK:
        assert not body.get("errors"), body
        await op.took_effect(scene, actor, body["data"][op.field], before)
        if op.is_query:
            assert await database_state(scene.services) == before  # reading writes nothing
        return
    if outcome == UNAUTHENTICATED:
        assert body["data"][op.field] is None and error_codes(body) == ["UNAUTHENTICATED"], body
    elif outcome == FORBIDDEN:
        assert_no_permission(body, op.field)
    elif outcome == NOT_FOUND:
        if op.is_query:
            assert not body.get("errors") and body["data"][op.field] is None, body
        else:
            assert user_error_codes(body, op.field) == ["NOT_FOUND"], body
        assert "acme" not in response.text.lower()
    assert await database_state(scene.services) == before
    assert len(scene.mailer.sent) == mails_before
