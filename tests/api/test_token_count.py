"""An admin's token page counts the organization's personal tokens with the number the
database keeps (organizations.personal_tokens, issue 8): exact after creating, revoking,
deleting and concurrent creation, other organizations untouched; a developer's page and
filtered pages still count what they show. (Subscription tokens are listed, and counted, on
their subscription.)"""

from __future__ import annotations

import asyncio

from sqlalchemy import delete, func, select, update
from sqlmodel import col

from accessgraph.models import AccessToken, Organization, TokenPermission
from accessgraph.schema.base import from_global_id
from accessgraph.services import Services
from tests.conftest import Api, Factory, StatementCounter, World, payload

PAGE = "{ tokens(first: 100) { totalCount nodes { id } } }"
ACTIVE = "{ tokens(first: 100, filter: {status: ACTIVE}) { totalCount nodes { id } } }"
CREATE = """
mutation Create($name: String!) {
  createToken(input: {name: $name, permission: READ_ONLY}) { token { id } errors { code } }
}"""
REVOKE = "mutation R($id: ID!) { revokeToken(input: {tokenId: $id}) { errors { code } } }"
DELETE = "mutation D($id: ID!) { deleteToken(input: {tokenId: $id}) { errors { code } } }"


async def _kept_and_scanned(services: Services, org_id: int) -> tuple[int, int]:
    async with services.db.session() as session:
        kept = await session.scalar(
            select(col(Organization.personal_tokens)).where(col(Organization.id) == org_id)
        )
        scanned = await session.scalar(
            select(func.count())
            .select_from(AccessToken)
            .where(col(AccessToken.org_id) == org_id, col(AccessToken.subscription_id).is_(None))
        )
    return int(kept or 0), int(scanned or 0)


async def _assert_exact(api: Api, world: World, services: Services) -> int:
    page = (await api(PAGE, as_=world.admin))["data"]["tokens"]
    kept, scanned = await _kept_and_scanned(services, world.org)
    assert kept == scanned == page["totalCount"] == len(page["nodes"])
    assert await _kept_and_scanned(services, world.other_org) == (0, 0)
    return kept


async def test_total_count_follows_every_change(
    api: Api, world: World, services: Services, count_statements: StatementCounter
) -> None:
    assert await _assert_exact(api, world, services) == 0
    made = []
    for actor, name in ((world.admin, "a"), (world.dev, "b"), (world.dev, "c")):
        body = await api(CREATE, {"name": name}, as_=actor)
        made.append(payload(body, "createToken")["token"]["id"])
    assert await _assert_exact(api, world, services) == 3
    assert payload(await api(REVOKE, {"id": made[1]}, as_=world.dev), "revokeToken") == {
        "errors": []
    }
    assert await _assert_exact(api, world, services) == 3  # revoked tokens stay listed
    assert payload(await api(DELETE, {"id": made[1]}, as_=world.dev), "deleteToken") == {
        "errors": []
    }
    assert await _assert_exact(api, world, services) == 2
    async with services.db.write() as session:
        await session.execute(delete(AccessToken).where(col(AccessToken.org_id) == world.org))
    assert await _assert_exact(api, world, services) == 0
    # A developer's page and a filtered page count what they show.
    await api(CREATE, {"name": "d"}, as_=world.dev)
    await api(CREATE, {"name": "e"}, as_=world.admin)
    own = (await api(PAGE, as_=world.dev))["data"]["tokens"]
    assert own["totalCount"] == len(own["nodes"]) == 1
    active = (await api(ACTIVE, as_=world.admin))["data"]["tokens"]
    assert active["totalCount"] == 2
    count_statements.statements.clear()
    await api(PAGE, as_=world.admin)
    assert not any("count(" in s.lower() for s in count_statements.statements)


async def test_concurrent_creations_are_all_counted(
    api: Api, world: World, services: Services
) -> None:
    bodies = await asyncio.gather(
        *(
            api(CREATE, {"name": f"t{n}"}, as_=actor)
            for n in range(4)
            for actor in (world.admin, world.dev)
        )
    )
    assert all(payload(body, "createToken")["errors"] == [] for body in bodies)
    assert await _assert_exact(api, world, services) == 8


async def _both_exact(services: Services, world: World) -> tuple[int, int]:
    acme = await _kept_and_scanned(services, world.org)
    globex = await _kept_and_scanned(services, world.other_org)
    assert acme[0] == acme[1] and globex[0] == globex[1], (acme, globex)
    return acme[0], globex[0]


async def test_statements_of_many_rows_and_changes_of_kind_are_counted(
    world: World, services: Services, factory: Factory
) -> None:
    # One statement inserting many tokens in both organizations (on PostgreSQL, counted once
    # per statement: migration 0013), personal tokens made subscription tokens and back, a
    # last use recorded, one statement deleting many: the numbers stay what a scan finds.
    subscription = from_global_id(
        await factory.subscription("Acme", world.admin), "BillingSubscription"
    )
    now = services.clock.now()
    rows = [
        {
            "org_id": world.org if n % 4 else world.other_org,
            "owner_id": world.admin.user_pk if n % 4 else world.other_admin.user_pk,
            "subscription_id": subscription if n % 4 == 1 else None,
            "name": f"bulk{n}",
            "permission": TokenPermission.READ_ONLY,
            "username": f"bulk-token-{n}",
            "secret_hash": "0" * 64,
            "created_at": now,
        }
        for n in range(40)
    ]
    async with services.db.write() as session:
        await session.execute(AccessToken.__table__.insert().values(rows))
    # Acme: 30 tokens, 10 of them the subscription's; Globex: 10.
    assert await _both_exact(services, world) == (20, 10)
    async with services.db.write() as session:
        await session.execute(
            update(AccessToken)
            .where(col(AccessToken.name).in_(["bulk2", "bulk3", "bulk5"]))
            .values(subscription_id=subscription)
        )
        await session.execute(update(AccessToken).values(last_used_at=now))
    assert await _both_exact(services, world) == (18, 10)  # bulk5 already was
    async with services.db.write() as session:
        await session.execute(
            update(AccessToken).where(col(AccessToken.name) == "bulk1").values(subscription_id=None)
        )
    assert await _both_exact(services, world) == (19, 10)
    async with services.db.write() as session:
        await session.execute(delete(AccessToken).where(col(AccessToken.name).like("bulk%")))
    assert await _both_exact(services, world) == (0, 0)
