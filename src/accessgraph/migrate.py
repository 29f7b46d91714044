"""Alembic, driven from code: `accessgraph migrate` and `serve` call `upgrade`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`. Blocking; safe to call inside an event loop."""
    _run(command.upgrade, alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    _run(command.downgrade, alembic_config(database_url), revision)


def _run(operation: Callable[[Config, str], None], config: Config, revision: str) -> None:
    # env.py drives the async engine with asyncio.run(), which needs a thread without a loop.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        operation(config, revision)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(operation, config, revision).result()
