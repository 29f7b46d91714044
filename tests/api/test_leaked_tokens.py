"""`reportLeakedToken` (issue 7): anyone hands in a credential found in the wild; a live one is
revoked at once and its owner emailed; the answer is the same whatever was submitted."""

from __future__ import annotations

import asyncio
from typing import Any

import jwt

from accessgraph.models import TokenPermission
from accessgraph.services import Services
from accessgraph.settings import Limits
from tests.conftest import (
    ANONYMOUS,
    Actor,
    Api,
    Factory,
    RecordingMailer,
    World,
    assert_unauthenticated,
    database_state,
    payload,
)

REPORT = """
mutation($token: String!) {
  reportLeakedToken(input: {token: $token}) { received errors { code } }
}"""
VIEWER = "{ viewer { email } }"
AUDIT = "{ auditEvents(first: 20) { nodes { action actorLabel after } } }"


async def _report(api: Api, value: str, as_: Actor = ANONYMOUS) -> dict[str, Any]:
    body = await api(REPORT, {"token": value}, as_=as_)
    assert payload(body, "reportLeakedToken") == {"received": True, "errors": []}
    return body


async def _refused(api: Api, actor: Actor) -> None:
    """The credential no longer works: 401, UNAUTHENTICATED."""
    body = await api(VIEWER, as_=actor, expect_status=401)
    assert_unauthenticated(body, "viewer")


async def _mail_to(mailer: RecordingMailer, to: str) -> list[Any]:
    """The notices sent to `to` (delivered in the background, after the answer)."""
    for _ in range(100):
        found = [m for m in mailer.sent if m.to == to]
        if found:
            return found
        await asyncio.sleep(0.01)
    return []


async def test_reported_access_token_is_revoked_and_its_owner_told(
    api: Api, world: World, factory: Factory, mailer: RecordingMailer
) -> None:
    token = await factory.token(world.dev, TokenPermission.READ_WRITE, name="ci-deploy")
    assert (await api(VIEWER, as_=token))["data"]["viewer"]["email"] == "dev@acme.test"
    await _report(api, token.extra["value"])
    await _refused(api, token)
    [notice] = await _mail_to(mailer, "dev@acme.test")
    assert "ci-deploy" in notice.body and "revoked" in notice.body
    assert token.extra["value"] not in notice.body
    body = await api(AUDIT, as_=world.admin)
    [event] = [e for e in body["data"]["auditEvents"]["nodes"] if e["action"] == "token.revoke"]
    assert event["actorLabel"] == "leaked-credential report"
    assert event["after"]["reason"] == "reported as leaked"


async def test_reported_session_is_ended(api: Api, world: World, mailer: RecordingMailer) -> None:
    session_token = world.dev.headers["Authorization"].removeprefix("Bearer ")
    await _report(api, session_token, as_=world.admin)  # signed-in reporters are welcome too
    await _refused(api, world.dev)
    assert await _mail_to(mailer, "dev@acme.test")
    assert (await api(VIEWER, as_=world.admin))["data"]["viewer"]["email"] == "admin@acme.test"


async def test_the_answer_never_tells_whether_the_token_was_valid(
    api: Api, world: World, factory: Factory, services: Services, mailer: RecordingMailer
) -> None:
    token = await factory.token(world.dev, TokenPermission.READ_ONLY)
    other = jwt.encode({"typ": "access", "jti": "x", "sub": "1"}, "not our key" * 4, "HS256")
    before = await database_state(services)
    answers = [
        await _report(api, value)
        for value in ("", "garbage", "a" * 5000, other, token.extra["value"][:-2] + "xx")
    ]
    assert await database_state(services) == before  # nothing revoked, nothing audited
    assert all(answer == answers[0] for answer in answers)
    valid = await _report(api, token.extra["value"])
    assert valid == answers[0]
    await _refused(api, token)
    # Reported again: already revoked, nothing more happens (no second email).
    await _mail_to(mailer, "dev@acme.test")
    before = await database_state(services)
    await _report(api, token.extra["value"])
    await asyncio.sleep(0.05)
    assert await database_state(services) == before
    assert len([m for m in mailer.sent if m.to == "dev@acme.test"]) == 1


async def test_reports_from_one_address_are_rate_limited(api: Api, world: World) -> None:
    for _ in range(Limits().leak_reports_per_hour):
        await _report(api, "garbage")
    body = await api(REPORT, {"token": "garbage"}, as_=ANONYMOUS)
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
