"""Signing-key rotation (issue 7, RFC 8725): `accessgraph keys rotate` adds a key (its `kid` in
the JWT header) that signs from then on; older keys verify until retired; an instance that
meets an unknown kid reloads the keys at once."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from accessgraph.auth import keys
from accessgraph.auth.tokens import InvalidToken, TokenKind
from accessgraph.cli import cli
from accessgraph.errors import Rejected
from accessgraph.models import TokenPermission
from accessgraph.services import Services
from tests.conftest import Api, Factory, World

VIEWER = "{ viewer { email } }"


def _hs256(header: dict[str, object], claims: dict[str, object], key: str) -> str:
    """A JWT built by hand (PyJWT refuses to write some of what an attacker would)."""
    import base64
    import hashlib
    import hmac
    import json

    def part(data: dict[str, object]) -> str:
        raw = json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims)}"
    mac = hmac.new(key.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


async def _works(api: Api, actor: object) -> bool:
    response = await api.client.post(
        "/graphql",
        json={"query": VIEWER},
        headers=actor.headers,  # type: ignore[attr-defined]
    )
    return response.status_code == 200


async def test_rotated_key_signs_and_old_ones_verify_until_retired(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    before = await factory.token(world.dev, TokenPermission.READ_ONLY, name="legacy")
    assert "kid" not in jwt.get_unverified_header(before.extra["value"])

    first = await keys.rotate(services.db, services.clock.now())
    await keys.load(services.db, services.signer)
    signed_first = await factory.token(world.dev, TokenPermission.READ_ONLY, name="first")
    assert jwt.get_unverified_header(signed_first.extra["value"])["kid"] == first

    second = await keys.rotate(services.db, services.clock.now())
    await keys.load(services.db, services.signer)
    signed_second = await factory.token(world.dev, TokenPermission.READ_ONLY, name="second")
    assert jwt.get_unverified_header(signed_second.extra["value"])["kid"] == second
    assert all([await _works(api, t) for t in (before, signed_first, signed_second)])

    await keys.retire(services.db, first, services.clock.now())
    await keys.load(services.db, services.signer)
    assert not await _works(api, signed_first)
    assert await _works(api, before) and await _works(api, signed_second)

    await keys.retire(services.db, "legacy", services.clock.now())
    await keys.load(services.db, services.signer)
    assert not await _works(api, before)
    assert await _works(api, signed_second)


async def test_unknown_kid_makes_an_instance_reload(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """Another instance rotated and signed: this one has never loaded that key."""
    other = Services.build(services.settings, clock=services.clock, mailer=services.mailer)
    try:
        kid = await keys.rotate(other.db, other.clock.now())
        await keys.load(other.db, other.signer)
        value = other.signer.issue(
            TokenKind.SESSION,
            subject=world.dev.user_pk or 0,
            org_id=world.org,
            jti="nope",
            now=other.clock.now(),
            expires_at=None,
        )
        assert jwt.get_unverified_header(value)["kid"] == kid
        # This instance verifies it after reloading (the session id is unknown: refused later,
        # by the database, not by the signature).
        claims = await keys.verify(
            services.db, services.signer, value, TokenKind.SESSION, services.clock.now()
        )
        assert claims.jti == "nope"
    finally:
        await other.db.dispose()


async def test_forged_kids_and_keys_are_refused(services: Services, world: World) -> None:
    now = services.clock.now()
    claims = {"iss": "accessgraph", "aud": "accessgraph-api", "sub": "1", "org": 1,
              "typ": "session", "jti": "x", "iat": int(now.timestamp()),
              "exp": int(now.timestamp()) + 60}  # fmt: skip
    kid = await keys.rotate(services.db, now)
    await keys.load(services.db, services.signer)
    forged = [
        # A real kid, signed with the secret key itself (not the key the kid names).
        jwt.encode(claims, services.settings.secret_key, "HS256", headers={"kid": kid}),
        # A kid that names nothing, even after a reload.
        jwt.encode(claims, services.settings.secret_key, "HS256", headers={"kid": "ffff"}),
        # Path-like or non-string kids.
        jwt.encode(claims, services.settings.secret_key, "HS256", headers={"kid": "../../x"}),
        _hs256({"alg": "HS256", "typ": "JWT", "kid": 7}, claims, services.settings.secret_key),
        # alg none.
        jwt.encode(claims, None, "none"),
    ]
    for value in forged:
        with pytest.raises(InvalidToken):
            await keys.verify(services.db, services.signer, value, TokenKind.SESSION, now)


async def test_the_last_key_that_signs_is_never_retired(services: Services) -> None:
    now = services.clock.now()
    with pytest.raises(Rejected) as refused:
        await keys.retire(services.db, "legacy", now)
    assert refused.value.problems[0].code == "LAST_KEY"
    kid = await keys.rotate(services.db, now)
    await keys.retire(services.db, "legacy", now)
    with pytest.raises(Rejected) as refused:
        await keys.retire(services.db, kid, now)
    assert refused.value.problems[0].code == "LAST_KEY"
    with pytest.raises(Rejected) as refused:
        await keys.retire(services.db, "unknown", now)
    assert refused.value.problems[0].code == "NOT_FOUND"


def test_keys_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESSGRAPH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/k.db")
    runner = CliRunner()
    listed = runner.invoke(cli, ["keys", "list"])
    assert listed.exit_code == 0 and "secret key itself signs" in listed.output
    rotated = runner.invoke(cli, ["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    kid = rotated.output.split()[3].rstrip(":")
    assert kid in runner.invoke(cli, ["keys", "list"]).output
    assert runner.invoke(cli, ["keys", "retire", "legacy"]).exit_code == 0
    last = runner.invoke(cli, ["keys", "retire", kid])
    assert last.exit_code == 1 and "LAST_KEY" in last.output
