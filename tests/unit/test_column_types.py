"""UTCDateTime reads back timezone-aware UTC datetimes on every backend, and its one-function
result processor (issue 8) answers what TypeDecorator's own composition answers. JSON columns
read what `json.loads` reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from accessgraph.db import Database
from accessgraph.json_reads import read_json
from accessgraph.models.base import UTCDateTime

PARIS = timezone(timedelta(hours=1))


def _outcome(read: Any, value: Any) -> Any:
    """What `read` makes of `value`: its result, or the class of the error it raises."""
    try:
        return read(value)
    except Exception as error:
        return type(error)


def stock(dialect: Dialect) -> Any:
    """TypeDecorator's own result processor, which UTCDateTime's replaces."""
    return TypeDecorator.result_processor(UTCDateTime().dialect_impl(dialect), dialect, None)


@pytest.mark.parametrize(
    ("dialect", "values"),
    [
        (
            SQLiteDialect_aiosqlite(),
            [
                None,
                "2026-12-05 09:30:00.123456",
                "2026-12-05 09:30:00",
                "2026-12-05 09:30",
                "2026-12-05T09:30:00",
                "2026-12-05",  # a date alone: `fromisoformat` of it plus an offset is naive
                "2026-12-05 10:30:00+01:00",  # an offset already (not written by the app)
                "2026-12-05 09:30:00Z",
                # Text `fromisoformat` refuses, but would read with an offset appended.
                "2026-12-05 09:30:00 ",
                "2026-12-05 09:30:00.",
                "2026-12-05 09:",
                "2026-12-05 09:001",
            ],
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
        read = _outcome(ours, value)
        assert read == _outcome(theirs, value), value
        assert read is None or isinstance(read, type) or read.tzinfo is UTC
    if dialect.name == "postgresql":
        assert ours(datetime(2026, 12, 5, 10, 30, tzinfo=PARIS)) == datetime(
            2026, 12, 5, 9, 30, tzinfo=UTC
        )


# JSON columns are read with `read_json` (issue 8): whatever `json.loads` reads, it reads the
# same, value and type, including what orjson alone would read otherwise.
JSON_TEXTS = [
    "[]",
    '["MANAGE_SUBSCRIPTIONS", "VIEW_AUDIT_LOG"]',
    '{"seats": 5, "ratio": 0.25, "on": true, "none": null}',
    '{"big": 123456789012345678901234567890}',  # beyond 64 bits: a float to orjson
    "18446744073709551615",  # 2**64 - 1
    "-9223372036854775808",
    "0.1234567890123456789012",
    "[1e400, -1e400]",  # inf to json; refused by orjson
    "NaN",  # json.dumps writes it for a float nan
    '"\\ud800"',  # a lone surrogate: refused by orjson
    '{"a": 1, "a": 2}',
    '"caf\\u00e9 \\u2603"',
    "1234567890.1234567890",  # a long mantissa in two runs
    "  [1, 2.0, -0.0, 1E5]  ",
]


# A request's body, as bytes: the same texts, and encodings json reads by itself.
JSON_BODIES = [
    *(text.encode() for text in JSON_TEXTS),
    b'\xef\xbb\xbf{"query": "{ viewer { id } }"}',  # a UTF-8 BOM
    '{"query": "{ viewer { id } }"}'.encode("utf-16"),
    '{"query": "caf\u00e9"}'.encode("utf-16-le"),
    '{"query": "{ x }", "variables": {"n": 12345678901234567890123}}'.encode("utf-32"),
    b'"\xed\xa0\x80"',  # a surrogate written in UTF-8: json reads it, orjson refuses
]


@pytest.mark.parametrize("text", [*JSON_TEXTS, *JSON_BODIES])
def test_json_is_read_as_json_reads_it(text: str | bytes) -> None:
    ours, theirs = read_json(text), json.loads(text)
    assert repr(ours) == repr(theirs)  # nan == nan is false; repr shows value and type


def test_json_refused_as_json_refuses_it() -> None:
    with pytest.raises(UnicodeDecodeError):  # not UTF-8, as json finds
        read_json(b'{"a": "\xff"}')
    for text in ("", "[1,", "{'a': 1}", b"", b'{"a": 1}x', b"[1,"):
        with pytest.raises(json.JSONDecodeError) as ours:
            read_json(text)
        with pytest.raises(json.JSONDecodeError) as theirs:
            json.loads(text)
        assert str(ours.value) == str(theirs.value)  # json's error, not orjson's


def test_the_engine_reads_json_columns_with_read_json(tmp_path: Path) -> None:
    for url in (f"sqlite+aiosqlite:///{tmp_path}/db", "postgresql+asyncpg://u@127.0.0.1/db"):
        database = Database(url)
        assert database.engine.dialect._json_deserializer is read_json  # type: ignore[attr-defined]
