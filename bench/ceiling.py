"""The ceiling: the team page's data with nothing but Starlette, a raw driver and orjson.

Served exactly like the app (one uvicorn worker pinned to CPU 0) against the same database,
it shows what this machine can do for the same page, so the app's number means something:
team_page_ratio = team_page_rps / ceiling_rps.

    POST /team   {"first": 50} -> {"totalCount": N, "users": [...]}: the same two statements
                 the app's team page runs for its data (the page, LIMIT first+1, and the count)
    POST /users  {"first": 50} -> {"users": [...]}: the page statement only
    POST /nested {"first": 50} -> {"users": [..., "tokens": [...]]}: the nested token page's
                 data, the page and the tokens of its users (two statements, as the app's)
    GET  /healthz

Users carry the columns the team page shows (id as a relay global ID, firstName, lastName,
email, role, status with EXPIRED derived, lastLoginAt as ISO 8601 UTC); no GraphQL, no ORM,
no authentication, no permission flags. PostgreSQL goes through asyncpg (prepared statements,
a pool of 10 like the app's engine); SQLite through aiosqlite (a pool of 5 connections, the
app engine's default, with its PRAGMAs).

Configuration comes from the environment: BENCH_DATABASE_URL (a SQLAlchemy URL, as given to
the app) and BENCH_ORG_ID.

    BENCH_DATABASE_URL=... BENCH_ORG_ID=1 taskset -c 0 \
        python -m uvicorn ceiling:create_app --factory --app-dir bench --port 8001
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAGE_SQL = (
    "SELECT id, first_name, last_name, email, role, status, invitation_expires_at, "
    "last_login_at FROM users WHERE org_id = {0} AND deleted_at IS NULL ORDER BY id LIMIT {1}"
)
COUNT_SQL = "SELECT count(*) FROM users WHERE org_id = {0} AND deleted_at IS NULL"
# The tokens of a page's users that an admin sees (personal tokens of the organization).
TOKENS_SQL = (
    "SELECT id, owner_id, name, permission, created_at, expires_at, last_used_at, revoked_at "
    "FROM access_tokens WHERE org_id = {0} AND subscription_id IS NULL AND owner_id IN ({1}) "
    "ORDER BY id"
)
MAX_PAGE = 100

Rows = list[tuple[Any, ...]]


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


class PostgresStore:
    def __init__(self, url: str) -> None:
        # postgresql+asyncpg://... -> postgresql://... for asyncpg itself
        self.dsn = "postgresql:" + url.split(":", 1)[1]
        self.page_sql = PAGE_SQL.format("$1", "$2")
        self.count_sql = COUNT_SQL.format("$1")

    async def open(self) -> None:
        import asyncpg

        self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=10)

    async def close(self) -> None:
        await self.pool.close()

    async def team(self, org_id: int, limit: int, with_count: bool) -> tuple[Rows, int | None]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(self.page_sql, org_id, limit)
            total = await conn.fetchval(self.count_sql, org_id) if with_count else None
        return [tuple(r) for r in rows], total

    async def tokens(self, org_id: int, owner_ids: list[int]) -> Rows:
        sql = TOKENS_SQL.format("$1", "SELECT unnest($2::int[])")
        async with self.pool.acquire() as conn:
            return [tuple(r) for r in await conn.fetch(sql, org_id, owner_ids)]

    @staticmethod
    def when(value: datetime | None) -> datetime | None:
        return value  # timestamptz: already aware

    async def ping(self) -> None:
        async with self.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")


class SqliteStore:
    SIZE = 5

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url  # start-up only: parsing the URL as the app does

        self.path = make_url(url).database or ""
        self.page_sql = PAGE_SQL.format("?", "?")
        self.count_sql = COUNT_SQL.format("?")
        self.idle: asyncio.Queue[Any] = asyncio.Queue()

    async def open(self) -> None:
        import aiosqlite

        for _ in range(self.SIZE):
            conn = await aiosqlite.connect(self.path, timeout=30, isolation_level=None)
            for pragma in (
                "foreign_keys=ON",
                "journal_mode=WAL",
                "busy_timeout=30000",
                "synchronous=NORMAL",
            ):
                await conn.execute(f"PRAGMA {pragma}")
            self.idle.put_nowait(conn)

    async def close(self) -> None:
        while not self.idle.empty():
            await self.idle.get_nowait().close()

    async def team(self, org_id: int, limit: int, with_count: bool) -> tuple[Rows, int | None]:
        conn = await self.idle.get()
        try:
            async with conn.execute(self.page_sql, (org_id, limit)) as cursor:
                rows = await cursor.fetchall()
            total = None
            if with_count:
                async with conn.execute(self.count_sql, (org_id,)) as cursor:
                    total = (await cursor.fetchone())[0]
        finally:
            self.idle.put_nowait(conn)
        return rows, total

    async def tokens(self, org_id: int, owner_ids: list[int]) -> Rows:
        sql = TOKENS_SQL.format("?", ", ".join("?" * len(owner_ids)))
        conn = await self.idle.get()
        try:
            async with conn.execute(sql, (org_id, *owner_ids)) as cursor:
                return list(await cursor.fetchall())
        finally:
            self.idle.put_nowait(conn)

    @staticmethod
    def when(value: str | None) -> datetime | None:
        # SQLAlchemy stores naive UTC text on SQLite; the API shows aware UTC datetimes.
        return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)

    async def ping(self) -> None:
        conn = await self.idle.get()
        try:
            await conn.execute("SELECT 1")
        finally:
            self.idle.put_nowait(conn)


def create_app() -> Starlette:
    url = os.environ["BENCH_DATABASE_URL"]
    org_id = int(os.environ.get("BENCH_ORG_ID", "1"))
    store: PostgresStore | SqliteStore = (
        PostgresStore(url) if url.startswith("postgresql") else SqliteStore(url)
    )
    when = store.when

    def user_rows(rows: Rows, first: int, now: datetime) -> list[dict[str, Any]]:
        return [
            {
                "id": global_id("User", pk),
                "firstName": first_name,
                "lastName": last_name,
                "email": email,
                "role": role,
                "status": (
                    "EXPIRED"
                    if status == "INVITED" and (ends := when(expires)) is not None and ends <= now
                    else status
                ),
                "lastLoginAt": when(last_login),
            }
            for pk, first_name, last_name, email, role, status, expires, last_login in rows[:first]
        ]

    def token_status(revoked: Any, expires: datetime | None, now: datetime) -> str:
        if revoked is not None:
            return "REVOKED"
        return "EXPIRED" if expires is not None and expires <= now else "ACTIVE"

    async def nested(request: Request) -> Response:
        args = orjson.loads(await request.body() or b"{}")
        first = min(int(args.get("first", 50)), MAX_PAGE)
        rows, _ = await store.team(org_id, first, False)
        now = datetime.now(UTC)
        users = user_rows(rows, first, now)
        owned: dict[int, list[dict[str, Any]]] = {row[0]: [] for row in rows}
        if owned:
            for pk, owner, name, permission, created, expires, used, revoked in await store.tokens(
                org_id, list(owned)
            ):
                ends = when(expires)
                owned[owner].append(
                    {
                        "id": global_id("Token", pk),
                        "name": name,
                        "permission": permission,
                        "status": token_status(revoked, ends, now),
                        "createdAt": when(created),
                        "expiresAt": ends,
                        "lastUsedAt": when(used),
                    }
                )
        for user, row in zip(users, rows, strict=True):
            user["tokens"] = owned[row[0]]
        return OrjsonResponse({"users": users})

    def endpoint(with_count: bool) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            args = orjson.loads(await request.body() or b"{}")
            first = min(int(args.get("first", 50)), MAX_PAGE)
            rows, total = await store.team(org_id, first + 1, with_count)
            now = datetime.now(UTC)
            users = user_rows(rows, first, now)
            body: dict[str, Any] = {"users": users, "hasNextPage": len(rows) > first}
            if with_count:
                body["totalCount"] = total
            return OrjsonResponse(body)

        return handler

    async def healthz(_: Request) -> Response:
        await store.ping()
        return OrjsonResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await store.open()
        yield
        await store.close()

    return Starlette(
        routes=[
            Route("/team", endpoint(with_count=True), methods=["POST"]),
            Route("/users", endpoint(with_count=False), methods=["POST"]),
            Route("/nested", nested, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
