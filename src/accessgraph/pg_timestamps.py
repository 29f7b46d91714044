"""PostgreSQL's `timestamptz` read as text on asyncpg (issue 8).

asyncpg's binary codec makes each datetime with Python-level arithmetic (~0.5 µs; a nested page
reads ~900 of them); PostgreSQL's ISO text parses with `datetime.fromisoformat` in C. The
engine's connections talk in UTC and ISO dates (`SERVER_SETTINGS`), so the text is
`2026-12-05 09:30:00.5+00` and reads as the same aware UTC datetime the binary codec makes.
Values are written as ISO text the way asyncpg's codec writes them: converted to UTC, a naive
one taken as local time, an instant at either end of datetime's range as PostgreSQL's infinity.
(Only datetimes: the app's columns refuse anything else, where asyncpg's binary codec would
also take a `date` as local midnight. Binary COPY needs the binary codec; the app has none.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

# Connection settings the text depends on (asyncpg's `server_settings`).
SERVER_SETTINGS = {"TimeZone": "UTC", "DateStyle": "ISO"}
# asyncpg's values for PostgreSQL's infinities (naive, as its binary codec returns them).
_INFINITIES = {"infinity": datetime.max, "-infinity": datetime.min}
_LAST, _FIRST = datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=UTC)


def read_timestamptz(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        infinity = _INFINITIES.get(text)
        if infinity is None:
            raise
        return infinity
    # In UTC whatever the session's zone (the binary codec's values are): a `SET TIME ZONE`
    # would otherwise change what is read.
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def timestamptz_text(value: datetime) -> str:
    if value == datetime.max:  # naive: asyncpg's infinities, before converting (overflow)
        return "infinity"
    if value == datetime.min:
        return "-infinity"
    utc = value.astimezone(UTC)
    if utc == _LAST:  # the binary codec writes the range's ends as infinities too
        return "infinity"
    if utc == _FIRST:
        return "-infinity"
    return utc.isoformat()


def read_timestamps_as_text(engine: AsyncEngine) -> None:
    """Each new connection of `engine` (asyncpg) reads and writes `timestamptz` as text."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.run_async(
            lambda connection: connection.set_type_codec(
                "timestamptz",
                schema="pg_catalog",
                encoder=timestamptz_text,
                decoder=read_timestamptz,
                format="text",
            )
        )
