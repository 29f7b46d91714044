"""Rate limits (issue 7): failed logins per account and per client address, invitation emails
per organization, tokens per user. Past a limit the answer is RATE_LIMITED with `retryAfter`,
nothing is done, and the window's end lifts it (the injectable clock moves; no sleeping). The
counters are shared by every instance: in the database, or in Redis (tests/unit)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from accessgraph.rate_limits import DatabaseCounters, RateLimiter
from accessgraph.services import Services
from accessgraph.settings import Limits
from tests.conftest import ANONYMOUS, PASSWORD, Api, Factory, World, database_state, payload

LOGIN = """
mutation($email: String!, $password: String!) {
  login(input: {email: $email, password: $password}) { token errors { code } }
}"""
INVITE = """
mutation($email: String!) {
  inviteUser(input: {email: $email}) { user { email } errors { code } }
}"""
CREATE_TOKEN = """
mutation($name: String!) {
  createToken(input: {name: $name, permission: READ_ONLY}) { secret errors { code } }
}"""


@pytest.fixture
def limits(services: Services) -> Any:
    """Tighter limits on the test's services: `limits(login_failures_per_account=2)`."""

    def tighten(**values: Any) -> None:
        tight = replace(Limits(), **values)
        counters = DatabaseCounters(services.db, services.clock)
        object.__setattr__(services, "rate_limiter", RateLimiter(counters, tight))

    return tighten


def rate_limited(body: dict[str, Any]) -> int:
    """The retryAfter of a RATE_LIMITED answer."""
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED", body
    retry: int = error["extensions"]["retryAfter"]
    return retry


async def _login(api: Api, email: str, password: str) -> dict[str, Any]:
    return await api(LOGIN, {"email": email, "password": password}, as_=ANONYMOUS)


async def test_failed_logins_lock_the_account_until_the_window_ends(
    api: Api, world: World, limits: Any, later: Any
) -> None:
    limits(login_failures_per_account=3, login_window_minutes=15)
    for _ in range(3):
        body = await _login(api, "dev@acme.test", "wrong password")
        assert payload(body, "login")["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    # Locked: even the right password waits, and the answer says how long.
    assert rate_limited(await _login(api, "dev@acme.test", PASSWORD)) == 15 * 60
    later(minutes=10)
    assert rate_limited(await _login(api, "DEV@acme.test", PASSWORD)) == 5 * 60  # same account
    # Other accounts are not locked by it.
    assert payload(await _login(api, "dev2@acme.test", PASSWORD), "login")["token"]
    later(minutes=5)
    assert payload(await _login(api, "dev@acme.test", PASSWORD), "login")["token"]


async def test_successful_login_clears_the_accounts_failures(
    api: Api, world: World, limits: Any
) -> None:
    limits(login_failures_per_account=3)
    for _ in range(2):
        await _login(api, "dev@acme.test", "wrong password")
    assert payload(await _login(api, "dev@acme.test", PASSWORD), "login")["token"]
    for _ in range(2):
        await _login(api, "dev@acme.test", "wrong password")
    assert payload(await _login(api, "dev@acme.test", PASSWORD), "login")["token"]


async def test_failed_logins_from_one_address_lock_that_address(
    api: Api, world: World, limits: Any
) -> None:
    """Password spraying: one wrong password for many accounts, from one client."""
    limits(login_failures_per_account=100, login_failures_per_address=4)
    for n in range(4):
        await _login(api, f"nobody{n}@acme.test", "wrong password")
    assert rate_limited(await _login(api, "dev@acme.test", PASSWORD))


async def test_unknown_accounts_are_counted_like_known_ones(
    api: Api, world: World, limits: Any
) -> None:
    """The lock never tells whether an email exists."""
    limits(login_failures_per_account=2, login_failures_per_address=100)
    for email in ("dev@acme.test", "ghost@acme.test"):
        for _ in range(2):
            await _login(api, email, "wrong password")
        assert rate_limited(await _login(api, email, "wrong password")) == 15 * 60


async def test_invitations_per_organization_are_limited(
    api: Api, world: World, limits: Any, services: Services, later: Any
) -> None:
    limits(invitations_per_hour=2)
    for n in range(2):
        body = await api(INVITE, {"email": f"new{n}@acme.test"}, as_=world.admin)
        assert payload(body, "inviteUser")["errors"] == []
    before = await database_state(services)
    body = await api(INVITE, {"email": "one-too-many@acme.test"}, as_=world.admin)
    assert rate_limited(body) == 3600
    assert await database_state(services) == before  # no user, no email
    # Another organization has its own budget.
    body = await api(INVITE, {"email": "new@globex.test"}, as_=world.other_admin)
    assert payload(body, "inviteUser")["errors"] == []
    later(hours=1)
    body = await api(INVITE, {"email": "one-too-many@acme.test"}, as_=world.admin)
    assert payload(body, "inviteUser")["errors"] == []


async def test_token_creation_per_user_is_limited(
    api: Api, world: World, limits: Any, factory: Factory
) -> None:
    limits(tokens_per_hour=2)
    for n in range(2):
        body = await api(CREATE_TOKEN, {"name": f"t{n}"}, as_=world.dev)
        assert payload(body, "createToken")["secret"]
    body = await api(CREATE_TOKEN, {"name": "t3"}, as_=world.dev)
    assert rate_limited(body) == 3600
    body = await api(CREATE_TOKEN, {"name": "t3"}, as_=world.dev2)  # their own budget
    assert payload(body, "createToken")["secret"]


async def test_parallel_guesses_cannot_pass_the_account_limit(
    api: Api, world: World, limits: Any
) -> None:
    """20 wrong passwords at once against one account with a limit of 5: at most 5 are
    verified; the rest are RATE_LIMITED."""
    import asyncio

    limits(login_failures_per_account=5, login_failures_per_address=1000)
    bodies = await asyncio.gather(*(_login(api, "dev@acme.test", f"guess {n}") for n in range(20)))
    verified = [b for b in bodies if not b.get("errors")]
    assert len(verified) == 5
    assert all(payload(b, "login")["errors"] == [{"code": "INVALID_CREDENTIALS"}] for b in verified)
    assert all(rate_limited(b) for b in bodies if b.get("errors"))
