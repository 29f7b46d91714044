"""Access tokens through GraphQL (R12-R17, R6, R14): create, use, expire, revoke, delete, list."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import select, text

from accessgraph.app import create_app
from accessgraph.models import AccessToken, AuditEvent, TeamRole, TokenPermission
from accessgraph.schema.base import to_global_id
from accessgraph.services import Services
from tests.conftest import (
    START,
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

Later = Callable[..., None]

# A token lifetime that the tests reach by moving the FrozenClock (STYLE 7: no sleeping).
LONG = timedelta(days=3650)

TOKEN_FIELDS = """
  id name permission username status createdAt expiresAt lastUsedAt revokedAt
  createdBy { id email } viewerCanRevoke viewerCanDelete
"""
CREATE_TOKEN = f"""
mutation CreateToken($input: CreateTokenInput!) {{
  createToken(input: $input) {{
    secret
    token {{ {TOKEN_FIELDS} }}
    errors {{ code message field }}
  }}
}}"""
CREATE_TOKEN_LITERAL_BAD_PERMISSION = """
mutation { createToken(input: {name: "ci", permission: SUPERUSER}) { secret errors { code } } }"""
REVOKE_TOKEN = f"""
mutation RevokeToken($id: ID!) {{
  revokeToken(input: {{tokenId: $id}}) {{ token {{ {TOKEN_FIELDS} }} errors {{ code message field }} }}
}}"""
DELETE_TOKEN = """
mutation DeleteToken($id: ID!) {
  deleteToken(input: {tokenId: $id}) { deletedTokenId errors { code message field } }
}"""
TOKENS = f"""
query Tokens($first: Int, $after: String, $last: Int, $before: String, $filter: TokenFilter) {{
  tokens(first: $first, after: $after, last: $last, before: $before, filter: $filter) {{
    totalCount
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ cursor node {{ {TOKEN_FIELDS} }} }}
  }}
}}"""
WHO_AM_I = "{ viewer { email } viewerToken { name } }"
VIEWER_TOKEN = f"{{ viewerToken {{ {TOKEN_FIELDS} }} }}"
NODE = f"query Node($id: ID!) {{ node(id: $id) {{ id ... on Token {{ {TOKEN_FIELDS} }} }} }}"
EVERYTHING_ABOUT_TOKENS = f"""
query Everything($tokenId: ID!, $userId: ID!) {{
  viewer {{ email tokens {{ {TOKEN_FIELDS} }} }}
  tokens(first: 100) {{ nodes {{ {TOKEN_FIELDS} createdBy {{ tokens {{ {TOKEN_FIELDS} }} }} }} }}
  node(id: $tokenId) {{ ... on Token {{ {TOKEN_FIELDS} }} }}
  user(id: $userId) {{ tokens {{ {TOKEN_FIELDS} }} }}
  auditEvents(first: 100) {{ nodes {{ action actorLabel targetLabel before after }} }}
}}"""
READ_EVERYTHING_OWNED = """
{ viewer { email } users(first: 100) { totalCount nodes { email } } tokens(first: 10) { nodes { name } } }"""
AUDIT_EVENTS = "{ auditEvents(first: 5) { totalCount } }"
INVITE_USER = """
mutation Invite($email: String!) {
  inviteUser(input: {email: $email}) { user { email status } errors { code } }
}"""
UPDATE_USER_ROLE = """
mutation UpdateRole($id: ID!, $role: TeamRole!) {
  updateUserRole(input: {userId: $id, role: $role}) { user { role } errors { code } }
}"""
DELETE_USER = """
mutation DeleteUser($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId errors { code } } }"""
LOGOUT = "mutation { logout { ok errors { code } } }"
UPDATE_ORGANIZATION = """
mutation Rename($name: String!) {
  updateOrganizationSettings(input: {name: $name}) { organization { name } errors { code } }
}"""
MUTATION_FIELDS = "{ __schema { mutationType { fields { name } } } }"


# --- helpers ----------------------------------------------------------------------------------


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def same_instant(value: str | None, moment: datetime) -> bool:
    return value is not None and datetime.fromisoformat(value.replace("Z", "+00:00")) == moment


async def create_token(
    api: Api,
    actor: Actor,
    name: str = "k8s-production",
    permission: str = "READ_WRITE",
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    variables = {
        "input": {
            "name": name,
            "permission": permission,
            "expiresAt": iso(expires_at) if expires_at else None,
        }
    }
    return await api(CREATE_TOKEN, variables, as_=actor)


async def token_row(services: Services, pk: int) -> AccessToken | None:
    async with services.db.session() as session:
        return await session.get(AccessToken, pk)


async def token_rows(services: Services) -> list[AccessToken]:
    async with services.db.session() as session:
        return list((await session.execute(select(AccessToken).order_by(AccessToken.id))).scalars())  # type: ignore[arg-type]


async def token_status(api: Api, admin: Actor, token_id: str) -> str | None:
    body = await api(NODE, {"id": token_id}, as_=admin)
    node = body["data"]["node"]
    return None if node is None else str(node["status"])


def bearer(value: str) -> Actor:
    return Actor("bearer", {"Authorization": f"Bearer {value}"})


def basic(username: str, value: str) -> Actor:
    credentials = base64.b64encode(f"{username}:{value}".encode()).decode()
    return Actor("basic", {"Authorization": f"Basic {credentials}"})


def pk_of(actor: Actor) -> int:
    return int(actor.extra["token_pk"])


def tid(actor: Actor) -> str:
    return str(actor.extra["token_id"])


async def revoke(api: Api, admin: Actor, token: Actor) -> None:
    body = await api(REVOKE_TOKEN, {"id": tid(token)}, as_=admin)
    assert payload(body, "revokeToken")["errors"] == [], body


async def relogin(factory: Factory, actor: Actor) -> Actor:
    """A fresh console session: after the clock moves by years, the old session has expired."""
    assert actor.user_pk is not None
    return await factory.session_actor(actor.name, actor.user_pk)


def names(body: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in body["data"]["tokens"]["edges"]]


# --- createToken ------------------------------------------------------------------------------


async def test_create_token_read_write_without_expiry_is_active_and_never_expires(
    api: Api, world: World, services: Services
) -> None:
    result = payload(
        await create_token(api, world.dev, "k8s-production", "READ_WRITE"), "createToken"
    )
    token = result["token"]
    assert result["errors"] == []
    assert token["name"] == "k8s-production"
    assert token["permission"] == "READ_WRITE"
    assert token["status"] == "ACTIVE"
    assert token["expiresAt"] is None
    assert token["lastUsedAt"] is None and token["revokedAt"] is None
    assert same_instant(token["createdAt"], START)
    assert token["createdBy"] == {"id": world.dev.id, "email": "dev@acme.test"}
    assert token["username"].startswith("agt-")
    assert (token["viewerCanRevoke"], token["viewerCanDelete"]) == (True, False)
    [row] = await token_rows(services)
    assert row.owner_id == world.dev.user_pk and row.org_id == world.org and row.expires_at is None


async def test_create_token_read_only_with_expiry_keeps_the_expiry(api: Api, world: World) -> None:
    expires = START + timedelta(days=30)
    token = payload(
        await create_token(api, world.admin, "registry-pull", "READ_ONLY", expires), "createToken"
    )["token"]
    assert token["permission"] == "READ_ONLY"
    assert token["status"] == "ACTIVE"
    assert same_instant(token["expiresAt"], expires)


async def test_create_token_secret_is_never_returned_again(
    api: Api, world: World, services: Services
) -> None:
    result = payload(await create_token(api, world.admin, "ci"), "createToken")
    secret = result["secret"]
    assert secret and secret.count(".") == 2
    [row] = await token_rows(services)
    for reader in (world.admin, bearer(secret)):
        response = await api.client.post(
            "/graphql",
            json={
                "query": EVERYTHING_ABOUT_TOKENS,
                "variables": {"tokenId": result["token"]["id"], "userId": world.admin.id},
            },
            headers=reader.headers,
        )
        body = response.json()
        assert not body.get("errors"), body
        assert body["data"]["tokens"]["nodes"][0]["name"] == "ci"  # the token was really read
        assert body["data"]["node"]["username"] == row.username
        assert body["data"]["auditEvents"]["nodes"]  # token.create is in the log
        signature = secret.rsplit(".", 1)[1]
        for leaked in (secret, signature, row.secret_hash):
            assert leaked not in response.text


async def test_create_token_stores_only_a_sha256_of_the_value(
    api: Api, world: World, services: Services
) -> None:
    secret = payload(await create_token(api, world.admin, "ci"), "createToken")["secret"]
    [row] = await token_rows(services)
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    signature = secret.rsplit(".", 1)[1]
    async with services.db.session() as session:
        for table in ("access_tokens", "audit_events"):
            for raw in (await session.execute(text(f"SELECT * FROM {table}"))).all():
                dumped = json.dumps([str(v) for v in raw])
                assert secret not in dumped and signature not in dumped, table


async def test_create_token_secret_is_an_hs256_jwt_with_iss_aud_exp_jti(
    api: Api, world: World, services: Services
) -> None:
    expires = START + timedelta(days=30)
    result = payload(
        await create_token(api, world.admin, "ci", "READ_ONLY", expires), "createToken"
    )
    secret = result["secret"]
    assert jwt.get_unverified_header(secret) == {"alg": "HS256", "typ": "JWT"}
    settings = services.settings
    claims = jwt.decode(
        secret,
        settings.secret_key,
        algorithms=["HS256"],
        audience=settings.jwt_audience,
        issuer=settings.jwt_issuer,
        options={"verify_exp": False},
    )
    assert claims["iss"] == "accessgraph"
    assert claims["aud"] == "accessgraph-api"
    assert claims["exp"] == int(expires.timestamp())
    assert claims["jti"] == result["token"]["username"]
    assert claims["sub"] == str(world.admin.user_pk)


async def test_create_token_without_expiry_still_carries_exp(api: Api, world: World) -> None:
    secret = payload(await create_token(api, world.admin, "ci"), "createToken")["secret"]
    exp = jwt.decode(secret, options={"verify_signature": False})["exp"]
    assert exp > int((START + timedelta(days=3650)).timestamp())


async def test_create_token_expires_at_in_past_is_rejected(
    api: Api, world: World, services: Services
) -> None:
    for moment in (START - timedelta(seconds=1), START):
        body = await create_token(api, world.admin, "ci", "READ_WRITE", moment)
        result = payload(body, "createToken")
        assert [e["code"] for e in result["errors"]] == ["EXPIRES_AT_IN_PAST"]
        assert result["errors"][0]["field"] == ["expiresAt"]
        assert result["token"] is None and result["secret"] is None
    assert await token_rows(services) == []


async def test_create_token_expires_at_without_timezone_is_rejected(
    api: Api, world: World, services: Services
) -> None:
    variables = {
        "input": {"name": "ci", "permission": "READ_WRITE", "expiresAt": "2027-01-01T00:00:00"}
    }
    body = await api(CREATE_TOKEN, variables, as_=world.admin)
    assert user_error_codes(body, "createToken") == ["INVALID_DATE"]
    assert await token_rows(services) == []


@pytest.mark.parametrize(
    "name", ["", "   ", "x" * 101, "bell\x07"], ids=["empty", "blank", "101-chars", "control-char"]
)
async def test_create_token_bad_name_is_invalid_name(
    api: Api, world: World, services: Services, name: str
) -> None:
    result = payload(await create_token(api, world.admin, name), "createToken")
    assert [(e["code"], e["field"]) for e in result["errors"]] == [("INVALID_NAME", ["name"])]
    assert result["secret"] is None
    assert await token_rows(services) == []


async def test_create_token_name_of_100_characters_is_accepted(api: Api, world: World) -> None:
    result = payload(await create_token(api, world.admin, "x" * 100), "createToken")
    assert result["errors"] == [] and result["token"]["name"] == "x" * 100


async def test_create_token_duplicate_active_name_is_taken(
    api: Api, world: World, services: Services
) -> None:
    payload(await create_token(api, world.admin, "ci"), "createToken")
    body = await create_token(api, world.admin, " ci ")
    assert user_error_codes(body, "createToken") == ["TOKEN_NAME_TAKEN"]
    assert payload(body, "createToken")["secret"] is None
    assert len(await token_rows(services)) == 1


async def test_create_token_name_of_revoked_token_can_be_reused(
    api: Api, world: World, factory: Factory
) -> None:
    old = await factory.token(world.admin, name="ci")
    await revoke(api, world.admin, old)
    result = payload(await create_token(api, world.admin, "ci"), "createToken")
    assert result["errors"] == [] and result["token"]["id"] != tid(old)


async def test_create_token_same_name_as_another_users_token_is_allowed(
    api: Api, world: World, factory: Factory
) -> None:
    await factory.token(world.dev2, name="ci")
    assert payload(await create_token(api, world.dev, "ci"), "createToken")["errors"] == []


async def test_create_token_unknown_permission_variable_is_a_validation_error(
    api: Api, world: World, services: Services
) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": CREATE_TOKEN, "variables": {"input": {"name": "ci", "permission": "ADMIN"}}},
        headers=world.admin.headers,
    )
    body = response.json()
    assert body.get("data") is None
    assert any("TokenPermission" in e["message"] for e in body["errors"]), body
    assert await token_rows(services) == []


async def test_create_token_unknown_permission_literal_is_a_validation_error(
    api: Api, world: World, services: Services
) -> None:
    response = await api.client.post(
        "/graphql", json={"query": CREATE_TOKEN_LITERAL_BAD_PERMISSION}, headers=world.admin.headers
    )
    body = response.json()
    assert body.get("data") is None
    assert any("SUPERUSER" in e["message"] for e in body["errors"]), body
    assert await token_rows(services) == []


async def test_create_token_is_written_to_the_audit_log(
    api: Api, world: World, services: Services
) -> None:
    result = payload(await create_token(api, world.dev, "ci"), "createToken")
    async with services.db.session() as session:
        events = list((await session.execute(select(AuditEvent))).scalars())
    assert [(e.action, e.actor_user_id, e.org_id) for e in events] == [
        ("token.create", world.dev.user_pk, world.org)
    ]
    assert (
        events[0].after is not None and events[0].after["username"] == result["token"]["username"]
    )


# --- authenticating with a token (R17) --------------------------------------------------------


async def test_token_authenticates_as_bearer(api: Api, world: World) -> None:
    secret = payload(await create_token(api, world.dev, "ci"), "createToken")["secret"]
    body = await api(WHO_AM_I, as_=bearer(secret))
    assert body["data"] == {"viewer": {"email": "dev@acme.test"}, "viewerToken": {"name": "ci"}}


async def test_token_authenticates_as_basic_with_its_username(api: Api, world: World) -> None:
    token = payload(await create_token(api, world.dev, "ci"), "createToken")
    body = await api(WHO_AM_I, as_=basic(token["token"]["username"], token["secret"]))
    assert body["data"] == {"viewer": {"email": "dev@acme.test"}, "viewerToken": {"name": "ci"}}


async def test_token_basic_with_another_tokens_username_is_401(
    api: Api, world: World, factory: Factory
) -> None:
    mine = await factory.token(world.dev, name="mine")
    other = await factory.token(world.dev, name="other")
    body = await api(
        WHO_AM_I, as_=basic(other.extra["username"], mine.extra["value"]), expect_status=401
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_token_basic_with_wrong_value_is_401(
    api: Api, world: World, factory: Factory
) -> None:
    mine = await factory.token(world.dev, name="mine")
    body = await api(
        WHO_AM_I, as_=basic(mine.extra["username"], "not-the-token"), expect_status=401
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_token_with_tampered_signature_is_401(
    api: Api, world: World, factory: Factory
) -> None:
    value = str((await factory.token(world.dev)).extra["value"])
    head, body_, signature = value.split(".")
    forged = f"{head}.{body_}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    body = await api(WHO_AM_I, as_=bearer(forged), expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_token_use_sets_last_used_at(
    api: Api, world: World, factory: Factory, later: Later
) -> None:
    token = await factory.token(world.dev)
    later(minutes=5)
    body = await api(VIEWER_TOKEN, as_=token)
    assert same_instant(body["data"]["viewerToken"]["lastUsedAt"], START + timedelta(minutes=5))


async def test_token_last_used_at_is_updated_at_most_once_a_minute(
    api: Api, world: World, factory: Factory, services: Services, later: Later
) -> None:
    token = await factory.token(world.dev)
    await api(WHO_AM_I, as_=token)
    later(seconds=59)
    await api(WHO_AM_I, as_=token)
    row = await token_row(services, pk_of(token))
    assert row is not None and row.last_used_at == START
    later(seconds=1)
    await api(WHO_AM_I, as_=token)
    row = await token_row(services, pk_of(token))
    assert row is not None and row.last_used_at == START + timedelta(minutes=1)


async def test_token_use_by_session_does_not_touch_last_used_at(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    await api(TOKENS, {"first": 10}, as_=world.dev)
    row = await token_row(services, pk_of(token))
    assert row is not None and row.last_used_at is None


# --- expiry (the injected clock) --------------------------------------------------------------


async def test_token_after_its_expiry_is_listed_as_expired(
    api: Api, world: World, factory: Factory, later: Later
) -> None:
    token = await factory.token(world.dev, expires_at=START + LONG)
    later(days=LONG.days, seconds=-1)
    admin = await relogin(factory, world.admin)
    assert await token_status(api, admin, tid(token)) == "ACTIVE"
    later(seconds=1)
    assert await token_status(api, admin, tid(token)) == "EXPIRED"


async def test_token_after_its_expiry_is_refused_with_401(
    api: Api, world: World, factory: Factory, later: Later
) -> None:
    token = await factory.token(world.dev, expires_at=START + LONG)
    assert (await api(WHO_AM_I, as_=token))["data"]["viewer"] == {"email": "dev@acme.test"}
    later(days=LONG.days)
    body = await api(WHO_AM_I, as_=token, expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_token_shortly_before_its_expiry_authenticates(
    api: Api, world: World, factory: Factory, later: Later
) -> None:
    # Valid for one more second by the service's clock, whatever the wall clock says (STYLE 7).
    token = await factory.token(world.dev, expires_at=START + timedelta(hours=1))
    later(minutes=59, seconds=59)
    body = await api(WHO_AM_I, as_=token)
    assert body["data"]["viewer"] == {"email": "dev@acme.test"}, body


# --- revokeToken (R15) ------------------------------------------------------------------------


async def test_revoke_token_refuses_the_very_next_request(
    api: Api, world: World, factory: Factory
) -> None:
    token = await factory.token(world.dev)
    assert (await api(WHO_AM_I, as_=token))["data"]["viewer"]["email"] == "dev@acme.test"
    result = payload(await api(REVOKE_TOKEN, {"id": tid(token)}, as_=world.dev), "revokeToken")
    assert result["errors"] == []
    assert result["token"]["status"] == "REVOKED"
    assert same_instant(result["token"]["revokedAt"], START)
    body = await api(WHO_AM_I, as_=token, expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    body = await api(
        WHO_AM_I, as_=basic(token.extra["username"], token.extra["value"]), expect_status=401
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_revoke_token_is_seen_by_another_server_instance(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    other_instance = Services.build(services.settings, clock=services.clock, mailer=services.mailer)
    app = create_app(other_instance.settings, services=other_instance)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://b"
        ) as b:
            first = await b.post("/graphql", json={"query": WHO_AM_I}, headers=token.headers)
            assert (
                first.status_code == 200
                and first.json()["data"]["viewer"]["email"] == "dev@acme.test"
            )
            await revoke(api, world.admin, token)
            second = await b.post("/graphql", json={"query": WHO_AM_I}, headers=token.headers)
            assert second.status_code == 401
    finally:
        await other_instance.db.dispose()


async def test_revoke_token_twice_is_already_revoked(
    api: Api, world: World, factory: Factory, services: Services, later: Later
) -> None:
    token = await factory.token(world.dev)
    await revoke(api, world.admin, token)
    later(minutes=10)
    body = await api(REVOKE_TOKEN, {"id": tid(token)}, as_=world.admin)
    result = payload(body, "revokeToken")
    assert [e["code"] for e in result["errors"]] == ["TOKEN_ALREADY_REVOKED"]
    assert result["token"] is None
    row = await token_row(services, pk_of(token))
    assert row is not None and row.revoked_at == START


async def test_revoke_token_has_no_undo(
    api: Api, world: World, factory: Factory, later: Later
) -> None:
    token = await factory.token(world.dev, name="ci")
    await revoke(api, world.admin, token)
    fields = {
        f["name"]
        for f in (await api(MUTATION_FIELDS, as_=world.admin))["data"]["__schema"]["mutationType"][
            "fields"
        ]
    }
    assert {f for f in fields if "token" in f.lower()} == {
        "createToken",
        "revokeToken",
        "deleteToken",
        "createSubscriptionToken",
        "revokeSubscriptionToken",
        "deleteSubscriptionToken",
        "reportLeakedToken",  # revokes (anyone may hand in a leaked one); nothing un-revokes
    }
    # A new token of the same name is a new token; the old value stays dead.
    payload(await create_token(api, world.dev, "ci"), "createToken")
    later(hours=1)
    assert await token_status(api, world.admin, tid(token)) == "REVOKED"
    body = await api(WHO_AM_I, as_=token, expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_revoke_token_admin_revokes_a_developers_token(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    result = payload(await api(REVOKE_TOKEN, {"id": tid(token)}, as_=world.admin), "revokeToken")
    assert result["errors"] == [] and result["token"]["status"] == "REVOKED"
    row = await token_row(services, pk_of(token))
    assert row is not None and row.revoked_by_id == world.admin.user_pk


async def test_revoke_token_developer_revokes_own_token(
    api: Api, world: World, factory: Factory
) -> None:
    token = await factory.token(world.dev)
    result = payload(await api(REVOKE_TOKEN, {"id": tid(token)}, as_=world.dev), "revokeToken")
    assert result["errors"] == [] and result["token"]["status"] == "REVOKED"


async def test_revoke_token_developer_cannot_revoke_another_users_token(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev2)
    body = await api(REVOKE_TOKEN, {"id": tid(token)}, as_=world.dev)
    assert_no_permission(body, "revokeToken")
    row = await token_row(services, pk_of(token))
    assert row is not None and row.revoked_at is None
    assert await token_status(api, world.admin, tid(token)) == "ACTIVE"


async def test_revoke_token_developer_cannot_revoke_an_admins_token(
    api: Api, world: World, factory: Factory
) -> None:
    token = await factory.token(world.admin)
    assert_no_permission(await api(REVOKE_TOKEN, {"id": tid(token)}, as_=world.dev), "revokeToken")
    assert await token_status(api, world.admin, tid(token)) == "ACTIVE"


async def test_revoke_token_of_another_organization_is_not_found(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    body = await api(REVOKE_TOKEN, {"id": tid(token)}, as_=world.other_admin)
    result = payload(body, "revokeToken")
    assert [e["code"] for e in result["errors"]] == ["NOT_FOUND"]
    assert result["token"] is None
    assert "dev@acme.test" not in json.dumps(body)
    row = await token_row(services, pk_of(token))
    assert row is not None and row.revoked_at is None


async def test_revoke_token_with_a_user_id_is_not_found(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    body = await api(REVOKE_TOKEN, {"id": to_global_id("User", pk_of(token))}, as_=world.admin)
    assert user_error_codes(body, "revokeToken") == ["NOT_FOUND"]
    row = await token_row(services, pk_of(token))
    assert row is not None and row.revoked_at is None


# --- deleteToken (R16) ------------------------------------------------------------------------


async def test_delete_token_active_is_refused(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    body = await api(DELETE_TOKEN, {"id": tid(token)}, as_=world.admin)
    assert user_error_codes(body, "deleteToken") == ["TOKEN_ACTIVE"]
    assert payload(body, "deleteToken")["deletedTokenId"] is None
    assert await token_row(services, pk_of(token)) is not None


async def test_delete_token_revoked_is_deleted(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    await revoke(api, world.admin, token)
    result = payload(await api(DELETE_TOKEN, {"id": tid(token)}, as_=world.admin), "deleteToken")
    assert result == {"deletedTokenId": tid(token), "errors": []}
    assert await token_row(services, pk_of(token)) is None
    assert names(await api(TOKENS, {"first": 10}, as_=world.admin)) == []


async def test_delete_token_expired_is_deleted(
    api: Api, world: World, factory: Factory, services: Services, later: Later
) -> None:
    token = await factory.token(world.dev, expires_at=START + LONG)
    later(days=LONG.days)
    dev = await relogin(factory, world.dev)
    result = payload(await api(DELETE_TOKEN, {"id": tid(token)}, as_=dev), "deleteToken")
    assert result == {"deletedTokenId": tid(token), "errors": []}
    assert await token_row(services, pk_of(token)) is None


async def test_delete_token_developer_deletes_own_revoked_token(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    await revoke(api, world.dev, token)
    result = payload(await api(DELETE_TOKEN, {"id": tid(token)}, as_=world.dev), "deleteToken")
    assert result["errors"] == []
    assert await token_row(services, pk_of(token)) is None


async def test_delete_token_developer_cannot_delete_another_users_token(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev2)
    await revoke(api, world.admin, token)
    assert_no_permission(await api(DELETE_TOKEN, {"id": tid(token)}, as_=world.dev), "deleteToken")
    assert await token_row(services, pk_of(token)) is not None


async def test_delete_token_of_another_organization_is_not_found(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    token = await factory.token(world.dev)
    await revoke(api, world.admin, token)
    body = await api(DELETE_TOKEN, {"id": tid(token)}, as_=world.other_admin)
    assert user_error_codes(body, "deleteToken") == ["NOT_FOUND"]
    assert await token_row(services, pk_of(token)) is not None


async def test_delete_token_twice_is_not_found(api: Api, world: World, factory: Factory) -> None:
    token = await factory.token(world.dev)
    await revoke(api, world.admin, token)
    payload(await api(DELETE_TOKEN, {"id": tid(token)}, as_=world.admin), "deleteToken")
    body = await api(DELETE_TOKEN, {"id": tid(token)}, as_=world.admin)
    assert user_error_codes(body, "deleteToken") == ["NOT_FOUND"]


# --- tokens: scope, filters, pagination -------------------------------------------------------


async def test_tokens_admin_sees_every_token_of_the_organization(
    api: Api, world: World, factory: Factory
) -> None:
    await factory.token(world.admin, name="admin-ci")
    await factory.token(world.dev, name="dev-ci")
    await factory.token(world.dev2, name="dev2-ci")
    await factory.token(world.other_admin, name="globex-ci")
    body = await api(TOKENS, {"first": 10}, as_=world.admin)
    assert names(body) == ["admin-ci", "dev-ci", "dev2-ci"]
    assert body["data"]["tokens"]["totalCount"] == 3


async def test_tokens_developer_sees_only_own_tokens(
    api: Api, world: World, factory: Factory
) -> None:
    await factory.token(world.admin, name="admin-ci")
    await factory.token(world.dev, name="dev-ci")
    await factory.token(world.dev2, name="dev2-ci")
    body = await api(TOKENS, {"first": 10}, as_=world.dev)
    assert names(body) == ["dev-ci"]
    assert body["data"]["tokens"]["totalCount"] == 1


async def test_tokens_developer_cannot_read_another_users_token_by_node(
    api: Api, world: World, factory: Factory
) -> None:
    token = await factory.token(world.dev2)
    assert (await api(NODE, {"id": tid(token)}, as_=world.dev))["data"]["node"] is None


async def test_tokens_other_organization_cannot_read_token_by_node(
    api: Api, world: World, factory: Factory
) -> None:
    token = await factory.token(world.dev)
    body = await api(NODE, {"id": tid(token)}, as_=world.other_admin)
    assert body["data"]["node"] is None and not body.get("errors")


@pytest.mark.parametrize(
    ("status", "expected"),
    [("ACTIVE", ["active"]), ("EXPIRED", ["expired"]), ("REVOKED", ["revoked"])],
)
async def test_tokens_filter_by_status(
    api: Api, world: World, factory: Factory, later: Later, status: str, expected: list[str]
) -> None:
    await factory.token(world.dev, name="active", expires_at=START + 2 * LONG)
    await factory.token(world.dev, name="expired", expires_at=START + LONG)
    revoked = await factory.token(world.dev, name="revoked")
    await revoke(api, world.admin, revoked)
    later(days=LONG.days)
    admin = await relogin(factory, world.admin)
    body = await api(TOKENS, {"first": 10, "filter": {"status": status}}, as_=admin)
    assert names(body) == expected
    assert body["data"]["tokens"]["totalCount"] == 1


async def test_tokens_filter_by_created_by(api: Api, world: World, factory: Factory) -> None:
    await factory.token(world.admin, name="admin-ci")
    await factory.token(world.dev, name="dev-ci")
    body = await api(TOKENS, {"first": 10, "filter": {"createdBy": world.dev.id}}, as_=world.admin)
    assert names(body) == ["dev-ci"]


async def test_tokens_developer_filter_by_another_creator_is_empty(
    api: Api, world: World, factory: Factory
) -> None:
    await factory.token(world.dev2, name="dev2-ci")
    body = await api(TOKENS, {"first": 10, "filter": {"createdBy": world.dev2.id}}, as_=world.dev)
    assert names(body) == [] and body["data"]["tokens"]["totalCount"] == 0


async def test_tokens_paginate_forward_with_first_and_after(
    api: Api, world: World, factory: Factory
) -> None:
    for i in range(1, 6):
        await factory.token(world.dev, name=f"t{i}")
    seen: list[list[str]] = []
    flags: list[tuple[bool, bool]] = []
    after = None
    while True:
        body = await api(TOKENS, {"first": 2, "after": after}, as_=world.admin)
        connection = body["data"]["tokens"]
        assert connection["totalCount"] == 5
        seen.append(names(body))
        info = connection["pageInfo"]
        flags.append((info["hasNextPage"], info["hasPreviousPage"]))
        assert info["endCursor"] == connection["edges"][-1]["cursor"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
    assert seen == [["t1", "t2"], ["t3", "t4"], ["t5"]]
    assert flags == [(True, False), (True, True), (False, True)]


async def test_tokens_paginate_backward_with_last_and_before(
    api: Api, world: World, factory: Factory
) -> None:
    for i in range(1, 6):
        await factory.token(world.dev, name=f"t{i}")
    seen: list[list[str]] = []
    before = None
    while True:
        body = await api(TOKENS, {"last": 2, "before": before}, as_=world.admin)
        seen.append(names(body))
        info = body["data"]["tokens"]["pageInfo"]
        if not info["hasPreviousPage"]:
            break
        before = info["startCursor"]
    assert seen == [["t4", "t5"], ["t2", "t3"], ["t1"]]


async def test_tokens_first_over_100_is_an_error(api: Api, world: World, factory: Factory) -> None:
    await factory.token(world.dev)
    body = await api(TOKENS, {"first": 101}, as_=world.admin)
    assert body["data"]["tokens"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_tokens_first_100_is_allowed(api: Api, world: World, factory: Factory) -> None:
    await factory.token(world.dev)
    body = await api(TOKENS, {"first": 100}, as_=world.admin)
    assert names(body) == ["automation"]


async def test_tokens_garbage_cursor_is_an_error(api: Api, world: World) -> None:
    body = await api(TOKENS, {"first": 2, "after": "not-a-cursor"}, as_=world.admin)
    assert body["data"]["tokens"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]


# --- viewerCanRevoke / viewerCanDelete --------------------------------------------------------


@pytest.mark.parametrize(
    ("viewer", "owner", "state", "can_revoke", "can_delete"),
    [
        ("admin", "dev", "ACTIVE", True, False),
        ("admin", "dev", "REVOKED", False, True),
        ("admin", "dev", "EXPIRED", True, True),
        ("admin", "admin", "ACTIVE", True, False),
        ("dev", "dev", "ACTIVE", True, False),
        ("dev", "dev", "REVOKED", False, True),
        ("dev", "dev", "EXPIRED", True, True),
        ("admin_read_only_token", "dev", "ACTIVE", False, False),
        ("admin_read_only_token", "dev", "REVOKED", False, False),
        ("dev_read_write_token", "dev", "REVOKED", False, True),
    ],
)
async def test_tokens_viewer_can_flags(
    api: Api,
    world: World,
    factory: Factory,
    later: Later,
    viewer: str,
    owner: str,
    state: str,
    can_revoke: bool,
    can_delete: bool,
) -> None:
    owners = {"admin": world.admin, "dev": world.dev}
    target = await factory.token(owners[owner], name="target", expires_at=START + LONG)
    viewers = {
        "admin": world.admin,
        "dev": world.dev,
        "admin_read_only_token": await factory.token(world.admin, TokenPermission.READ_ONLY, "ro"),
        "dev_read_write_token": await factory.token(world.dev, TokenPermission.READ_WRITE, "rw"),
    }
    if state == "REVOKED":
        await revoke(api, world.admin, target)
    if state == "EXPIRED":
        later(days=LONG.days)  # the viewers' tokens never expire; their sessions do
        viewers["admin"] = await relogin(factory, world.admin)
        viewers["dev"] = await relogin(factory, world.dev)
    node = (await api(NODE, {"id": tid(target)}, as_=viewers[viewer]))["data"]["node"]
    assert node["status"] == state
    assert (node["viewerCanRevoke"], node["viewerCanDelete"]) == (can_revoke, can_delete)


async def test_tokens_viewer_can_revoke_agrees_with_revoke_token_on_expired_token(
    api: Api, world: World, factory: Factory, later: Later
) -> None:
    target = await factory.token(world.dev, expires_at=START + LONG)
    later(days=LONG.days)
    dev = await relogin(factory, world.dev)
    flag = (await api(NODE, {"id": tid(target)}, as_=dev))["data"]["node"]["viewerCanRevoke"]
    errors = payload(await api(REVOKE_TOKEN, {"id": tid(target)}, as_=dev), "revokeToken")["errors"]
    assert flag == (errors == [])


# --- R14: a token acts as its owner, capped by its permission ---------------------------------


async def test_read_only_token_can_query_what_its_owner_can(
    api: Api, world: World, factory: Factory
) -> None:
    token = await factory.token(world.dev, TokenPermission.READ_ONLY, "ro")
    await factory.token(world.dev2, name="dev2-ci")
    body = await api(READ_EVERYTHING_OWNED, as_=token)
    assert not body.get("errors"), body
    assert body["data"]["viewer"] == {"email": "dev@acme.test"}
    assert body["data"]["users"]["totalCount"] == 3
    assert [n["name"] for n in body["data"]["tokens"]["nodes"]] == ["ro"]


async def test_read_only_token_cannot_read_more_than_its_owner(
    api: Api, world: World, factory: Factory
) -> None:
    token = await factory.token(world.dev, TokenPermission.READ_ONLY, "ro")
    assert_no_permission(await api(AUDIT_EVENTS, as_=token), "auditEvents")


@pytest.mark.parametrize(
    "operation",
    [
        "createToken",
        "revokeToken",
        "deleteToken",
        "inviteUser",
        "updateUserRole",
        "deleteUser",
        "logout",
        "updateOrganizationSettings",
    ],
)
async def test_read_only_token_every_mutation_is_forbidden(
    api: Api, world: World, factory: Factory, services: Services, operation: str
) -> None:
    token = await factory.token(world.admin, TokenPermission.READ_ONLY, "ro")
    target = await factory.token(world.dev, name="target")
    revoked = await factory.token(world.dev, name="revoked")
    await revoke(api, world.admin, revoked)
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "createToken": (CREATE_TOKEN, {"input": {"name": "new", "permission": "READ_WRITE"}}),
        "revokeToken": (REVOKE_TOKEN, {"id": tid(target)}),
        "deleteToken": (DELETE_TOKEN, {"id": tid(revoked)}),
        "inviteUser": (INVITE_USER, {"email": "new@acme.test"}),
        "updateUserRole": (UPDATE_USER_ROLE, {"id": world.dev.id, "role": "ADMIN"}),
        "deleteUser": (DELETE_USER, {"id": world.dev.id}),
        "logout": (LOGOUT, {}),
        "updateOrganizationSettings": (UPDATE_ORGANIZATION, {"name": "Renamed"}),
    }
    before = await database_state(services)
    document, variables = calls[operation]
    assert_no_permission(await api(document, variables, as_=token), operation)
    assert await database_state(services) == before
    # The token still works for reading afterwards: logout did not end anything either.
    assert (await api(WHO_AM_I, as_=token))["data"]["viewerToken"] == {"name": "ro"}


async def test_read_write_token_creates_a_token_owned_by_its_owner(
    api: Api, world: World, factory: Factory
) -> None:
    rw = await factory.token(world.dev, TokenPermission.READ_WRITE, "rw")
    result = payload(await create_token(api, rw, "child"), "createToken")
    assert result["errors"] == []
    assert result["token"]["createdBy"]["email"] == "dev@acme.test"


@pytest.mark.parametrize(
    "operation", ["inviteUser", "updateUserRole", "revokeToken", "auditEvents"]
)
async def test_read_write_token_of_a_developer_cannot_do_admin_things(
    api: Api, world: World, factory: Factory, services: Services, operation: str
) -> None:
    rw = await factory.token(world.dev, TokenPermission.READ_WRITE, "rw")
    others = await factory.token(world.dev2, name="dev2-ci")
    calls: dict[str, tuple[str, dict[str, Any]]] = {
        "inviteUser": (INVITE_USER, {"email": "new@acme.test"}),
        "updateUserRole": (UPDATE_USER_ROLE, {"id": world.dev.id, "role": "ADMIN"}),
        "revokeToken": (REVOKE_TOKEN, {"id": tid(others)}),
        "auditEvents": (AUDIT_EVENTS, {}),
    }
    before = await database_state(services)
    document, variables = calls[operation]
    assert_no_permission(await api(document, variables, as_=rw), operation)
    assert await database_state(services) == before


async def test_token_of_a_demoted_admin_loses_admin_rights_on_the_next_request(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    admin2 = await factory.member(world.org, "admin2@acme.test", TeamRole.ADMIN)
    rw = await factory.token(admin2, TokenPermission.READ_WRITE, "rw")
    await factory.token(world.dev, name="dev-ci")
    first = await api(INVITE_USER, {"email": "first@acme.test"}, as_=rw)
    assert payload(first, "inviteUser")["user"]["email"] == "first@acme.test"
    assert names(await api(TOKENS, {"first": 10}, as_=rw)) == ["rw", "dev-ci"]
    demoted = await api(UPDATE_USER_ROLE, {"id": admin2.id, "role": "DEVELOPER"}, as_=world.admin)
    assert payload(demoted, "updateUserRole")["user"]["role"] == "DEVELOPER"
    before = await database_state(services)
    assert_no_permission(
        await api(INVITE_USER, {"email": "second@acme.test"}, as_=rw), "inviteUser"
    )
    assert await database_state(services) == before
    assert names(await api(TOKENS, {"first": 10}, as_=rw)) == ["rw"]


async def test_token_of_a_promoted_developer_gains_admin_rights(
    api: Api, world: World, factory: Factory
) -> None:
    rw = await factory.token(world.dev, TokenPermission.READ_WRITE, "rw")
    payload(
        await api(UPDATE_USER_ROLE, {"id": world.dev.id, "role": "ADMIN"}, as_=world.admin),
        "updateUserRole",
    )
    body = await api(INVITE_USER, {"email": "new@acme.test"}, as_=rw)
    assert payload(body, "inviteUser")["user"]["status"] == "INVITED"


# --- R6: deleting a user revokes their tokens --------------------------------------------------


async def test_delete_user_revokes_their_tokens_and_keeps_them_listed(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    first = await factory.token(world.dev, name="one")
    second = await factory.token(world.dev, TokenPermission.READ_ONLY, "two")
    other = await factory.token(world.dev2, name="dev2-ci")
    body = await api(DELETE_USER, {"id": world.dev.id}, as_=world.admin)
    assert payload(body, "deleteUser") == {"deletedUserId": world.dev.id, "errors": []}
    listed = await api(TOKENS, {"first": 10}, as_=world.admin)
    statuses = {e["node"]["name"]: e["node"]["status"] for e in listed["data"]["tokens"]["edges"]}
    assert statuses == {"one": "REVOKED", "two": "REVOKED", "dev2-ci": "ACTIVE"}
    creators = {
        e["node"]["name"]: e["node"]["createdBy"] for e in listed["data"]["tokens"]["edges"]
    }
    assert creators["one"] == {"id": world.dev.id, "email": "dev@acme.test"}
    for token in (first, second):
        assert error_codes(await api(WHO_AM_I, as_=token, expect_status=401)) == ["UNAUTHENTICATED"]
    assert (await api(WHO_AM_I, as_=other))["data"]["viewer"]["email"] == "dev2@acme.test"
    row = await token_row(services, pk_of(first))
    assert row is not None and row.revoked_by_id == world.admin.user_pk


# --- state snapshot ---------------------------------------------------------------------------


async def test_create_token_expires_at_with_an_offset_is_returned_in_utc(
    api: Api, world: World, services: Services
) -> None:
    variables = {
        "input": {
            "name": "ci",
            "permission": "READ_WRITE",
            "expiresAt": "2027-01-01T12:00:00+02:00",
        }
    }
    token = payload(await api(CREATE_TOKEN, variables, as_=world.admin), "createToken")["token"]
    [row] = await token_rows(services)
    assert row.expires_at == datetime(2027, 1, 1, 10, tzinfo=UTC)
    listed = await api(TOKENS, {"first": 1}, as_=world.admin)
    in_utc = listed["data"]["tokens"]["edges"][0]["node"]["expiresAt"]
    assert in_utc in ("2027-01-01T10:00:00+00:00", "2027-01-01T10:00:00Z")
    # API.md: dates are UTC; the answer to createToken must not differ from every later read.
    assert token["expiresAt"] == in_utc


@pytest.mark.parametrize(
    "arguments",
    [{"first": 101}, {"first": -1}, {"last": 101}, {"first": 2, "last": 2}],
    ids=["first-101", "first-negative", "last-101", "first-and-last"],
)
async def test_tokens_bad_page_arguments_are_an_error(
    api: Api, world: World, factory: Factory, arguments: dict[str, int]
) -> None:
    await factory.token(world.dev)
    body = await api(TOKENS, arguments, as_=world.admin)
    assert body["data"]["tokens"] is None
    assert error_codes(body) == ["BAD_USER_INPUT"]


async def test_tokens_other_organization_filtering_by_an_acme_user_sees_nothing(
    api: Api, world: World, factory: Factory
) -> None:
    await factory.token(world.dev, name="dev-ci")
    await factory.token(world.other_admin, name="globex-ci")
    filt = {"createdBy": world.dev.id}
    body = await api(TOKENS, {"first": 10, "filter": filt}, as_=world.other_admin)
    assert names(body) == [] and body["data"]["tokens"]["totalCount"] == 0


async def test_user_tokens_developer_sees_none_of_another_users_tokens(
    api: Api, world: World, factory: Factory
) -> None:
    await factory.token(world.dev2, name="dev2-ci")
    query = "query U($id: ID!) { user(id: $id) { email tokens { name } } }"
    as_dev = await api(query, {"id": world.dev2.id}, as_=world.dev)
    assert as_dev["data"]["user"] == {"email": "dev2@acme.test", "tokens": []}
    as_admin = await api(query, {"id": world.dev2.id}, as_=world.admin)
    assert as_admin["data"]["user"]["tokens"] == [{"name": "dev2-ci"}]


async def test_revoke_token_twice_at_the_same_time_revokes_once(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """R15 on two server instances: one revocation wins, the other is TOKEN_ALREADY_REVOKED,
    and the audit log records one revocation per token."""
    other_instance = Services.build(services.settings, clock=services.clock, mailer=services.mailer)
    app = create_app(other_instance.settings, services=other_instance)
    targets = [await factory.token(world.dev, name=f"t{i}") for i in range(6)]
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as second:

            async def revoke_on(client: httpx.AsyncClient, token: Actor) -> list[str]:
                response = await client.post(
                    "/graphql",
                    json={"query": REVOKE_TOKEN, "variables": {"id": tid(token)}},
                    headers=world.admin.headers,
                )
                return [e["code"] for e in payload(response.json(), "revokeToken")["errors"]]

            for token in targets:
                outcomes = await asyncio.gather(
                    revoke_on(api.client, token), revoke_on(second, token)
                )
                assert sorted(outcomes) == [[], ["TOKEN_ALREADY_REVOKED"]], outcomes
    finally:
        await other_instance.db.dispose()
    async with services.db.session() as session:
        actions = list(
            (await session.execute(select(AuditEvent.action))).scalars()  # type: ignore[call-overload]
        )
    assert actions.count("token.revoke") == len(targets)


# --- A user's tokens (read as plain rows: issue 8) answer as the token page does --------------

USERS_WITH_TOKENS = f"""
query {{ users(first: 10) {{ nodes {{ email tokens {{ {TOKEN_FIELDS} }} }} }} }}"""


@pytest.mark.parametrize("viewer", ["admin", "dev"])
async def test_a_users_tokens_answer_as_the_token_page_does(
    api: Api, world: World, factory: Factory, later: Later, viewer: str
) -> None:
    """Every field, the policy's answers (viewerCanRevoke, viewerCanDelete) and createdBy
    included, and the scope (R15: a developer sees only their own tokens, nested or not)."""
    await factory.token(world.admin, name="admin-ci")
    await factory.token(
        world.dev, TokenPermission.READ_ONLY, name="dev-expiring", expires_at=START + LONG
    )
    revoked = await factory.token(world.dev, name="dev-revoked")
    await revoke(api, world.admin, revoked)
    await factory.token(world.dev2, name="dev2-ci")
    await factory.token(world.other_admin, name="globex-ci")
    later(days=LONG.days)
    caller = await relogin(factory, getattr(world, viewer))
    listed = await api(TOKENS, {"first": 10}, as_=caller)
    nested = await api(USERS_WITH_TOKENS, as_=caller)
    assert not listed.get("errors") and not nested.get("errors"), (listed, nested)
    page = [edge["node"] for edge in listed["data"]["tokens"]["edges"]]
    by_user = [token for user in nested["data"]["users"]["nodes"] for token in user["tokens"]]
    assert by_user == page
    names_seen = [token["name"] for token in by_user]
    if viewer == "admin":
        assert names_seen == ["admin-ci", "dev-expiring", "dev-revoked", "dev2-ci"]
        assert {t["name"]: t["status"] for t in by_user}["dev-expiring"] == "EXPIRED"
        assert all(t["viewerCanRevoke"] == (t["status"] != "REVOKED") for t in by_user)
    else:
        assert names_seen == ["dev-expiring", "dev-revoked"]
        assert [t["viewerCanDelete"] for t in by_user] == [True, True]
    # The same reads (compiled once) for another organization: its own tokens only (R1).
    other = await api(USERS_WITH_TOKENS, as_=await relogin(factory, world.other_admin))
    assert [t["name"] for u in other["data"]["users"]["nodes"] for t in u["tokens"]] == [
        "globex-ci"
    ]


async def test_a_users_tokens_are_read_on_the_driver(
    api: Api, world: World, factory: Factory, monkeypatch: pytest.MonkeyPatch, services: Services
) -> None:
    """The page of users and their tokens take no ORM session (issue 8: row_reads.py)."""
    query = "{ users(first: 10) { nodes { email tokens { name status viewerCanRevoke } } } }"
    await factory.token(world.dev, name="dev-ci")
    caller = await relogin(factory, world.admin)
    assert not (await api(query, as_=caller)).get("errors")  # compiled, warm

    def no_session() -> Any:
        raise AssertionError("a read took SQLAlchemy's way")

    monkeypatch.setattr(services.db, "session", no_session)
    body = await api(query, as_=caller)
    assert not body.get("errors"), body
    assert [t["name"] for u in body["data"]["users"]["nodes"] for t in u["tokens"]] == ["dev-ci"]
