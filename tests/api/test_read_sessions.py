"""Read sessions run without a transaction of their own (issue 8), writes keep theirs.

A read is then one statement on the wire (no BEGIN/ROLLBACK around it); each statement sees the
latest committed state, as under PostgreSQL's READ COMMITTED, so revocation stays immediate.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, select, text, update
from sqlmodel import col

from accessgraph.models import User
from accessgraph.services import Services
from tests.conftest import Api, World, is_postgres

TEAM_PAGE = "query { users(first: 10) { totalCount edges { node { id email } } } }"


class _AllStatements:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.seen.append(statement.strip().split()[0].upper())


async def test_a_page_sends_no_transaction_statements(
    api: Api, world: World, services: Services
) -> None:
    seen = _AllStatements()
    event.listen(services.db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        body = await api(TEAM_PAGE, as_=world.admin)
    finally:
        event.remove(services.db.engine.sync_engine, "before_cursor_execute", seen)
    assert not body.get("errors"), body
    assert seen.seen and set(seen.seen) == {"SELECT"}, seen.seen


async def test_a_read_session_sees_a_write_committed_meanwhile(
    world: World, services: Services
) -> None:
    async with services.db.session() as reading:
        before = await reading.scalar(
            select(col(User.first_name)).where(col(User.id) == world.dev.user_pk)
        )
        async with services.db.write() as writing:
            await writing.execute(
                update(User).where(col(User.id) == world.dev.user_pk).values(first_name="Renamed")
            )
        after = await reading.scalar(
            select(col(User.first_name)).where(col(User.id) == world.dev.user_pk)
        )
    assert before != "Renamed"
    assert after == "Renamed"


async def test_a_write_that_fails_changes_nothing(world: World, services: Services) -> None:
    async def rename_then_fail() -> None:
        async with services.db.write() as writing:
            await writing.execute(
                update(User).where(col(User.id) == world.dev.user_pk).values(first_name="Half")
            )
            raise RuntimeError("fails after its first statement")

    with pytest.raises(RuntimeError):
        await rename_then_fail()
    async with services.db.session() as reading:
        name = await reading.scalar(
            select(col(User.first_name)).where(col(User.id) == world.dev.user_pk)
        )
    assert name != "Half"


@pytest.mark.skipif(not is_postgres(), reason="now() is PostgreSQL's transaction clock")
async def test_postgres_read_statements_are_transactions_of_their_own(
    services: Services,
) -> None:
    async with services.db.session() as reading:
        first = await reading.scalar(text("SELECT now()"))
        await asyncio.sleep(0.02)
        second = await reading.scalar(text("SELECT now()"))
    assert second > first  # inside one transaction now() would not move
