"""The team page's totalCount is the number the database keeps (organizations.live_users,
issue 8): exact after every kind of change, concurrent ones included, and per organization."""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy import delete, func, select, update
from sqlmodel import col

from accessgraph.models import Organization, TeamRole, User, UserStatus
from accessgraph.services import Services
from tests.conftest import Api, Factory, StatementCounter, World, payload

TEAM = "{ users(first: 100) { totalCount nodes { email } } }"
FILTERED = "{ users(first: 100, filter: {role: DEVELOPER}) { totalCount nodes { email } } }"
INVITE = """
mutation Invite($email: String!) {
  inviteUser(input: {email: $email, role: DEVELOPER}) { user { id } errors { code } }
}"""
CREATE = """
mutation Create($email: String!) {
  createUser(input: {email: $email, password: "a long passphrase 1"}) { user { id } errors { code } }
}"""
DELETE = """
mutation Delete($userId: ID!) {
  deleteUser(input: {userId: $userId}) { deletedUserId errors { code } }
}"""


def _user(world: World, services: Services, email: str) -> User:
    return User(
        org_id=world.org,
        email=email,
        email_normalized=email,
        role=TeamRole.DEVELOPER,
        status=UserStatus.ACTIVE,
        created_at=services.clock.now(),
    )


async def _counted(services: Services, org_id: int) -> tuple[int, int]:
    """(what the organization keeps, what a scan of its members finds)."""
    async with services.db.session() as session:
        kept = await session.scalar(
            select(col(Organization.live_users)).where(col(Organization.id) == org_id)
        )
        scanned = await session.scalar(
            select(func.count())
            .select_from(User)
            .where(col(User.org_id) == org_id, col(User.deleted_at).is_(None))
        )
    return int(kept or 0), int(scanned or 0)


async def _assert_exact(api: Api, world: World, services: Services) -> int:
    body = await api(TEAM, as_=world.admin)
    assert not body.get("errors"), body
    page = body["data"]["users"]
    kept, scanned = await _counted(services, world.org)
    assert kept == scanned == page["totalCount"] == len(page["nodes"])
    other = await _counted(services, world.other_org)
    assert other[0] == other[1] == 1  # Globex's admin, untouched by Acme's changes
    return kept


async def test_total_count_follows_every_change(
    api: Api, world: World, services: Services, factory: Factory
) -> None:
    assert await _assert_exact(api, world, services) == 3
    invited = payload(await api(INVITE, {"email": "new@acme.test"}, as_=world.admin), "inviteUser")[
        "user"
    ]["id"]
    assert await _assert_exact(api, world, services) == 4
    payload(await api(CREATE, {"email": "made@acme.test"}, as_=world.admin), "createUser")
    assert await _assert_exact(api, world, services) == 5
    assert payload(await api(DELETE, {"userId": invited}, as_=world.admin), "deleteUser") == {
        "deletedUserId": invited,
        "errors": [],
    }
    assert await _assert_exact(api, world, services) == 4
    await factory.member(world.org, "factory@acme.test")
    assert await _assert_exact(api, world, services) == 5
    # Changes no mutation makes today, made directly: the triggers keep up all the same.
    async with services.db.write() as session:
        await session.execute(
            update(User).where(col(User.email) == "made@acme.test").values(deleted_at=func.now())
        )
    assert await _assert_exact(api, world, services) == 4
    async with services.db.write() as session:
        await session.execute(
            update(User).where(col(User.email) == "made@acme.test").values(deleted_at=None)
        )
        await session.execute(
            update(User).where(col(User.email) == "made@acme.test").values(first_name="Renamed")
        )
    assert await _assert_exact(api, world, services) == 5
    async with services.db.write() as session:
        session.add(_user(world, services, "direct@acme.test"))
    assert await _assert_exact(api, world, services) == 6
    async with services.db.write() as session:
        await session.execute(delete(User).where(col(User.email) == "direct@acme.test"))
    assert await _assert_exact(api, world, services) == 5


async def test_a_failed_write_leaves_the_count_alone(
    api: Api, world: World, services: Services
) -> None:
    async def invite_then_fail() -> None:
        async with services.db.write() as session:
            session.add(_user(world, services, "ghost@acme.test"))
            await session.flush()
            raise RuntimeError("fails after the insert")

    with contextlib.suppress(RuntimeError):
        await invite_then_fail()
    assert await _assert_exact(api, world, services) == 3


async def test_concurrent_invitations_are_all_counted(
    api: Api, world: World, services: Services
) -> None:
    bodies = await asyncio.gather(
        *(api(INVITE, {"email": f"crowd{n}@acme.test"}, as_=world.admin) for n in range(8))
    )
    assert all(payload(body, "inviteUser")["errors"] == [] for body in bodies)
    assert await _assert_exact(api, world, services) == 11


