"""Alembic builds exactly the schema the models declare, and downgrades cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

import accessgraph.models  # noqa: F401
from accessgraph.migrate import downgrade, upgrade
from tests.conftest import is_postgres


async def _diff(url: str) -> list[object]:
    engine = create_async_engine(url, poolclass=NullPool)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), SQLModel.metadata
            )
        )
    await engine.dispose()
    return list(diff)


async def test_migrations_match_models(template_db: str) -> None:
    url = template_db if is_postgres() else f"sqlite+aiosqlite:///{template_db}"
    assert await _diff(url) == []


@pytest.mark.skipif(
    is_postgres(), reason="runs on a scratch SQLite file; the PG database is shared"
)
def test_downgrade_to_base_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    downgrade(url, "base")

    async def tables() -> list[str]:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        await engine.dispose()
        return [n for n in names if n != "alembic_version"]

    import asyncio

    assert asyncio.run(tables()) == []
    upgrade(url)
    assert "users" in asyncio.run(tables())


@pytest.mark.skipif(
    is_postgres(), reason="runs on a scratch SQLite file; the PG database is shared"
)
def test_upgrade_counts_the_members_already_there(tmp_path: Path) -> None:
    """Migration 0011 (issue 8) starts organizations.live_users from the members present."""
    import asyncio

    from sqlalchemy import text

    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0010")

    async def run(*statements: str) -> list[tuple[object, ...]]:
        engine = create_async_engine(url, poolclass=NullPool)
        async with engine.begin() as conn:
            rows: list[tuple[object, ...]] = []
            for statement in statements:
                result = await conn.execute(text(statement))
                rows = [tuple(r) for r in result] if result.returns_rows else rows
        await engine.dispose()
        return rows

    user = (
        "INSERT INTO users (org_id, email, email_normalized, role, status, created_at, "
        "search_key, account_permissions, deleted_at) VALUES (1, '{0}', '{0}', 'DEVELOPER', "
        "'ACTIVE', '2026-01-01 00:00:00', '', '[]', {1})"
    )
    asyncio.run(
        run(
            "INSERT INTO organizations (id, name, created_at, manage_policy, access_version) "
            "VALUES (1, 'Acme', '2026-01-01 00:00:00', 'EXCLUDE_MANAGE', 0)",
            user.format("a@acme.test", "NULL"),
            user.format("b@acme.test", "NULL"),
            user.format("gone@acme.test", "'2026-02-01 00:00:00'"),
        )
    )
    upgrade(url)
    assert asyncio.run(run("SELECT live_users FROM organizations")) == [(2,)]
    asyncio.run(run(user.format("c@acme.test", "NULL")))
    assert asyncio.run(run("SELECT live_users FROM organizations")) == [(3,)]
