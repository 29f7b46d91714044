"""Console sign-in: login, the session cookie, logout, and credential failures."""

from __future__ import annotations

import base64
import time

import jwt
import pytest

from accessgraph.models import TeamRole, UserStatus
from tests.conftest import PASSWORD, Api, Factory, World, error_codes, payload, user_error_codes

LOGIN = """
mutation Login($email: String!, $password: String!, $org: String) {
  login(input: {email: $email, password: $password, organization: $org}) {
    token viewer { email role status lastLoginAt } errors { code message field }
  }
}"""
VIEWER = "{ viewer { email role } }"
LOGOUT = "mutation { logout { ok errors { code } } }"


async def test_login_sets_httponly_strict_cookie_and_authenticates(api: Api, world: World) -> None:
    response = await api.client.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"email": "ADMIN@acme.test", "password": PASSWORD}},
    )
    result = response.json()["data"]["login"]
    assert result["errors"] == []
    assert result["viewer"]["email"] == "admin@acme.test"
    assert result["viewer"]["lastLoginAt"].startswith("2026-11-23T12:00:00")
    cookie = response.headers["set-cookie"]
    assert "accessgraph_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    # The client keeps the cookie: the next request is the admin.
    body = await api(VIEWER)
    assert body["data"]["viewer"] == {"email": "admin@acme.test", "role": "ADMIN"}


async def test_login_wrong_password_is_invalid_credentials(api: Api, world: World) -> None:
    body = await api(LOGIN, {"email": "admin@acme.test", "password": "wrong password!!"})
    assert user_error_codes(body, "login") == ["INVALID_CREDENTIALS"]
    assert payload(body, "login")["token"] is None


async def test_login_unknown_email_costs_as_much_as_wrong_password(api: Api, world: World) -> None:
    # Both paths run one argon2 verification; allow generous noise but not a 10x gap.
    async def timed(email: str) -> float:
        start = time.perf_counter()
        body = await api(LOGIN, {"email": email, "password": "wrong password!!"})
        assert user_error_codes(body, "login") == ["INVALID_CREDENTIALS"]
        return time.perf_counter() - start

    known = min([await timed("admin@acme.test") for _ in range(3)])
    unknown = min([await timed("nobody@acme.test") for _ in range(3)])
    assert unknown > known * 0.5, (known, unknown)


async def test_login_invited_user_without_password_fails(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.org, "pending@acme.test", status=UserStatus.INVITED)
    body = await api(LOGIN, {"email": "pending@acme.test", "password": PASSWORD})
    assert user_error_codes(body, "login") == ["INVALID_CREDENTIALS"]


async def test_login_same_email_in_two_orgs_requires_organization(
    api: Api, factory: Factory, world: World
) -> None:
    await factory.user(world.other_org, "dev@acme.test", TeamRole.ADMIN)
    body = await api(LOGIN, {"email": "dev@acme.test", "password": PASSWORD})
    assert user_error_codes(body, "login") == ["ORGANIZATION_REQUIRED"]
    body = await api(LOGIN, {"email": "dev@acme.test", "password": PASSWORD, "org": "Globex"})
    assert payload(body, "login")["viewer"]["role"] == "ADMIN"


async def test_logout_ends_the_session_everywhere(api: Api, world: World) -> None:
    body = await api(LOGOUT, as_=world.admin)
    assert payload(body, "logout")["ok"] is True
    # The same session token, replayed, is refused.
    body = await api(VIEWER, as_=world.admin, expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_stale_cookie_does_not_block_login(api: Api, world: World) -> None:
    api.client.cookies.set("accessgraph_session", "garbage")
    body = await api(LOGIN, {"email": "admin@acme.test", "password": PASSWORD})
    assert payload(body, "login")["errors"] == []


async def test_session_expires_after_its_ttl(api: Api, world: World, later) -> None:  # type: ignore[no-untyped-def]
    later(hours=12, seconds=1)
    body = await api(VIEWER, as_=world.admin, expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer not-a-jwt",
        "Bearer " + jwt.encode({"sub": "1"}, key="", algorithm="none"),
        "Basic " + base64.b64encode(b"nobody:secret").decode(),
        "Basic !!!",
        "Digest abc",
    ],
    ids=["garbage", "alg-none", "unknown-basic", "malformed-basic", "unknown-scheme"],
)
async def test_bad_authorization_header_is_unauthenticated(
    api: Api, world: World, header: str
) -> None:
    response = await api.client.post(
        "/graphql", json={"query": VIEWER}, headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