async def test_a_filtered_page_still_counts_what_it_filters(
    api: Api, world: World, count_statements: StatementCounter
) -> None:
    body = await api(FILTERED, as_=world.admin)
    page = body["data"]["users"]
    assert page["totalCount"] == len(page["nodes"]) == 2  # the two developers
    count_statements.statements.clear()
    await api(TEAM, as_=world.admin)
    # The credential, then the page with the organization's number in the same statement:
    # no scan of the members.
    assert len(count_statements.statements) == 2
    assert not any("count(" in s.lower() for s in count_statements.statements)


async def test_an_empty_page_still_tells_the_kept_count(api: Api, world: World) -> None:
    last = (await api("{ users(last: 1) { pageInfo { endCursor } } }", as_=world.admin))["data"]
    after = last["users"]["pageInfo"]["endCursor"]
    body = await api(
        "query($after: String) { users(first: 5, after: $after) { totalCount nodes { id } } }",
        {"after": after},
        as_=world.admin,
    )
    assert body["data"]["users"] == {"totalCount": 3, "nodes": []}, body


PAGES = """query Page($first: Int, $after: String, $last: Int, $before: String) {
  users(first: $first, after: $after, last: $last, before: $before) {
    totalCount
    edges { cursor node { email } }
    pageInfo { hasNextPage hasPreviousPage }
  }
}"""


async def test_the_built_once_page_statement_answers_each_organization_and_cursor(
    api: Api, world: World
) -> None:
    # The unfiltered page's statement is built once and reused (pagination.Shaped): every
    # value (organization, cursors, size) must be the request's own, in every direction.
    for actor, emails in (
        (world.admin, ["admin@acme.test", "dev@acme.test", "dev2@acme.test"]),
        (world.other_admin, ["admin@globex.test"]),
        (world.admin, ["admin@acme.test", "dev@acme.test", "dev2@acme.test"]),
    ):
        whole = (await api(PAGES, {"first": 10}, as_=actor))["data"]["users"]
        assert [e["node"]["email"] for e in whole["edges"]] == emails
        assert whole["totalCount"] == len(emails)
        first = (await api(PAGES, {"first": 1}, as_=actor))["data"]["users"]
        assert [e["node"]["email"] for e in first["edges"]] == emails[:1]
        assert first["pageInfo"]["hasNextPage"] is (len(emails) > 1)
        cursor = first["edges"][0]["cursor"]
        rest = (await api(PAGES, {"first": 10, "after": cursor}, as_=actor))["data"]["users"]
        assert [e["node"]["email"] for e in rest["edges"]] == emails[1:]
        last = (await api(PAGES, {"last": 1}, as_=actor))["data"]["users"]
        assert [e["node"]["email"] for e in last["edges"]] == emails[-1:]
        before = last["edges"][0]["cursor"]
        earlier = (await api(PAGES, {"last": 10, "before": before}, as_=actor))["data"]["users"]
        assert [e["node"]["email"] for e in earlier["edges"]] == emails[:-1]


async def _both_exact(services: Services, world: World) -> tuple[int, int]:
    acme, globex = await _counted(services, world.org), await _counted(services, world.other_org)
    assert acme[0] == acme[1] and globex[0] == globex[1], (acme, globex)
    return acme[0], globex[0]


async def test_statements_of_many_rows_and_moves_are_counted(
    world: World, services: Services
) -> None:
    # A bulk load or purge is one statement over many rows, in both organizations at once (on
    # PostgreSQL, counted once per statement: migration 0013), and a user may change
    # organization; each organization's number stays what a scan finds.
    assert await _both_exact(services, world) == (3, 1)
    rows = []
    for n in range(30):
        user = _user(world, services, f"bulk{n}@test")
        user.org_id = world.org if n % 3 else world.other_org
        user.deleted_at = services.clock.now() if n % 5 == 0 else None  # loaded as deleted
        rows.append({c.key: getattr(user, c.key) for c in User.__table__.columns if c.key != "id"})
    async with services.db.write() as session:
        await session.execute(User.__table__.insert().values(rows))
    # 20 in Acme and 10 in Globex, of which 4 and 2 were loaded deleted.
    assert await _both_exact(services, world) == (3 + 16, 1 + 8)
    async with services.db.write() as session:
        await session.execute(
            update(User).where(col(User.email).like("bulk1%@test")).values(org_id=world.other_org)
        )
    assert await _both_exact(services, world) == (
        19 - 7,
        9 + 7,
    )  # Acme's bulk1, bulk10..19: 8, 7 live
    async with services.db.write() as session:
        await session.execute(delete(User).where(col(User.email).like("bulk%@test")))
    assert await _both_exact(services, world) == (3, 1)
