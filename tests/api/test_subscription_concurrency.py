"""R21 under concurrency: a subscription has exactly one Primary Admin at every moment.

The operator's transfers (the `transfer_primary` use case, run concurrently on the shared
`services`, or on two engines as two command-line processes would be) race each other, member
removals, user deletions and readers. Each request either succeeds or is refused cleanly with a
business error; afterwards, and during, there is exactly one PRIMARY_ADMIN, who is an ACTIVE,
undeleted member. On PostgreSQL the organization row lock serializes the writers; on SQLite,
BEGIN IMMEDIATE does.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from accessgraph.errors import Rejected
from accessgraph.models import AuditEvent, SubscriptionMember, SubscriptionRole, User, UserStatus
from accessgraph.resolvers import subscriptions
from accessgraph.schema.base import from_global_id
from accessgraph.services import Services
from tests.conftest import Actor, Api, Factory, World, payload

REMOVE_MEMBER = """
mutation RemoveMember($sub: ID!, $user: ID!) {
  removeSubscriptionMember(input: {subscriptionId: $sub, userId: $user}) {
    removedUserId
    errors { code }
  }
}"""
DELETE_USER = """
mutation DeleteUser($id: ID!) { deleteUser(input: {userId: $id}) { deletedUserId errors { code } } }"""
ADD_MEMBER = """
mutation AddMember($sub: ID!, $user: ID!) {
  addSubscriptionMember(input: {subscriptionId: $sub, userId: $user, role: TECHNICAL_MEMBER}) {
    role
    errors { code }
  }
}"""
MEMBERS = """
query Members($id: ID!) {
  subscription(id: $id) {
    members(first: 50) { totalCount edges { role node { id email } } }
  }
}"""
ROUNDS = 4
TRANSFER_TARGETS = 8  # concurrent transfers per round (well under the pools' sizes)


@dataclass(frozen=True)
class Outcome:
    """What one concurrent call came to: success, or a clean refusal with its codes."""

    ok: bool
    codes: tuple[str, ...] = ()


async def transfer(services: Services, sub_pk: int, to: Actor) -> Outcome:
    """The operator's transfer; a Rejected is a clean refusal, anything else propagates."""
    try:
        await subscriptions.transfer_primary(services, sub_pk, to.email)
    except Rejected as exc:
        return Outcome(False, tuple(p.code for p in exc.problems))
    return Outcome(True)


async def mutate(
    api: Api, query: str, variables: dict[str, Any], actor: Actor, field: str
) -> Outcome:
    body = await api(query, variables, as_=actor)
    codes = tuple(e["code"] for e in payload(body, field)["errors"])
    return Outcome(not codes, codes)


async def new_subscription(factory: Factory, primary: Actor, name: str) -> tuple[str, int]:
    sub_id = await factory.subscription("Acme", primary, name=name)
    pk = from_global_id(sub_id, "BillingSubscription")
    assert pk is not None
    return sub_id, pk


async def roles(services: Services, sub_pk: int) -> dict[int, SubscriptionRole]:
    """Every membership of the subscription, as committed: user id -> role."""
    async with services.db.session() as session:
        rows = await session.execute(
            select(col(SubscriptionMember.user_id), col(SubscriptionMember.role)).where(
                col(SubscriptionMember.subscription_id) == sub_pk
            )
        )
        return {user_id: role for user_id, role in rows.all()}


async def assert_one_live_primary_admin(services: Services, sub_pk: int) -> int:
    """Exactly one PRIMARY_ADMIN, an ACTIVE user who is not deleted; returns their id."""
    found = [
        u for u, r in (await roles(services, sub_pk)).items() if r == SubscriptionRole.PRIMARY_ADMIN
    ]
    assert len(found) == 1, found
    async with services.db.session() as session:
        user = await session.get(User, found[0])
    assert user is not None and user.deleted_at is None and user.status == UserStatus.ACTIVE
    return found[0]


async def race(*calls: Awaitable[Outcome]) -> list[Outcome]:
    """Runs the calls together; an unexpected exception (IntegrityError, deadlock...) fails."""
    return list(await asyncio.wait_for(asyncio.gather(*calls), timeout=60))


@pytest.fixture
async def second_services(services: Services) -> AsyncIterator[Services]:
    """Another engine and pool on the same database: a second operator process."""
    other = Services.build(services.settings, clock=services.clock, mailer=services.mailer)
    yield other
    await other.db.dispose()


# --- transfers racing transfers ----------------------------------------------------------------


