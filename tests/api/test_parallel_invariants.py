"""Issue 7: 20 parallel attempts at each invariant leave it whole (on PostgreSQL, truly in
parallel over the connection pool; on SQLite, serialized by BEGIN IMMEDIATE): one account per
invited email, one use of an invitation link, at least one active admin, and a revoked token
that stays refused."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from accessgraph.models import TeamRole, TokenPermission, User, UserStatus
from accessgraph.services import Services
from tests.conftest import ANONYMOUS, Api, Factory, RecordingMailer, World, payload

PARALLEL = 20
INVITE = """
mutation($email: String!) { inviteUser(input: {email: $email}) { user { id } errors { code } } }"""
ACCEPT = """
mutation($token: String!, $password: String!) {
  acceptInvitation(input: {token: $token, password: $password}) {
    user { status } errors { code }
  }
}"""
DEMOTE = """
mutation($id: ID!) {
  updateUserRole(input: {userId: $id, role: DEVELOPER}) { user { role } errors { code } }
}"""
REVOKE = """
mutation($id: ID!) { revokeToken(input: {tokenId: $id}) { token { status } errors { code } } }"""
VIEWER = "{ viewer { email } }"


async def _all(*calls: Any) -> list[Any]:
    return list(await asyncio.wait_for(asyncio.gather(*calls), timeout=120))


async def _count(services: Services, *where: Any) -> int:
    async with services.db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(User).where(*where)) or 0)


async def test_parallel_invitations_of_one_email_make_one_account(
    api: Api, world: World, services: Services
) -> None:
    bodies = await _all(
        *(api(INVITE, {"email": "Same@Acme.test"}, as_=world.admin) for _ in range(PARALLEL))
    )
    codes = sorted(
        tuple(e["code"] for e in payload(body, "inviteUser")["errors"]) for body in bodies
    )
    assert codes == [()] + [("EMAIL_TAKEN",)] * (PARALLEL - 1)
    assert await _count(services, col(User.email_normalized) == "same@acme.test") == 1


async def test_parallel_uses_of_one_invitation_link_accept_once(
    api: Api, world: World, services: Services, mailer: RecordingMailer
) -> None:
    body = await api(INVITE, {"email": "new@acme.test"}, as_=world.admin)
    assert payload(body, "inviteUser")["errors"] == []
    secret = mailer.last_secret("new@acme.test")
    bodies = await _all(
        *(
            api(ACCEPT, {"token": secret, "password": f"a long passphrase {n}"}, as_=ANONYMOUS)
            for n in range(PARALLEL)
        )
    )
    accepted = [b for b in bodies if payload(b, "acceptInvitation")["errors"] == []]
    assert len(accepted) == 1
    refused = {e["code"] for b in bodies for e in payload(b, "acceptInvitation")["errors"]}
    assert refused <= {"INVITATION_USED", "INVITATION_EXPIRED", "INVITATION_INVALID"}, refused
    active = (col(User.email_normalized) == "new@acme.test", col(User.status) == UserStatus.ACTIVE)
    assert await _count(services, *active) == 1


async def test_parallel_demotions_of_every_admin_keep_one(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """20 admins, each demoting the next one, all at once: at least one stays ACTIVE ADMIN (R4)."""
    admins = [world.admin] + [
        await factory.member(world.org, f"admin{n}@acme.test", TeamRole.ADMIN)
        for n in range(PARALLEL - 1)
    ]
    await _all(
        *(
            api(DEMOTE, {"id": admins[(n + 1) % PARALLEL].id}, as_=admins[n], expect_status=200)
            for n in range(PARALLEL)
        )
    )
    remaining = await _count(
        services,
        col(User.org_id) == world.org,
        col(User.role) == TeamRole.ADMIN,
        col(User.status) == UserStatus.ACTIVE,
    )
    assert remaining >= 1


async def test_token_used_while_revoked_is_refused_from_then_on(
    api: Api, world: World, factory: Factory
) -> None:
    """R15 under load: uses racing the revocation may land before it, never after it."""
    token = await factory.token(world.dev, TokenPermission.READ_WRITE)

    async def use() -> int:
        response = await api.client.post("/graphql", json={"query": VIEWER}, headers=token.headers)
        return response.status_code

    results = await _all(
        *(use() for _ in range(PARALLEL // 2)),
        api(REVOKE, {"id": token.extra["token_id"]}, as_=world.admin),
        *(use() for _ in range(PARALLEL // 2)),
    )
    revoked = next(r for r in results if isinstance(r, dict))
    assert payload(revoked, "revokeToken")["token"]["status"] == "REVOKED"
    assert {r for r in results if isinstance(r, int)} <= {200, 401}
    assert await _all(*(use() for _ in range(PARALLEL))) == [401] * PARALLEL


async def test_changes_on_one_instance_are_seen_by_another_at_once(
    api: Api, world: World, factory: Factory, services: Services
) -> None:
    """Two instances (own engines, pools and caches) on one database: revocation, a role
    change and a deletion made through one hold on the other's very next request."""
    import httpx

    from accessgraph.app import create_app

    other = Services.build(services.settings, clock=services.clock, mailer=services.mailer)
    transport = httpx.ASGITransport(app=create_app(other.settings, services=other))
    second = httpx.AsyncClient(transport=transport, base_url="http://second")
    try:

        async def on_second(query: str, headers: dict[str, str]) -> httpx.Response:
            return await second.post("/graphql", json={"query": query}, headers=headers)

        token = await factory.token(world.dev, TokenPermission.READ_WRITE)
        check = (
            '{ checkAccess(input: {action: "READ", resourceType: REPOSITORY, '
            'resourceName: "libs"}) { allowed } }'
        )
        # Warm the second instance's caches (principal, access index).
        assert (await on_second(VIEWER, token.headers)).status_code == 200
        before = (await on_second(check, world.dev2.headers)).json()
        assert before["data"]["checkAccess"]["allowed"] is False

        await api(REVOKE, {"id": token.extra["token_id"]}, as_=world.admin)
        assert (await on_second(VIEWER, token.headers)).status_code == 401

        promote = """mutation($id: ID!) { updateUserRole(input: {userId: $id, role: ADMIN}) {
                       errors { code } } }"""
        await api(promote, {"id": world.dev2.id}, as_=world.admin)
        body = (await on_second(check, world.dev2.headers)).json()
        assert body["data"]["checkAccess"]["allowed"] is True  # an admin now

        delete = "mutation($id: ID!) { deleteUser(input: {userId: $id}) { errors { code } } }"
        await api(delete, {"id": world.dev2.id}, as_=world.admin)
        assert (await on_second(VIEWER, world.dev2.headers)).status_code == 401
    finally:
        await second.aclose()
        await other.db.dispose()
