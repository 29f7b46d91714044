"""Rate-limit counters (accessgraph.rate_limits), when they live in the database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from accessgraph.models.base import UTCDateTime


class RateLimitCounter(SQLModel, table=True):
    __tablename__ = "rate_limit_counters"

    key: str = Field(primary_key=True, max_length=200)  # e.g. "login-address:203.0.113.9"
    window_start: datetime = Field(sa_type=UTCDateTime, index=True)
    count: int
