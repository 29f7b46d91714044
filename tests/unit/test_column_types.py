"""UTCDateTime reads back timezone-aware UTC datetimes on every backend, and its one-function
result processor (issue 8) answers what TypeDecorator's own composition answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from accessgraph.models.base import UTCDateTime

PARIS = timezone(timedelta(hours=1))


def stock(dialect: Dialect) -> Any:
    """TypeDecorator's own result processor, which UTCDateTime's replaces."""
    return TypeDecorator.result_processor(UTCDateTime().dialect_impl(dialect), dialect, None)


@pytest.mark.parametrize(
    ("dialect", "values"),
    [
        (
            SQLiteDialect_aiosqlite(),
            [None, "2026-12-05 09:30:00.123456", "2026-12-05 09:30:00", "2026-12-05"],
        ),
        (
            PGDialect_asyncpg(),
            [
                None,
                datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
                datetime(2026, 12, 5, 10, 30, tzinfo=PARIS),
                datetime(2026, 12, 5, 9, 30),
            ],
        ),
    ],
    ids=["sqlite", "postgresql"],
)
def test_utc_datetimes_read_back_as_typedecorator_reads_them(
    dialect: Dialect, values: list[Any]
) -> None:
    ours = UTCDateTime().dialect_impl(dialect).result_processor(dialect, None)  # as SQLAlchemy
    theirs = stock(dialect)
    for value in values:
        read = ours(value)
        assert read == theirs(value)
        assert read is None or read.tzinfo is UTC
    if dialect.name == "postgresql":
        assert ours(datetime(2026, 12, 5, 10, 30, tzinfo=PARIS)) == datetime(
            2026, 12, 5, 9, 30, tzinfo=UTC
        )
