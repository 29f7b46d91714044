"""On asyncpg the engine reads and writes `timestamptz` as text (pg_timestamps.py, issue 8):
every value must come back as asyncpg's own binary codec gives it, and every datetime must be
stored as that codec stores it."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from accessgraph import pg_timestamps
from accessgraph.db import Database
from accessgraph.pg_timestamps import read_timestamptz, timestamptz_text

TEXTS = [
    "2026-12-05 09:30:00+00",
    "2026-12-05 09:30:00.5+00",
    "2026-12-05 09:30:00.123456+00",
    "2026-12-05 10:30:00+01",
    "2026-12-05 09:30:00+05:30",
    "0099-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
    "infinity",
    "-infinity",
]
VALUES = [
    datetime(2026, 12, 5, 9, 30, tzinfo=UTC),
    datetime(2026, 12, 5, 9, 30, 0, 7, tzinfo=timezone(timedelta(hours=-3, minutes=-30))),
    datetime(2026, 12, 5, 9, 30),  # naive: local time, to asyncpg as to the engine
    datetime.max,
    datetime.min,
    datetime.max.replace(tzinfo=UTC),  # the range's ends, aware: infinities to asyncpg
    datetime.min.replace(tzinfo=UTC),
    datetime(1, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),  # the first instant
]


@pytest.fixture
def codec_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The text codec's calls (read, write): the engine's connections must use it."""
    calls: list[str] = []
    read, write = pg_timestamps.read_timestamptz, pg_timestamps.timestamptz_text

    def reading(text: str) -> datetime:
        calls.append("read")
        return read(text)

    def writing(value: datetime) -> str:
        calls.append("write")
        return write(value)

    monkeypatch.setattr(pg_timestamps, "read_timestamptz", reading)
    monkeypatch.setattr(pg_timestamps, "timestamptz_text", writing)
    return calls


@pytest.fixture
def local_zone_not_utc() -> Iterator[None]:
    """The process's local zone west of UTC, so that a naive value's conversion shows."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def _driver_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _through_engine(url: str, sql: str, *args: Any) -> list[Any]:
    database = Database(url)
    try:
        async with database.engine.connect() as connection:
            raw: Any = await connection.get_raw_connection()
            rows = await raw.driver_connection.fetch(sql, *args)
            return [row[0] for row in rows]
    finally:
        await database.dispose()


async def _through_asyncpg(url: str, sql: str, *args: Any) -> list[Any]:
    """asyncpg's own codecs, on a connection in UTC (as the engine's)."""
    connection = await asyncpg.connect(_driver_url(url), server_settings={"TimeZone": "UTC"})
    try:
        return [row[0] for row in await connection.fetch(sql, *args)]
    finally:
        await connection.close()


@pytest.mark.postgres_only
@pytest.mark.parametrize("text", TEXTS)
async def test_values_read_as_asyncpg_reads_them(
    pg_url: str, text: str, codec_calls: list[str]
) -> None:
    sql = "SELECT $1::text::timestamptz"
    ours = await _through_engine(pg_url, sql, text)
    assert codec_calls == ["read"]
    theirs = await _through_asyncpg(pg_url, sql, text)
    assert ours == theirs and [type(v) for v in ours] == [type(v) for v in theirs]
    assert [getattr(v, "tzinfo", None) for v in ours] == [v.tzinfo for v in theirs]


@pytest.mark.postgres_only
@pytest.mark.usefixtures("local_zone_not_utc")
@pytest.mark.parametrize("value", VALUES, ids=str)
async def test_values_written_as_asyncpg_writes_them(
    pg_url: str, value: datetime, codec_calls: list[str]
) -> None:
    sql = "SELECT $1::timestamptz::text"  # as stored, in the session's zone (UTC for both)
    assert await _through_engine(pg_url, sql, value) == await _through_asyncpg(pg_url, sql, value)
    assert codec_calls == ["write"]


@pytest.mark.postgres_only
async def test_values_read_in_utc_whatever_the_session_zone(pg_url: str) -> None:
    database = Database(pg_url)
    try:
        async with database.engine.connect() as connection:
            raw: Any = await connection.get_raw_connection()
            await raw.driver_connection.execute("SET TIME ZONE 'Europe/Paris'")
            value = await raw.driver_connection.fetchval(
                "SELECT '2026-12-05 09:30:00+00'::timestamptz"
            )
    finally:
        await database.dispose()
    assert value == datetime(2026, 12, 5, 9, 30, tzinfo=UTC) and value.tzinfo is UTC


@pytest.mark.postgres_only
async def test_the_engine_talks_in_utc_and_iso(pg_url: str) -> None:
    settings = await _through_engine(
        pg_url, "SELECT current_setting('TimeZone') UNION ALL SELECT current_setting('DateStyle')"
    )
    assert settings[0] == "UTC" and settings[1].startswith("ISO,")


def test_text_is_read_and_written_without_a_database() -> None:
    assert read_timestamptz("2026-12-05 09:30:00.5+00") == datetime(
        2026, 12, 5, 9, 30, 0, 500000, tzinfo=UTC
    )
    assert read_timestamptz("2026-12-05 09:30:00+00").tzinfo is UTC
    assert read_timestamptz("infinity") == datetime.max
    with pytest.raises(ValueError, match="Invalid isoformat"):
        read_timestamptz("2026-12-05 09:30:00+00 BC")
    assert timestamptz_text(datetime(2026, 12, 5, 10, 30, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-12-05T09:30:00+00:00"
    )
