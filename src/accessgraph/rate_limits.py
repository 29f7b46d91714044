"""Rate limits shared by every instance: counters in fixed windows, kept in the database (the
default) or in Redis when ACCESSGRAPH_REDIS_URL is set.

A limit is a number of events per window for one key (`login-account:<email>`,
`login-address:<ip>`, `invite:<org>`, `token:<user>`). `check` refuses a key that has used
its window up (with how long to wait) without counting; `hit` counts one event and refuses
past the limit; `clear` forgets a key (a successful login clears its account's failures).
The database counter is one atomic upsert per event, so two instances never both let the
limit+1-th event through.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from accessgraph.clock import Clock
from accessgraph.db import Database
from accessgraph.errors import ExposedError
from accessgraph.models import RateLimitCounter
from accessgraph.models.base import UTCDateTime
from accessgraph.settings import Limits

RATE_LIMITED = "RATE_LIMITED"


@dataclass(frozen=True, slots=True)
class Limit:
    name: str  # the key's prefix, and what the error names
    events: int
    window: timedelta


class RateLimited(ExposedError):
    """Too many events for one key: a top-level error with `retryAfter` (seconds)."""

    def __init__(self, limit: Limit, retry_after: float) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(
            f"Too many attempts ({limit.name}); try again in {seconds} s.", RATE_LIMITED
        )
        self.retry_after = seconds
        assert self.extensions is not None
        self.extensions["retryAfter"] = seconds


class Counters(Protocol):
    async def count(self, key: str, window: timedelta) -> tuple[int, float]:
        """(events in the key's current window, seconds until it ends); (0, 0) if none."""
        ...

    async def add(self, key: str, window: timedelta) -> tuple[int, float]:
        """Count one event; then the same as `count`."""
        ...

    async def clear(self, key: str) -> None: ...


class RateLimiter:
    """The service's limits (from `Limits`), over shared counters."""

    def __init__(self, counters: Counters, limits: Limits) -> None:
        self.counters = counters
        login_window = timedelta(minutes=limits.login_window_minutes)
        self.login_account = Limit("login-account", limits.login_failures_per_account, login_window)
        self.login_address = Limit("login-address", limits.login_failures_per_address, login_window)
        self.invitations = Limit("invitations", limits.invitations_per_hour, timedelta(hours=1))
        self.tokens = Limit("tokens", limits.tokens_per_hour, timedelta(hours=1))
        self.leak_reports = Limit("leak-reports", limits.leak_reports_per_hour, timedelta(hours=1))

    async def check(self, limit: Limit, subject: str) -> None:
        used, left = await self.counters.count(_key(limit, subject), limit.window)
        if used >= limit.events:
            raise RateLimited(limit, left)

    async def hit(self, limit: Limit, subject: str) -> None:
        used, left = await self.counters.add(_key(limit, subject), limit.window)
        if used > limit.events:
            raise RateLimited(limit, left)

    async def clear(self, limit: Limit, subject: str) -> None:
        await self.counters.clear(_key(limit, subject))

    # What the use cases ask.

    async def check_login(self, account: str, address: str | None) -> None:
        """Before a password is even verified. The account's attempt is counted first (one
        atomic step), so parallel guesses cannot slip past the limit together; a success
        clears it. The address is checked here and counted on failures only (many people may
        sign in from one office)."""
        if address:
            await self.check(self.login_address, address)
        await self.hit(self.login_account, account)

    async def login_failed(self, address: str | None) -> None:
        if address:
            await self.counters.add(_key(self.login_address, address), self.login_address.window)

    async def login_succeeded(self, account: str) -> None:
        await self.clear(self.login_account, account)

    async def invitation_sent(self, org_id: int) -> None:
        await self.hit(self.invitations, str(org_id))

    async def token_created(self, user_id: int) -> None:
        await self.hit(self.tokens, str(user_id))

    async def leak_reported(self, address: str | None) -> None:
        await self.hit(self.leak_reports, address or "unknown")

    async def close(self) -> None:
        close = getattr(self.counters, "close", None)
        if close is not None:
            await close()


def _key(limit: Limit, subject: str) -> str:
    return f"{limit.name}:{subject}"[:200]


class DatabaseCounters:
    """Counters in the `rate_limit_counters` table, timed by the injectable clock."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db, self.clock = db, clock

    async def count(self, key: str, window: timedelta) -> tuple[int, float]:
        now = self.clock.now()
        async with self.db.session() as session:
            row = (
                await session.execute(
                    select(col(RateLimitCounter.count), col(RateLimitCounter.window_start)).where(
                        col(RateLimitCounter.key) == key
                    )
                )
            ).first()
        if row is None or row[1] + window <= now:
            return 0, 0.0
        return row[0], (row[1] + window - now).total_seconds()

    async def add(self, key: str, window: timedelta) -> tuple[int, float]:
        now = self.clock.now()
        started_at = literal(now, UTCDateTime())
        expired = col(RateLimitCounter.window_start) <= literal(now - window, UTCDateTime())
        dialect = postgresql if not self.db.is_sqlite else sqlite
        insert = dialect.insert(RateLimitCounter).values(key=key, window_start=now, count=1)
        # One statement: a fresh window starts at 1, a running one counts up (atomic per key).
        stmt = insert.on_conflict_do_update(
            index_elements=[col(RateLimitCounter.key)],
            set_={
                "count": case((expired, 1), else_=col(RateLimitCounter.count) + 1),
                "window_start": case(
                    (expired, started_at), else_=col(RateLimitCounter.window_start)
                ),
            },
        ).returning(col(RateLimitCounter.count), col(RateLimitCounter.window_start))
        async with self.db.write() as session:
            used, started = (await session.execute(stmt)).one()
        return int(used), (started + window - now).total_seconds()

    async def clear(self, key: str) -> None:
        async with self.db.write() as session:
            await session.execute(delete(RateLimitCounter).where(col(RateLimitCounter.key) == key))


class RedisCounters:
    """Counters in Redis: INCR and a PEXPIRE set with the first event of a window."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self.redis = redis.Redis.from_url(url)

    async def count(self, key: str, window: timedelta) -> tuple[int, float]:
        pipe = self.redis.pipeline()
        pipe.get(key)
        pipe.pttl(key)
        raw, ttl = await pipe.execute()
        if raw is None or ttl < 0:
            return 0, 0.0
        return int(raw), ttl / 1000

    async def add(self, key: str, window: timedelta) -> tuple[int, float]:
        milliseconds = int(window.total_seconds() * 1000)
        pipe = self.redis.pipeline()  # MULTI/EXEC: the three run together
        pipe.incr(key)
        pipe.pexpire(key, milliseconds, nx=True)
        pipe.pttl(key)
        used, _, ttl = await pipe.execute()
        return int(used), max(ttl, 0) / 1000

    async def clear(self, key: str) -> None:
        await self.redis.delete(key)

    async def close(self) -> None:
        await self.redis.aclose()
