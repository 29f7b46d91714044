"""The ceiling: the team page's data (and an access check's credential work) with nothing but
Starlette, a raw driver and orjson.

Served exactly like the app (one uvicorn worker pinned to CPU 0) against the same database,
it shows what this machine can do for the same page, so the app's number means something:
team_page_ratio = team_page_rps / ceiling_rps, check_access_ratio = check_access_rps /
ceiling_check_rps.

    POST /team   {"first": 50} -> {"totalCount": N, "users": [...]}: the same two statements
                 the app's team page runs for its data (the page, LIMIT first+1, and the count)
    POST /users  {"first": 50} -> {"users": [...]}: the page statement only
    POST /nested {"first": 50} -> {"users": [..., "tokens": [...]]}: the nested token page's
                 data, the page and the tokens of its users (two statements, as the app's)
    POST /check  {"action": "WRITE", "resourceType": "REPOSITORY", "resourceName": "..."} with
                 `Authorization: Bearer <access token>` -> {"allowed", "reason", "subject",
                 "grants": [{"source", "name", "action", "via"}]}: checkAccess's answer data
    GET  /healthz

Users carry the columns the team page shows (id as a relay global ID, firstName, lastName,
email, role, status with EXPIRED derived, lastLoginAt as ISO 8601 UTC); no GraphQL, no ORM,
no authentication, no permission flags. PostgreSQL goes through asyncpg (prepared statements,
a pool of 10 like the app's engine); SQLite through aiosqlite (a pool of 5 connections, the
app engine's default, with its PRAGMAs).

`/check` does per request the minimum any server must do to answer an access check for an
access token, and nothing else: it reads the bearer token, takes its username (the JWT's
`jti`, read from the payload without verifying the signature, as `bench/seed.py`'s
`token_username` does), runs ONE statement, the credential row joined with its owner and
the owner's organization by that username (the app's authentication statement:
access_tokens JOIN users JOIN organizations, selecting only the columns checked here), and
refuses (401) a missing, revoked or expired token, a token whose owner is not the JWT's `sub`,
an owner not ACTIVE or deleted, or a value whose sha256 hex digest differs from the stored
`secret_hash` (hmac.compare_digest, as the app compares). It then looks the question up in a
plain dict prepared at start-up, keyed by (the token owner's user id, action, resource type,
resource name), and serializes that answer with orjson (404 for a question it was not given).
It does NOT build an access index, match include/exclude patterns, evaluate any policy or
project role, verify the JWT's signature (the secret hash authenticates the value), write the
token's lastUsedAt (the app writes it at most once a minute; the benchmark has it written
before each window), or speak GraphQL. The answers come from the benchmark: `bench/run.py`
asks the app (in-process, before serving) and passes them in BENCH_CHECK_ANSWER, and its
pre-flight checks that the ceiling's `/check` and the served app's checkAccess answer the same.

Configuration comes from the environment: BENCH_DATABASE_URL (a SQLAlchemy URL, as given to
the app), BENCH_ORG_ID, and BENCH_CHECK_ANSWER (JSON: a list of {"userId", "action",
"resourceType", "resourceName", "answer"}; optional, `/check` answers 404 without it).

    BENCH_DATABASE_URL=... BENCH_ORG_ID=1 taskset -c 0 \
        python -m uvicorn ceiling:create_app --factory --app-dir bench --port 8001
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
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
# An access token's credential, its owner and the owner's organization, by the token's
# username: the one statement of the app's authentication (backend._from_access_token).
CREDENTIAL_SQL = (
    "SELECT t.secret_hash, t.owner_id, t.revoked_at, t.expires_at, u.status, u.deleted_at, "
    "o.access_version FROM access_tokens AS t JOIN users AS u ON u.id = t.owner_id "
    "JOIN organizations AS o ON o.id = u.org_id WHERE t.username = {0}"
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
        self.credential_sql = CREDENTIAL_SQL.format("$1")

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

    async def credential(self, username: str) -> tuple[Any, ...] | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(self.credential_sql, username)
        return None if row is None else tuple(row)

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
        self.credential_sql = CREDENTIAL_SQL.format("?")
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

    async def credential(self, username: str) -> tuple[Any, ...] | None:
        conn = await self.idle.get()
        try:
            async with conn.execute(self.credential_sql, (username,)) as cursor:
                row = await cursor.fetchone()
        finally:
            self.idle.put_nowait(conn)
        return None if row is None else tuple(row)

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


def bearer_claims(header: str) -> tuple[str, str, int] | None:
    """(token value, username, owner id) of `Bearer <JWT>`: its jti and sub, unverified."""
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or value.count(".") != 2:
        return None
    payload = value.split(".")[1]
    try:
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return value, str(claims["jti"]), int(claims["sub"])
    except (ValueError, TypeError, KeyError):
        return None


def check_answers(raw: str) -> dict[tuple[int, str, str, str], dict[str, Any]]:
    """BENCH_CHECK_ANSWER as a dict: (user id, action, resource type, name) -> answer."""
    return {
        (int(item["userId"]), item["action"], item["resourceType"], item["resourceName"]): item[
            "answer"
        ]
        for item in orjson.loads(raw or "[]")
    }


def create_app() -> Starlette:
    url = os.environ["BENCH_DATABASE_URL"]
    org_id = int(os.environ.get("BENCH_ORG_ID", "1"))
    answers = check_answers(os.environ.get("BENCH_CHECK_ANSWER", ""))
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

    def unauthenticated() -> Response:
        return OrjsonResponse({"error": "unauthenticated"}, status_code=401)

    async def check(request: Request) -> Response:
        credential = bearer_claims(request.headers.get("authorization", ""))
        if credential is None:
            return unauthenticated()
        value, username, subject = credential
        row = await store.credential(username)
        if row is None:
            return unauthenticated()
        secret_hash, owner_id, revoked_at, expires_at, status, deleted_at, _version = row
        expires = when(expires_at)
        if (
            not hmac.compare_digest(
                secret_hash.encode(), hashlib.sha256(value.encode()).hexdigest().encode()
            )
            or owner_id != subject
            or revoked_at is not None
            or (expires is not None and expires <= datetime.now(UTC))
            or status != "ACTIVE"
            or deleted_at is not None
        ):
            return unauthenticated()
        try:
            args = orjson.loads(await request.body())
            question = (owner_id, args["action"], args["resourceType"], args["resourceName"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return OrjsonResponse({"error": "bad request"}, status_code=400)
        answer = answers.get(question)
        if answer is None:
            return OrjsonResponse({"error": "no answer prepared"}, status_code=404)
        return OrjsonResponse(answer)

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
            Route("/check", check, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
