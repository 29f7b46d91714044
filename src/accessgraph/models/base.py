"""Column types shared by every table."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Enum
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.processors import str_to_datetime
from sqlalchemy.types import TypeDecorator

# Primary keys are 32-bit on PostgreSQL (SERIAL). An ID or cursor beyond this names nothing
# and must not reach SQL, where it would be an error rather than "not found".
MAX_ID = 2**31 - 1


# SQLAlchemy's text for a datetime on SQLite (what the app writes).
_SQLITE_DATETIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:\.\d{6})?")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any]:
        """What TypeDecorator's does (the dialect's parsing, then `process_result_value`), in
        one function: a page of fifty users with their tokens reads ~650 datetimes (issue 8)."""
        parse = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if parse is not None:
                value = parse(value)
            assert isinstance(value, datetime)
            if value.tzinfo is None:
                return value.replace(tzinfo=UTC)
            return value if value.tzinfo is UTC else value.astimezone(UTC)

        if parse is not str_to_datetime:
            return process

        def process_text(value: Any) -> datetime | None:
            """SQLite's text (`fromisoformat`, as SQLAlchemy parses it) read as UTC: the text
            the app writes, with a UTC offset appended, parses straight to the aware datetime
            (~0.6 µs; `replace(tzinfo=...)` alone takes ~1.1). Anything else (an offset
            already, a date alone, text `fromisoformat` would refuse) goes to `process`."""
            if type(value) is str and _SQLITE_DATETIME.fullmatch(value):
                return datetime.fromisoformat(value + "+00:00")
            return process(value) if value is not None else None

        return process_text


def enum_column(enum: type[StrEnum]) -> Enum:
    """An enum stored as VARCHAR (no native PostgreSQL type: adding a value needs no ALTER TYPE)."""
    length = max(20, *(len(member.value) for member in enum))
    return Enum(enum, native_enum=False, length=length, validate_strings=True)