@pytest.mark.parametrize("engines", [1, 2], ids=["shared-services", "two-engines"])
async def test_transfer_primary_concurrent_to_different_members_leaves_one_primary_admin(
    factory: Factory,
    world: World,
    services: Services,
    second_services: Services,
    engines: int,
) -> None:
    """R21: N transfers at once to N different ACTIVE members. Each succeeds or is refused
    cleanly; afterwards exactly one PRIMARY_ADMIN; every demoted Primary Admin became ADMIN;
    and the audit trail of the transfers is one unbroken chain (they were serialized)."""
    targets = [
        await factory.member(world.org, f"target{i}@acme.test") for i in range(TRANSFER_TARGETS)
    ]
    pools = [services, second_services][:engines]
    for round_no in range(2):
        sub_id, pk = await new_subscription(factory, world.dev, f"Transfers {round_no}")
        for target in targets:
            await factory.subscription_member(sub_id, target, SubscriptionRole.TECHNICAL_MEMBER)

        outcomes = await race(*(transfer(pools[i % engines], pk, t) for i, t in enumerate(targets)))

        assert all(o.ok or o.codes for o in outcomes), outcomes
        winners = {t.user_pk for t, o in zip(targets, outcomes, strict=True) if o.ok}
        assert winners, outcomes  # distinct ACTIVE members: nothing to refuse
        primary = await assert_one_live_primary_admin(services, pk)
        assert primary in winners
        final = await roles(services, pk)
        for target, outcome in zip(targets, outcomes, strict=True):
            assert target.user_pk is not None
            expected = (
                SubscriptionRole.PRIMARY_ADMIN
                if target.user_pk == primary
                else SubscriptionRole.ADMIN
                if outcome.ok
                else SubscriptionRole.TECHNICAL_MEMBER
            )
            assert final[target.user_pk] == expected, (target.email, outcomes)
        assert world.dev.user_pk is not None
        assert final[world.dev.user_pk] == SubscriptionRole.ADMIN

        async with services.db.session() as session:
            events = (
                (
                    await session.execute(
                        select(AuditEvent)
                        .where(
                            col(AuditEvent.action) == "subscription.primary_admin_transfer",
                            col(AuditEvent.target_id) == pk,
                        )
                        .order_by(col(AuditEvent.id))
                    )
                )
                .scalars()
                .all()
            )
        assert len(events) == len(winners)
        holder = world.dev.email
        for event in events:
            assert event.before is not None and event.after is not None
            assert event.before["primaryAdmin"] == holder, [(e.before, e.after) for e in events]
            holder = event.after["primaryAdmin"]
        assert holder == next(t.email for t in targets if t.user_pk == primary)


async def test_transfer_primary_to_each_other_concurrently_leaves_one_primary_admin(
    factory: Factory, world: World, services: Services
) -> None:
    """R21: transfers that swap the role back and forth (to the current Primary Admin and to
    another member at once) end with one Primary Admin; a transfer to whoever already holds
    the role is refused cleanly (ALREADY_PRIMARY_ADMIN)."""
    other = await factory.member(world.org, "other@acme.test")
    for round_no in range(ROUNDS):
        sub_id, pk = await new_subscription(factory, world.dev, f"Swap {round_no}")
        await factory.subscription_member(sub_id, other, SubscriptionRole.ADMIN)
        outcomes = await race(
            transfer(services, pk, other),
            transfer(services, pk, world.dev),
            transfer(services, pk, other),
        )
        for outcome in outcomes:
            assert outcome.ok or outcome.codes == ("ALREADY_PRIMARY_ADMIN",), outcomes
        await assert_one_live_primary_admin(services, pk)


# --- transfers racing member removal and user deletion -----------------------------------------


async def test_transfer_primary_and_remove_member_concurrently_never_remove_the_primary_admin(
    api: Api, factory: Factory, world: World, services: Services
) -> None:
    """R21 + R20: transferring to X while a subscription ADMIN removes X. Exactly one wins: X is
    Primary Admin and stays (the removal is refused), or X is gone and the transfer is refused
    (NOT_MEMBER). Never a removed Primary Admin, never zero."""
    target = await factory.member(world.org, "x@acme.test", name="X")
    for round_no in range(ROUNDS):
        sub_id, pk = await new_subscription(factory, world.dev, f"Remove {round_no}")
        await factory.subscription_member(sub_id, world.dev2, SubscriptionRole.ADMIN)
        await factory.subscription_member(sub_id, target, SubscriptionRole.TECHNICAL_MEMBER)

        moved, removed = await race(
            transfer(services, pk, target),
            mutate(
                api,
                REMOVE_MEMBER,
                {"sub": sub_id, "user": target.id},
                world.dev2,
                "removeSubscriptionMember",
            ),
        )

        primary = await assert_one_live_primary_admin(services, pk)
        members = await roles(services, pk)
        assert moved.ok != removed.ok, (moved, removed)
        if moved.ok:
            assert removed.codes == ("PRIMARY_ADMIN_TRANSFER_ONLY",)
            assert primary == target.user_pk
        else:
            assert moved.codes == ("NOT_MEMBER",)
            assert primary == world.dev.user_pk
            assert target.user_pk not in members


async def test_transfer_primary_and_delete_user_concurrently_never_make_a_deleted_primary_admin(
    api: Api, factory: Factory, world: World, services: Services
) -> None:
    """R21 + R6: transferring to X while a team admin deletes X. Either X is Primary Admin and
    the deletion is refused, or X is deleted (and has left the subscription) and the transfer
    is refused. Never a deleted user as Primary Admin."""
    for round_no in range(ROUNDS):
        target = await factory.member(world.org, f"doomed{round_no}@acme.test")
        sub_id, pk = await new_subscription(factory, world.dev, f"Delete {round_no}")
        await factory.subscription_member(sub_id, target, SubscriptionRole.TECHNICAL_MEMBER)

        moved, deleted = await race(
            transfer(services, pk, target),
            mutate(api, DELETE_USER, {"id": target.id}, world.admin, "deleteUser"),
        )

        primary = await assert_one_live_primary_admin(services, pk)
        assert moved.ok != deleted.ok, (moved, deleted)
        if moved.ok:
            assert deleted.codes == ("PRIMARY_ADMIN_TRANSFER_ONLY",)
            assert primary == target.user_pk
        else:
            assert moved.codes == ("NOT_FOUND",)
            assert primary == world.dev.user_pk
            assert target.user_pk not in await roles(services, pk)


# --- adding the same member twice ----------------------------------------------------------------


async def test_add_subscription_member_twice_concurrently_creates_one_membership(
    api: Api, factory: Factory, world: World, services: Services
) -> None:
    """R18: one role per user and subscription. Two managers add the same user at once: one
    membership; the other request gets ALREADY_MEMBER (not an internal error)."""
    sub_id, pk = await new_subscription(factory, world.dev, "Adds")
    await factory.subscription_member(sub_id, world.dev2, SubscriptionRole.ADMIN)
    for round_no in range(ROUNDS):
        user = await factory.member(world.org, f"new{round_no}@acme.test")
        outcomes = await race(
            *(
                mutate(
                    api,
                    ADD_MEMBER,
                    {"sub": sub_id, "user": user.id},
                    manager,
                    "addSubscriptionMember",
                )
                for manager in (world.dev, world.dev2)
            )
        )
        assert sorted(o.codes for o in outcomes) == [(), ("ALREADY_MEMBER",)], outcomes
        async with services.db.session() as session:
            rows = (
                (
                    await session.execute(
                        select(SubscriptionMember).where(
                            col(SubscriptionMember.subscription_id) == pk,
                            col(SubscriptionMember.user_id) == user.user_pk,
                        )
                    )
                )
                .scalars()
                .all()
            )
        assert [r.role for r in rows] == [SubscriptionRole.TECHNICAL_MEMBER]


# --- readers during transfers ------------------------------------------------------------------------


async def test_members_read_during_transfers_always_show_one_primary_admin(
    api: Api, factory: Factory, world: World, services: Services
) -> None:
    """R21: "every reader sees exactly one Primary Admin". Readers poll the members connection
    while the operator moves the role around, some transfers overlapping; every answer lists
    exactly one PRIMARY_ADMIN and all the members."""
    members = [await factory.member(world.org, f"m{i}@acme.test") for i in range(5)]
    sub_id, pk = await new_subscription(factory, world.dev, "Polled")
    for member in members:
        await factory.subscription_member(sub_id, member, SubscriptionRole.ADMIN)
    done = asyncio.Event()
    seen: list[list[str]] = []

    async def read(actor: Actor) -> None:
        while True:
            finished = done.is_set()
            body = await api(MEMBERS, {"id": sub_id}, as_=actor)
            assert not body.get("errors"), body
            connection = body["data"]["subscription"]["members"]
            assert connection["totalCount"] == len(members) + 1, body
            seen.append([edge["role"] for edge in connection["edges"]])
            if finished:
                return
            await asyncio.sleep(0)

    async def write() -> None:
        try:
            order = [*members, world.dev] * 2
            for i in range(0, len(order), 2):
                await race(*(transfer(services, pk, t) for t in order[i : i + 2]))
        finally:
            done.set()

    # Readers: a team admin (oversight) and a member of the subscription.
    await asyncio.wait_for(
        asyncio.gather(write(), read(world.admin), read(world.admin), read(members[0])),
        timeout=120,
    )
    assert len(seen) >= 6
    for answer in seen:
        assert answer.count("PRIMARY_ADMIN") == 1, answer
        assert len(answer) == len(members) + 1, answer
    await assert_one_live_primary_admin(services, pk)
