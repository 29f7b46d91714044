"""accessgraph load benchmark: seed, serve, load, stop; one JSON object on the last stdout line.

    python bench/run.py [--quick] [--database-url URL] [--at-commit REV] [--wait-quiet S]
                        [--flat-cost | --flat-cost-only]

1. Seed (bench/seed.py): one organization, 10,000 users, 50,000 tokens, 200 groups, 1,000
   permission targets, 100 projects with 20 roles and 1,000 members each; cached between runs.
2. Sign the admin in (a console session) and count the SQL statements of one request of each
   operation, in-process (httpx ASGITransport and a `before_cursor_execute` listener on the
   app's engine), for first: 10 and first: 50, for checkAccess allowed, denied, about another
   user and about a project's repository (plus the cold check that builds the access index,
   and the index build timed alone), and for a project's page.
3. Serve the real app (`accessgraph.app:app_from_env`) and the ceiling (bench/ceiling.py), each
   as one uvicorn worker pinned to CPU 0; check one response of each operation, that the
   ceiling serves the team page's users, and that its /check answers what the app's
   checkAccess answers (the ceiling is given the in-process app's answer of step 2:
   BENCH_CHECK_ANSWER; it does the credential statement and the serialization only).
4. Load each operation in turn from this process, pinned to CPU 1 (bench/load.py): a fixed
   number of keep-alive connections, a warm-up, then a fixed window.
5. The token burst check: as many requests at once as there are connections, with a token
   whose lastUsedAt is stale; all must be answered.
6. Stop both servers (also on Ctrl-C, SIGTERM or an error) and print the results.

With --flat-cost, then (or with --flat-cost-only, alone) the flat-cost series of issue 8: for
each scale of bench/seed.py's SCALES (1k users and 100 permission targets, 10k and 1,000 (the
default database), 100k and 10,000), seed (cached, each scale its own database), count the
statements of the team page (with and without totalCount) and of checkAccess in-process as in
step 2, serve the three apps (one worker each, all pinned to CPU 0, idle but for their turn),
check one answer of each, and load each operation at each scale in turn (the scales interleaved
per operation) from CPU 1 over the same connections, with short windows (at most 2 s warm-up
and 5 s measured; --quick: 1 s + 3 s): flat_cost_* keys, among them
flat_cost_ratio_100k_vs_1k (the worst slowdown from 1k to 100k users of the team page and
checkAccess, by throughput) and flat_cost_statements_constant.

Progress goes to stderr; stdout carries only the final JSON line. The exit status is 1 when
any request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import ctypes
import dataclasses
import datetime as dt
import gc
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from load import (  # noqa: E402
    CLK_TCK,
    Probe,
    Target,
    cpu_ticks,
    graphql_problem,
    process_ticks,
    request_once,
    run_load,
)
from seed import (  # noqa: E402
    DEFAULT_SCALE,
    DEFAULT_SQLITE_URL,
    REAL_TOKENS,
    SCALES,
    SECRET_KEY,
    TOKENS,
    USERS,
    WORK_DIR,
    Seeded,
    console_session,
    forget_token_use,
    is_postgres,
    seed,
)

REPO = BENCH_DIR.parent
SERVER_CPU = 0
CLIENT_CPU = 1

TEAM_PAGE = """query TeamPage {
  users(first: 50) {
    totalCount
    edges { cursor node {
      id firstName lastName email role status lastLoginAt
      viewerCanUpdateRole viewerCanDelete viewerCanResendInvitation
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""
TOKEN_PAGE = """query TokenPage {
  tokens(first: 50) {
    totalCount
    edges { node {
      id name permission username status createdAt expiresAt lastUsedAt
      createdBy { id email }
      viewerCanRevoke viewerCanDelete
    } }
  }
}"""
# Issue 8's nested page: 50 users with their tokens (the ceiling's /nested serves the same).
NESTED_PAGE = """query NestedPage {
  users(first: 50) {
    edges { node {
      id firstName lastName email role status lastLoginAt
      tokens { id name permission status createdAt expiresAt lastUsedAt }
    } }
  }
}"""
VIEWER = "query Viewer { viewer { id } }"
CHECK_ACCESS = """query CheckAccess {
  checkAccess(input: {action: "WRITE", resourceType: REPOSITORY, resourceName: %s%s}) {
    allowed reason subject grants { source name action via }
  }
}"""


PROJECT_PAGE = """query ProjectPage {
  project(key: %s) {
    key name
    viewerPermissions(environment: DEV) { resourceType actions }
    members(first: 50) {
      totalCount
      edges { roles node { __typename ... on User { email } ... on Group { name } } }
    }
    roles { name }
    globalRoles { name }
  }
}"""


def project_page_doc(key: str) -> str:
    """A project's page as its member sees it: their permissions, 50 members, the roles."""
    return PROJECT_PAGE % orjson.dumps(key).decode()


def check_access_doc(resource: str, user_id: int | None = None) -> str:
    """checkAccess WRITE on a repository: about the caller, or (admins) about `user_id`."""
    about = f', userId: "{global_id("User", user_id)}"' if user_id is not None else ""
    return CHECK_ACCESS % (orjson.dumps(resource).decode(), about)


_PARAMS = re.compile(r"\((?:\?, ){9,}\?\)|\((?:\$\d+::\w+, ){9,}\$\d+::\w+\)")
IGNORED_SQL = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


@dataclass(frozen=True)
class Mode:
    warmup: float
    window: float
    concurrency: int
    burst_limit: float  # seconds the token burst check waits for its answers


FULL = Mode(warmup=5.0, window=20.0, concurrency=16, burst_limit=10.0)
QUICK = Mode(warmup=1.0, window=3.0, concurrency=16, burst_limit=5.0)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


@dataclass(frozen=True)
class Credentials:
    """The team and token pages are console pages: they send the admin's console session,
    as the console does. `viewer` and `check_access_admin` send the admin's access token (API
    automation); `check_access` the developer's READ_WRITE access token."""

    session: str
    token: str
    developer_token: str

    def for_operation(self, name: str) -> dict[str, str]:
        value = {
            "console session": self.session,
            "access token": self.token,
            "developer's access token": self.developer_token,
        }[
            AUTH_USED.get(name.removesuffix("_first10").removesuffix("_denied"))
            or FLAT_COST_AUTH[name]
        ]
        return {"Authorization": f"Bearer {value}"}


AUTH_USED = {
    "team_page": "console session",
    "token_page": "console session",
    "nested_page": "console session",
    "viewer": "access token",
    "check_access": "developer's access token",
    "check_access_serial": "developer's access token",
    "check_access_admin": "access token",
    "check_access_project": "developer's access token",
    "check_access_project_serial": "developer's access token",
    "project_page": "developer's access token",
    "team_page_32": "console session",
    "check_access_32": "developer's access token",
}
# The flat-cost series' own operation (its others are in AUTH_USED).
FLAT_COST_AUTH = {"team_page_no_count": "console session"}
# Operations loaded over fewer connections than the others: `check_access_serial` and
# `check_access_project_serial` are one request at a time, the latency of a check when nothing
# queues before it.
CONCURRENCY = {
    "check_access_serial": 1,
    "check_access_project_serial": 1,
    # Issue 8's latency targets are at 32 connections to one worker.
    "team_page_32": 32,
    "check_access_32": 32,
}


# --- SQL statement counts (in-process) --------------------------------------------------------


def default_operations(seeded: Seeded) -> list[tuple[str, str]]:
    """The operations whose statements `_count_statements` counts by default."""
    return [
        ("team_page", TEAM_PAGE),
        ("team_page_first10", TEAM_PAGE.replace("first: 50", "first: 10")),
        ("token_page", TOKEN_PAGE),
        ("token_page_first10", TOKEN_PAGE.replace("first: 50", "first: 10")),
        ("nested_page", NESTED_PAGE),
        ("nested_page_first10", NESTED_PAGE.replace("first: 50", "first: 10")),
        ("viewer", VIEWER),
        ("check_access", check_access_doc(seeded.check_resource)),
        ("check_access_denied", check_access_doc(seeded.check_denied)),
        (
            "check_access_admin",
            check_access_doc(seeded.check_resource, seeded.developer_user_id),
        ),
        ("check_access_project", check_access_doc(seeded.check_project_resource)),
        ("project_page", project_page_doc(seeded.check_project)),
    ]


async def _count_statements(
    url: str,
    creds: Credentials,
    seeded: Seeded,
    build_runs: int = 3,
    *,
    operations: list[tuple[str, str]] | None = None,
    answers: dict[str, Any] | None = None,
    listing_name: str = "",
) -> dict[str, Any]:
    """Statements per request of each of `operations` (default: `default_operations`), the
    cold check's, and (`build_runs` > 0) the access index's build time. Each operation's
    answer `data` goes into `answers` (when given); the statements into
    bench/.work/statements-<db><listing_name>.sql."""
    import httpx
    from sqlalchemy import event

    from accessgraph.app import create_app
    from accessgraph.settings import Settings

    app = create_app(Settings(database_url=url, secret_key=SECRET_KEY))
    engine = app.state.services.db.engine.sync_engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    counts: dict[str, Any] = {}
    listing: list[str] = []

    def counted(name: str) -> list[str]:
        statements = [s for s in seen if not s.lstrip().upper().startswith(IGNORED_SQL)]
        counts[f"sql_statements_{name}"] = len(statements)
        listing.append(f"-- {name}: {len(statements)} statements")
        listing.extend(
            _PARAMS.sub(lambda m: f"({m.group(0).count(',') + 1} parameters)", " ".join(s.split()))
            for s in statements
        )
        return statements

    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def post(name: str, doc: str) -> None:
                response = await client.post(
                    "/graphql", json={"query": doc}, headers=creds.for_operation(name)
                )
                problem = (
                    f"HTTP {response.status_code}"
                    if response.status_code != 200
                    else graphql_problem(response.content)
                )
                if problem:
                    raise SystemExit(f"in-process {name} request failed: {problem}")
                if answers is not None:
                    answers[name] = orjson.loads(response.content)["data"]

            # The first check of this process builds the organization's access index: its
            # statements (and time) are the cold check's, counted apart; a request before it
            # has the developer's token write its lastUsedAt, which is not the check's.
            await post("check_access", VIEWER)
            seen.clear()
            began = time.perf_counter()
            await post("check_access", check_access_doc(seeded.check_resource))
            counts["check_access_cold_ms"] = round((time.perf_counter() - began) * 1000, 1)
            counted("check_access_cold")
            for name, doc in default_operations(seeded) if operations is None else operations:
                # The first request may write the token's lastUsedAt (once a minute); count
                # the second, which is what a steady stream of requests runs.
                for _ in range(2):
                    seen.clear()
                    await post(name, doc)
                counted(name)
        # The access index's build alone (what the cold check, and the first check after any
        # change to access, waits for), timed a few times in this process.
        if build_runs > 0:
            counts.update(await _time_index_build(app.state.services, seeded.org_id, build_runs))
    finally:
        event.remove(engine, "before_cursor_execute", record)
        await app.state.services.db.dispose()
    backend = "postgresql" if is_postgres(url) else "sqlite"
    (WORK_DIR / f"statements-{backend}{listing_name}.sql").write_text("\n".join(listing) + "\n")
    return counts


async def _time_index_build(services: Any, org_id: int, runs: int = 3) -> dict[str, Any]:
    """Wall time of `accessgraph.resolvers.access_index.build` (its statements and the Python
    that compiles the rows), `runs` times in a row: median and fastest; and the longest the
    event loop went without serving anything else meanwhile (a ticker's largest gap): how long
    other requests of the worker wait behind a rebuild."""
    from accessgraph.resolvers.access_index import build

    async def longest_gap(done: asyncio.Event) -> float:
        longest, last = 0.0, time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            longest, last = max(longest, now - last), now
        return longest

    times, stalls = [], []
    for _ in range(runs):
        done = asyncio.Event()
        ticking = asyncio.create_task(longest_gap(done))
        began = time.perf_counter()
        index = await build(services.db, org_id)
        times.append((time.perf_counter() - began) * 1000)
        done.set()
        stalls.append(await ticking * 1000)
    times.sort()
    stalls.sort()
    return {
        "access_index_build_ms": round(times[len(times) // 2], 1),
        "access_index_build_min_ms": round(times[0], 1),
        "access_index_build_stall_ms": round(stalls[len(stalls) // 2], 1),
        "access_index_build_runs": runs,
        "access_index_member_roles": sum(map(len, index.member_roles.values())),
    }


# --- servers ----------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the benchmark dies without cleaning up (Linux prctl)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One uvicorn worker pinned to SERVER_CPU, stopped by `stop` (idempotent)."""

    def __init__(
        self, name: str, app: str, env: dict[str, str], extra: list[str], database_url: str
    ) -> None:
        self.name = name
        self.database_url = database_url
        self.port = free_port()
        self.log_path = WORK_DIR / f"{name}.log"
        command = [
            "taskset",
            "-c",
            str(SERVER_CPU),
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--no-access-log",
            "--no-proxy-headers",
            "--log-level",
            "warning",
            *extra,
        ]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            command,
            cwd=REPO,
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log(f"started {name} (pid {self.proc.pid}) on port {self.port}: {' '.join(command)}")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited ({self.proc.returncode}):\n{self.tail()}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock,
            ):
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
            time.sleep(0.1)
        raise SystemExit(f"{self.name} not ready after {timeout:.0f}s:\n{self.tail()}")

    def tail(self) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # uvicorn's graceful shutdown
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            log(f"stopped {self.name} (pid {self.proc.pid}, exit {self.proc.returncode})")
        self._log.close()


def app_server(seeded: Seeded, name: str = "app") -> Server:
    """The real app (`accessgraph serve`'s factory, event loop and HTTP parser) on `seeded`'s
    database."""
    from accessgraph import serving  # one worker's loop and parser, as `serve` runs it

    chosen = serving.options() if hasattr(serving, "options") else serving.UVICORN_OPTIONS
    return Server(
        name,
        "accessgraph.app:app_from_env",
        {
            "ACCESSGRAPH_DATABASE_URL": seeded.database_url,
            "ACCESSGRAPH_SECRET_KEY": SECRET_KEY,
            "ACCESSGRAPH_ENV": "production",
        },
        ["--loop", str(chosen["loop"]), "--http", str(chosen["http"])],
        seeded.database_url,
    )


def check_questions(seeded: Seeded, check: dict[str, Any]) -> list[dict[str, Any]]:
    """What the ceiling's /check is to answer (BENCH_CHECK_ANSWER): the `check_access`
    operation's question and the app's answer `check` to it."""
    return [
        {
            "userId": seeded.developer_user_id,
            "action": "WRITE",
            "resourceType": "REPOSITORY",
            "resourceName": seeded.check_resource,
            "answer": check,
        }
    ]


@contextlib.contextmanager
def serving(seeded: Seeded, check_answer: list[dict[str, Any]]) -> Iterator[tuple[Server, Server]]:
    servers: list[Server] = []
    try:
        servers.append(app_server(seeded))
        servers.append(
            Server(
                "ceiling",
                "ceiling:create_app",
                {
                    "BENCH_DATABASE_URL": seeded.database_url,
                    "BENCH_ORG_ID": str(seeded.org_id),
                    "BENCH_CHECK_ANSWER": orjson.dumps(check_answer).decode(),
                },
                ["--app-dir", str(BENCH_DIR)],
                seeded.database_url,
            )
        )
        for server in servers:
            server.wait_ready()
        yield servers[0], servers[1]
    finally:
        for server in reversed(servers):
            server.stop()


# --- checks -----------------------------------------------------------------------------------


async def _fetch(target: Target, name: str) -> dict[str, Any]:
    status, body = await request_once(target)
    problem = f"HTTP {status}: {body[:300]!r}" if status != 200 else graphql_problem(body)
    if problem:
        raise SystemExit(f"pre-flight {name} failed: {problem}")
    doc: dict[str, Any] = orjson.loads(body)
    return doc


async def preflight(targets: dict[str, Target], seeded: Seeded) -> None:
    """One response of each operation, checked for shape; the ceiling's users must be the
    team page's users, field for field."""
    team = (await _fetch(targets["team_page"], "team page"))["data"]["users"]
    tokens = (await _fetch(targets["token_page"], "token page"))["data"]["tokens"]
    viewer = (await _fetch(targets["viewer"], "viewer"))["data"]["viewer"]
    check = (await _fetch(targets["check_access"], "checkAccess"))["data"]["checkAccess"]
    check_admin = (await _fetch(targets["check_access_admin"], "checkAccess (admin)"))["data"][
        "checkAccess"
    ]
    check_project = (await _fetch(targets["check_access_project"], "checkAccess (project)"))[
        "data"
    ]["checkAccess"]
    project = (await _fetch(targets["project_page"], "project page"))["data"]["project"]
    ceiling = await _fetch(targets["ceiling"], "ceiling")
    ceiling_check = await _fetch(targets["ceiling_check"], "ceiling check")
    team_ok = team["totalCount"] == USERS and len(team["edges"]) == 50
    tokens_ok = tokens["totalCount"] == TOKENS + REAL_TOKENS and len(tokens["edges"]) == 50
    # Allowed through the expected group's grant on the expected target (and no other way:
    # not an admin, so no TEAM_ROLE grant).
    expected_grant = {
        "source": "PERMISSION_TARGET",
        "name": seeded.check_target,
        "action": "WRITE",
        "via": seeded.check_via,
    }
    checks = {
        f"team page: totalCount {team['totalCount']}, {len(team['edges'])} edges": team_ok,
        f"token page: totalCount {tokens['totalCount']}, {len(tokens['edges'])} edges": tokens_ok,
        "token page: a token without createdBy": all(
            e["node"]["createdBy"] for e in tokens["edges"]
        ),
        f"viewer: {viewer}": viewer["id"] == global_id("User", seeded.admin_user_id),
        f"checkAccess: {check}": check["allowed"]
        and expected_grant in check["grants"]
        and all(g["source"] == "PERMISSION_TARGET" for g in check["grants"])
        and check["subject"].startswith(seeded.developer_email),
        f"checkAccess (admin, userId): {check_admin}": check_admin["allowed"]
        and check_admin["grants"] == check["grants"]
        and check_admin["subject"] == seeded.developer_email,
        f"checkAccess (project): {check_project}": _project_check_ok(check_project, seeded),
        f"project page: {str(project)[:300]}": _project_page_ok(project, seeded),
        f"ceiling: totalCount {ceiling['totalCount']}": ceiling["totalCount"] == USERS,
        # The ceiling answers the check with the app's data (given at its start, from the
        # in-process app): the served app must answer exactly that too.
        f"ceiling check: {ceiling_check} (the app: {check})": ceiling_check == check,
    }
    failed = [what for what, ok in checks.items() if not ok]
    if failed:
        raise SystemExit("pre-flight: unexpected answers: " + "; ".join(failed))
    fields = ["id", "firstName", "lastName", "email", "role", "status", "lastLoginAt"]
    shown = [{k: e["node"][k] for k in fields} for e in team["edges"]]
    if shown != ceiling["users"]:
        diff = next((a, b) for a, b in zip(shown, ceiling["users"], strict=False) if a != b)
        raise SystemExit(f"the ceiling serves other data than the team page: {diff}")
    nested = (await _fetch(targets["nested_page"], "nested page"))["data"]["users"]["edges"]
    nested_ceiling = (await _fetch(targets["ceiling_nested"], "nested ceiling"))["users"]
    nested_shown = [edge["node"] for edge in nested]
    if nested_shown != nested_ceiling or not any(user["tokens"] for user in nested_shown):
        diff = next(
            ((a, b) for a, b in zip(nested_shown, nested_ceiling, strict=False) if a != b),
            "no tokens",
        )
        raise SystemExit(f"the nested ceiling serves other data than the nested page: {diff}")


def _project_check_ok(check: dict[str, Any], seeded: Seeded) -> bool:
    """Allowed through the project's roles: the developer's own role and their group's global
    role, both PROJECT_ROLE grants (no permission target covers a project's resources)."""
    expected = [
        {
            "source": "PROJECT_ROLE",
            "name": seeded.check_project_role,
            "action": "WRITE",
            "via": "user",
        },
        {
            "source": "PROJECT_ROLE",
            "name": seeded.check_project_global_role,
            "action": "WRITE",
            "via": seeded.check_project_via,
        },
    ]
    return bool(
        check["allowed"]
        and all(grant in check["grants"] for grant in expected)
        and all(g["source"] == "PROJECT_ROLE" for g in check["grants"])
        and check["subject"].startswith(seeded.developer_email)
    )


def _project_page_ok(project: dict[str, Any] | None, seeded: Seeded) -> bool:
    if project is None:
        return False
    held = {p["resourceType"]: p["actions"] for p in project["viewerPermissions"]}
    members = project["members"]
    return bool(
        project["key"] == seeded.check_project
        and "WRITE" in held.get("REPOSITORY", [])
        and members["totalCount"] == seeded.project_members // seeded.projects
        and len(members["edges"]) == 50
        and all(edge["roles"] and edge["node"] for edge in members["edges"])
        and len(project["roles"]) == seeded.project_roles // seeded.projects
        and len(project["globalRoles"]) == 5
    )


# --- main -------------------------------------------------------------------------------------


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def use_commit(rev: str) -> str:
    """Export `rev` (git archive) to bench/.work/src-<sha>/ and import accessgraph from there,
    here and in the servers: an exact commit measured while the working tree changes."""
    sha = _git("rev-parse", "--short", f"{rev}^{{commit}}")
    root = WORK_DIR / f"src-{sha}"
    if not (root / "src" / "accessgraph").is_dir():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", sha, "src"], cwd=REPO, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    src = str(root / "src")
    sys.path.insert(0, src)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    log(f"measuring commit {sha} exported to {root.relative_to(REPO)}")
    return sha


def code_state(commit: str | None) -> dict[str, Any]:
    """Which code was measured: the commit, and whether src/ had uncommitted changes."""
    import accessgraph

    package = Path(accessgraph.__file__).resolve().parent
    state: dict[str, Any] = {"commit": commit, "src_dirty": False, "accessgraph": str(package)}
    try:
        if commit is None:
            state["commit"] = _git("rev-parse", "--short", "HEAD")
            state["src_dirty"] = bool(_git("status", "--porcelain", "--", str(package)))
    except (OSError, subprocess.CalledProcessError):
        state.update(commit="unknown", src_dirty=None)
    return state


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _pin_self() -> bool:
    cpus = os.sched_getaffinity(0)
    if cpus == {CLIENT_CPU}:
        return True  # pinned already (the flat-cost series after the other operations)
    if not {SERVER_CPU, CLIENT_CPU} <= cpus:
        log(
            f"warning: CPUs {SERVER_CPU} and {CLIENT_CPU} are not both available ({cpus}); "
            "client and server will share cores"
        )
        return False
    os.sched_setaffinity(0, {CLIENT_CPU})
    return True


class Profiler:
    """Probe: py-spy (if installed) samples the app during the window, into a flame graph."""

    def __init__(self, server: Server, name: str, mode: Mode) -> None:
        self.server, self.name, self.mode = server, name, mode
        self.spy: asyncio.subprocess.Process | None = None
        self.exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(self.exe).exists():
            log("--profile: py-spy is not installed (pip install py-spy); not profiling")
        backend = "postgresql" if is_postgres(server.database_url) else "sqlite"
        self.out = WORK_DIR / f"profile-{backend}-{name}.svg"

    async def start(self) -> None:
        if not Path(self.exe).exists():  # noqa: ASYNC240 (a stat, once)
            return
        self.spy = await asyncio.create_subprocess_exec(
            self.exe, "record", "--pid", str(self.server.proc.pid),
            "--duration", str(int(self.mode.window)), "--rate", "200", "--gil",
            "--nonblocking", "--format", "flamegraph", "-o", str(self.out),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    async def stop(self, result: Any) -> dict[str, Any]:
        if self.spy is None:
            return {}
        async with asyncio.timeout(30):
            await self.spy.wait()
        return {"profile": str(self.out.relative_to(REPO))}


class PostgresBackends:
    """Probe: the CPU time of the PostgreSQL backends connected to the benchmark's database
    (whichever server they serve; the idle one's cost nothing), and how many connections were
    opened during the window. Backends are found in /proc every 0.2 s, only to read their CPU
    time: the benchmark never signals or pins them. A backend that exits loses its last 0.2 s.
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        self.database = parsed.database or ""
        self.dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        self.marker = f" {self.database} ".encode()
        self.ours: dict[int, bool] = {}

    def _backends(self) -> list[int]:
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            pid = int(entry.name)
            if pid not in self.ours:
                try:
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                self.ours[pid] = cmdline.startswith(b"postgres: ") and self.marker in cmdline
            if self.ours[pid]:
                pids.append(pid)
        return pids

    def _sample(self) -> None:
        for pid in self._backends():
            ticks = process_ticks(pid)
            if ticks is not None:
                self.first.setdefault(pid, 0)  # born during the window: all of its time
                self.last[pid] = ticks

    async def _sessions(self) -> int:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            # pg_stat_database.sessions counts connections made; the stats are flushed at
            # least once a second, so this is exact to a second or so.
            value = await conn.fetchval(
                "SELECT sessions FROM pg_stat_database WHERE datname = $1", self.database
            )
        finally:
            await conn.close()
        return int(value or 0)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            self._sample()

    async def start(self) -> None:
        self.sessions0 = await self._sessions()
        self.first = {pid: t for pid in self._backends() if (t := process_ticks(pid)) is not None}
        self.last = dict(self.first)
        self.started = time.perf_counter()
        self.poller = asyncio.create_task(self._poll())

    async def stop(self, result: Any) -> dict[str, Any]:
        self._sample()
        wall = time.perf_counter() - self.started
        self.poller.cancel()
        seconds = sum(self.last[pid] - self.first[pid] for pid in self.last) / CLK_TCK
        opened = await self._sessions() - self.sessions0 - 1  # not our own query's
        return {
            "db_cpu": round(seconds / wall, 3),
            "db_cpu_ms_per_request": (
                round(seconds / result.requests * 1000, 3) if result.requests else None
            ),
            "db_connections_opened_per_s": round(max(0, opened) / wall, 1),
        }


async def until_quiet(limit: float, threshold: float = 0.10) -> None:
    """Wait (at most `limit` seconds) until both cores are idle for 2 seconds: another job
    on a shared machine would take CPU 0 from the server. Our servers are idle meanwhile."""
    deadline = time.monotonic() + limit
    while True:
        before = cpu_ticks()
        await asyncio.sleep(2)
        after = cpu_ticks()
        busy = max(
            (after[cpu][0] - before[cpu][0]) / max(1, after[cpu][1] - before[cpu][1])
            for cpu in after
            if cpu in before
        )
        if busy <= threshold:
            return
        if time.monotonic() > deadline:
            log(f"  the machine is still busy ({busy:.0%} of a core); measuring anyway")
            return
        log(f"  waiting for a quiet machine (a core is {busy:.0%} busy)")


async def measure(
    app: Server,
    ceiling: Server,
    seeded: Seeded,
    creds: Credentials,
    mode: Mode,
    profile: bool = False,
    wait_quiet: float = 0.0,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    graphql = f"{app.base}/graphql"
    auth = creds.for_operation
    targets = {
        "team_page": Target.post_json(graphql, {"query": TEAM_PAGE}, auth("team_page")),
        "token_page": Target.post_json(graphql, {"query": TOKEN_PAGE}, auth("token_page")),
        "nested_page": Target.post_json(graphql, {"query": NESTED_PAGE}, auth("nested_page")),
        "ceiling_nested": Target.post_json(f"{ceiling.base}/nested", {"first": 50}),
        "viewer": Target.post_json(graphql, {"query": VIEWER}, auth("viewer")),
        "ceiling": Target.post_json(f"{ceiling.base}/team", {"first": 50}),
        "ceiling_page_only": Target.post_json(f"{ceiling.base}/users", {"first": 50}),
        "check_access": Target.post_json(
            graphql, {"query": check_access_doc(seeded.check_resource)}, auth("check_access")
        ),
        # The check's ceiling (ceiling.py's /check), loaded right after the app's check.
        "ceiling_check": Target.post_json(
            f"{ceiling.base}/check",
            {
                "action": "WRITE",
                "resourceType": "REPOSITORY",
                "resourceName": seeded.check_resource,
            },
            auth("check_access"),
        ),
        "check_access_serial": Target.post_json(
            graphql,
            {"query": check_access_doc(seeded.check_resource)},
            auth("check_access_serial"),
        ),
        "check_access_admin": Target.post_json(
            graphql,
            {"query": check_access_doc(seeded.check_resource, seeded.developer_user_id)},
            auth("check_access_admin"),
        ),
        "check_access_project": Target.post_json(
            graphql,
            {"query": check_access_doc(seeded.check_project_resource)},
            auth("check_access_project"),
        ),
        "check_access_project_serial": Target.post_json(
            graphql,
            {"query": check_access_doc(seeded.check_project_resource)},
            auth("check_access_project_serial"),
        ),
        "project_page": Target.post_json(
            graphql, {"query": project_page_doc(seeded.check_project)}, auth("project_page")
        ),
        "team_page_32": Target.post_json(graphql, {"query": TEAM_PAGE}, auth("team_page_32")),
        "check_access_32": Target.post_json(
            graphql,
            {"query": check_access_doc(seeded.check_resource)},
            auth("check_access_32"),
        ),
    }
    await preflight(targets, seeded)
    log("pre-flight: every operation answers correctly; the ceiling serves the same users")
    results: dict[str, dict[str, Any]] = {}
    for name, target in targets.items():
        server = ceiling if name.startswith("ceiling") else app
        if wait_quiet:
            await until_quiet(wait_quiet)
        token = {"access token": creds.token, "developer's access token": creds.developer_token}
        if AUTH_USED.get(name) in token:
            # The token writes lastUsedAt at most once a minute. Have that write happen now,
            # alone, so the window (shorter than a minute) measures reads; the write under
            # concurrency is the burst check's business.
            await forget_token_use(seeded.database_url, token[AUTH_USED[name]])
            await _fetch(target, name)
        concurrency = CONCURRENCY.get(name, mode.concurrency)
        log(
            f"load {name}: {concurrency} connections, {mode.warmup:g}s warm-up, "
            f"{mode.window:g}s window"
        )
        gc.collect()
        probes: list[Probe] = []
        if is_postgres(seeded.database_url):
            probes.append(PostgresBackends(seeded.database_url))
        if profile and server is app:
            probes.append(Profiler(server, name, mode))
        result = await run_load(
            target,
            concurrency=concurrency,
            duration=mode.window,
            warmup=mode.warmup,
            graphql=not name.startswith("ceiling"),
            server_pid=server.proc.pid,
            probes=probes,
        )
        summary = result.summary()
        results[name] = summary
        log(
            f"  {name}: {summary['rps']:.1f} rps, p50 {summary['p50_ms']:.1f} ms, "
            f"p99 {summary['p99_ms']:.1f} ms, errors {summary['errors']}, "
            f"server CPU {summary['server_cpu_ms_per_request']} ms/request"
            + (
                f" + database {summary['probes']['db_cpu_ms_per_request']} ms/request, "
                f"{summary['probes']['db_connections_opened_per_s']} connections opened/s; "
                if "db_cpu" in summary["probes"]
                else "; "
            )
            + f"CPU use: server {summary['server_cpu']}, client {summary['client_cpu']}, "
            f"cores busy {summary['cpu_busy']}"
        )
        if summary["first_error"]:
            log(f"  first error: {summary['first_error']}")
    burst = await token_burst(
        targets["viewer"], seeded, creds, mode.concurrency, limit=mode.burst_limit
    )
    return results, burst


async def token_burst(
    target: Target, seeded: Seeded, creds: Credentials, size: int, limit: float
) -> dict[str, Any]:
    """A correctness check, run last: `size` requests at once with a token whose lastUsedAt
    is stale (automation resuming after a pause), so that each of them may write lastUsedAt.
    All must be answered within `limit` seconds."""
    await forget_token_use(seeded.database_url, creds.token)
    started = time.perf_counter()
    tasks = [asyncio.create_task(request_once(target)) for _ in range(size)]
    done, pending = await asyncio.wait(tasks, timeout=limit)
    for task in pending:
        task.cancel()
    answered = [t.result() for t in done if t.exception() is None]
    outcome = {
        "requests": size,
        "answered_200": sum(1 for status, _ in answered if status == 200),
        "unanswered_after_s": limit if pending else None,
        "unanswered": len(pending),
        "seconds": round(time.perf_counter() - started, 2),
    }
    log(f"token burst ({size} requests at once, stale lastUsedAt): {outcome}")
    return outcome


def total_cpu_ms(summary: dict[str, Any]) -> float | None:
    """CPU milliseconds per request: the server's, plus its database's if measured."""
    server = summary["server_cpu_ms_per_request"]
    if server is None:
        return None
    return float(server) + float(summary["probes"].get("db_cpu_ms_per_request") or 0.0)


# --- flat cost (issue 8): the same requests at 1k, 10k and 100k users ----------------------

# The console's team page without its totalCount: what the page costs apart from counting
# every user of the organization (a count over 100,000 rows at the largest scale).
TEAM_PAGE_NO_COUNT = TEAM_PAGE.replace("    totalCount\n", "", 1)
FLAT_COST_OPERATIONS = ("team_page", "team_page_no_count", "check_access")
# The operations whose slowdown from 1k to 100k is `flat_cost_ratio_100k_vs_1k` (the issue
# names the team page, which the console asks for with its totalCount, and checkAccess).
FLAT_COST_RATIO_OPERATIONS = ("team_page", "check_access")
FLAT_COST_WARMUP = 2.0  # at most, per operation and scale (--quick: its own 1 s)
FLAT_COST_WINDOW = 5.0  # at most (--quick: 3 s; --window lowers it)


def _flat_cost_documents(seeded: Seeded) -> list[tuple[str, str]]:
    return [
        ("team_page", TEAM_PAGE),
        ("team_page_no_count", TEAM_PAGE_NO_COUNT),
        ("check_access", check_access_doc(seeded.check_resource)),
    ]


def _flat_cost_answers_ok(answers: dict[str, Any], seeded: Seeded) -> list[str]:
    """What is wrong with one answer of each flat-cost operation at `seeded`'s scale."""
    team = answers["team_page"]["users"]
    bare = answers["team_page_no_count"]["users"]
    check = answers["check_access"]["checkAccess"]
    expected_grant = {
        "source": "PERMISSION_TARGET",
        "name": seeded.check_target,
        "action": "WRITE",
        "via": seeded.check_via,
    }
    checks = {
        f"team page: totalCount {team['totalCount']}, {len(team['edges'])} edges": (
            team["totalCount"] == seeded.users and len(team["edges"]) == 50
        ),
        f"team page without totalCount: {len(bare['edges'])} edges, {sorted(bare)}": (
            len(bare["edges"]) == 50 and "totalCount" not in bare
        ),
        f"checkAccess: {check}": bool(
            check["allowed"]
            and expected_grant in check["grants"]
            and check["subject"].startswith(seeded.developer_email)
        ),
    }
    return [f"{seeded.scale}: {what}" for what, ok in checks.items() if not ok]


async def _flat_cost_load(
    apps: dict[str, Server],
    seeds: dict[str, Seeded],
    creds: dict[str, Credentials],
    answers: dict[str, dict[str, Any]],
    mode: Mode,
    wait_quiet: float,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Each operation at each scale in turn (scales interleaved per operation, so that a slow
    minute of a shared machine does not fall on one scale only): scale -> op -> summary."""
    targets: dict[str, dict[str, Target]] = {}
    for name, app in apps.items():
        auth = creds[name].for_operation
        targets[name] = {
            op: Target.post_json(f"{app.base}/graphql", {"query": doc}, auth(op))
            for op, doc in _flat_cost_documents(seeds[name])
        }
        # The served app answers what the in-process app answered.
        for op, target in targets[name].items():
            served = (await _fetch(target, f"{op} ({name})"))["data"]
            if served != answers[name][op]:
                raise SystemExit(
                    f"pre-flight {op} ({name}): the served app answers {str(served)[:300]}, "
                    f"in-process {str(answers[name][op])[:300]}"
                )
    log("flat cost pre-flight: every scale answers as its in-process app did")
    results: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in apps}
    for op in FLAT_COST_OPERATIONS:
        for name, app in apps.items():
            seeded, target = seeds[name], targets[name][op]
            if wait_quiet:
                await until_quiet(wait_quiet)
            if AUTH_USED.get(op) == "developer's access token":
                # As in `measure`: lastUsedAt is written now, alone, not in the window.
                await forget_token_use(seeded.database_url, seeded.developer_token)
                await _fetch(target, op)
            log(
                f"load {op} at {name}: {mode.concurrency} connections, {mode.warmup:g}s "
                f"warm-up, {mode.window:g}s window"
            )
            gc.collect()
            probes: list[Probe] = []
            if is_postgres(seeded.database_url):
                probes.append(PostgresBackends(seeded.database_url))
            result = await run_load(
                target,
                concurrency=mode.concurrency,
                duration=mode.window,
                warmup=mode.warmup,
                server_pid=app.proc.pid,
                probes=probes,
            )
            summary = result.summary()
            results[name][op] = summary
            log(
                f"  {op} at {name}: {summary['rps']:.1f} rps, p50 {summary['p50_ms']:.1f} ms, "
                f"p99 {summary['p99_ms']:.1f} ms, errors {summary['errors']}, server CPU "
                f"{summary['server_cpu_ms_per_request']} ms/request"
                + (
                    f" + database {summary['probes']['db_cpu_ms_per_request']} ms/request"
                    if "db_cpu_ms_per_request" in summary["probes"]
                    else ""
                )
            )
            if summary["first_error"]:
                log(f"  first error: {summary['first_error']}")
    return results


def flat_cost_series(
    url: str,
    mode: Mode,
    *,
    reseed: bool = False,
    wait_quiet: float = 0.0,
    known: Seeded | None = None,
) -> dict[str, Any]:
    """Issue 8's flat cost: the team page (as the console asks for it, and without its
    totalCount) and checkAccess at each scale of `seed.SCALES` (1k users and 100 permission
    targets, 10k and 1,000 (the default database), 100k and 10,000), each scale's app served
    as one worker pinned to CPU 0 (all three started together, idle but for their turn), the
    load from CPU 1 over `mode.concurrency` connections with short windows. `known`: the
    default scale's seed when this process already made or checked it.

    Returns {"keys": the flat_cost_* keys, "errors", "warnings", "pinned"}."""
    from sqlalchemy.engine import make_url

    mode = dataclasses.replace(
        mode, warmup=min(mode.warmup, FLAT_COST_WARMUP), window=min(mode.window, FLAT_COST_WINDOW)
    )
    seeds: dict[str, Seeded] = {}
    creds: dict[str, Credentials] = {}
    counts: dict[str, dict[str, Any]] = {}
    answers: dict[str, dict[str, Any]] = {}
    for name, scale in SCALES.items():
        if known is not None and scale == DEFAULT_SCALE:
            seeded = known
        else:
            seeded = seed(url, scale=scale, force=reseed, log=log)
        seeds[name] = seeded
        creds[name] = Credentials(
            session=asyncio.run(console_session(seeded.database_url, seeded.admin_user_id)),
            token=seeded.admin_token,
            developer_token=seeded.developer_token,
        )
        log(f"flat cost {name}: counting SQL statements per request (in-process)")
        answers[name] = {}
        counts[name] = asyncio.run(
            _count_statements(
                seeded.database_url,
                creds[name],
                seeded,
                build_runs=0,
                operations=_flat_cost_documents(seeded),
                answers=answers[name],
                listing_name=f"-flat-{name}",
            )
        )
        log(
            "  "
            + ", ".join(f"{k.removeprefix('sql_statements_')}={v}" for k, v in counts[name].items())
        )
    problems = [p for name in SCALES for p in _flat_cost_answers_ok(answers[name], seeds[name])]
    if problems:
        raise SystemExit("flat cost pre-flight: unexpected answers: " + "; ".join(problems))
    pinned = _pin_self()
    gc.collect()
    gc.freeze()
    with contextlib.ExitStack() as stack:
        apps: dict[str, Server] = {}
        for name, seeded in seeds.items():
            apps[name] = app_server(seeded, f"app-{name}")
            stack.callback(apps[name].stop)
        for app in apps.values():
            app.wait_ready()
        results = asyncio.run(_flat_cost_load(apps, seeds, creds, answers, mode, wait_quiet))

    keys: dict[str, Any] = {}
    for op in FLAT_COST_OPERATIONS:
        for name in SCALES:
            summary = results[name][op]
            keys[f"flat_cost_{op}_rps_{name}"] = summary["rps"]
            keys[f"flat_cost_{op}_p50_ms_{name}"] = summary["p50_ms"]
            keys[f"flat_cost_{op}_p99_ms_{name}"] = summary["p99_ms"]
            keys[f"flat_cost_{op}_cpu_ms_{name}"] = summary["server_cpu_ms_per_request"]
            if "db_cpu_ms_per_request" in summary["probes"]:
                keys[f"flat_cost_{op}_db_cpu_ms_{name}"] = summary["probes"][
                    "db_cpu_ms_per_request"
                ]
    for op in FLAT_COST_OPERATIONS:
        for name in SCALES:
            keys[f"flat_cost_statements_{op}_{name}"] = counts[name][f"sql_statements_{op}"]
    for name in SCALES:
        keys[f"flat_cost_check_access_cold_ms_{name}"] = counts[name]["check_access_cold_ms"]
        keys[f"flat_cost_statements_check_access_cold_{name}"] = counts[name][
            "sql_statements_check_access_cold"
        ]
    # The slowdown from 1k to 100k users: by throughput (the figure) and by CPU time
    # per request (server, plus database when measured: steadier on a shared machine); and
    # the largest spread between any two scales.
    small, large = "1k", "100k"
    for op in FLAT_COST_OPERATIONS:
        keys[f"flat_cost_ratio_{op}_100k_vs_1k"] = round(
            results[small][op]["rps"] / results[large][op]["rps"], 4
        )
        cpu_small, cpu_large = total_cpu_ms(results[small][op]), total_cpu_ms(results[large][op])
        if cpu_small and cpu_large:
            keys[f"flat_cost_cpu_ratio_{op}_100k_vs_1k"] = round(cpu_large / cpu_small, 4)
        rates = [results[name][op]["rps"] for name in SCALES]
        keys[f"flat_cost_spread_{op}"] = round(max(rates) / min(rates), 4)
    keys["flat_cost_ratio_100k_vs_1k"] = max(
        keys[f"flat_cost_ratio_{op}_100k_vs_1k"] for op in FLAT_COST_RATIO_OPERATIONS
    )
    cpu_ratios = [
        keys[f"flat_cost_cpu_ratio_{op}_100k_vs_1k"]
        for op in FLAT_COST_RATIO_OPERATIONS
        if f"flat_cost_cpu_ratio_{op}_100k_vs_1k" in keys
    ]
    if len(cpu_ratios) == len(FLAT_COST_RATIO_OPERATIONS):
        keys["flat_cost_cpu_ratio_100k_vs_1k"] = max(cpu_ratios)
    keys["flat_cost_spread"] = max(
        keys[f"flat_cost_spread_{op}"] for op in FLAT_COST_RATIO_OPERATIONS
    )
    keys["flat_cost_statements_constant"] = all(
        len({counts[name][f"sql_statements_{op}"] for name in SCALES}) == 1
        for op in FLAT_COST_OPERATIONS
    )
    keys["flat_cost"] = {
        "scales": {
            name: {
                "users": seeds[name].users,
                "tokens": seeds[name].tokens + REAL_TOKENS,
                "groups": seeds[name].groups,
                "memberships": seeds[name].memberships,
                "permission_targets": seeds[name].targets,
                "target_grants": seeds[name].grants,
                "projects": seeds[name].projects,
                "project_members": seeds[name].project_members,
                "check_resource": seeds[name].check_resource,
                "database": make_url(seeds[name].database_url).render_as_string(),
                "seed_key": seeds[name].key,
                "seeded_in_s": seeds[name].seconds,
            }
            for name in SCALES
        },
        "ratio_operations": list(FLAT_COST_RATIO_OPERATIONS),
        "concurrency": mode.concurrency,
        "warmup_s": mode.warmup,
        "window_s": mode.window,
        "details": results,
    }
    errors = sum(s["errors"] for per_op in results.values() for s in per_op.values())
    warnings = [
        f"flat cost {op} at {name}: client CPU {s['client_cpu']:.2f}: the load generator "
        "may be the bottleneck"
        for name, per_op in results.items()
        for op, s in per_op.items()
        if s["client_cpu"] > 0.9
    ]
    if not is_postgres(url):
        warnings.extend(
            f"flat cost {op} at {name}: other processes used {others:.2f} of CPU {SERVER_CPU} "
            "(the server's) during the window; the machine was not quiet"
            for name, per_op in results.items()
            for op, s in per_op.items()
            if (others := s["cpu_busy"].get(f"cpu{SERVER_CPU}", 0.0) - (s["server_cpu"] or 0.0))
            > 0.15
        )
    log(
        "flat cost: "
        + "; ".join(
            f"{op} " + " / ".join(f"{results[name][op]['rps']:.0f}" for name in SCALES) + " rps"
            for op in FLAT_COST_OPERATIONS
        )
        + f" at {' / '.join(SCALES)} users; worst 1k/100k slowdown "
        f"{keys['flat_cost_ratio_100k_vs_1k']}x; statements constant: "
        f"{keys['flat_cost_statements_constant']}"
    )
    return {"keys": keys, "errors": errors, "warnings": warnings, "pinned": pinned}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK.warmup:g}s warm-up + {QUICK.window:g}s window per operation"
        f" (default {FULL.warmup:g}s + {FULL.window:g}s)",
    )
    parser.add_argument(
        "--database-url",
        default=DEFAULT_SQLITE_URL,
        help="default: a SQLite file under bench/.work/; a PostgreSQL database "
        "is dropped and recreated, so its name must contain 'bench'",
    )
    parser.add_argument("--concurrency", type=int, help="connections per operation (16)")
    parser.add_argument("--window", type=float, help="seconds measured per operation")
    parser.add_argument("--reseed", action="store_true", help="ignore the cached seed")
    parser.add_argument(
        "--scale-out",
        action="store_true",
        help="then the team page through `accessgraph serve --workers 1` and `--workers 2` "
        "under wrk (bench/scale.py): two_worker_speedup",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each operation, wait up to this long for both cores to be idle "
        "(a shared machine)",
    )
    parser.add_argument(
        "--at-commit",
        metavar="REV",
        help="measure this commit (exported with git archive), not the working tree",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy flame graphs of the app per operation, in bench/.work/ "
        "(sampling slows the server: do not report these numbers)",
    )
    parser.add_argument(
        "--flat-cost",
        action="store_true",
        help="then the flat-cost series: the team page (with and without totalCount) and "
        "checkAccess at 1k, 10k and 100k users; flat_cost_* keys in the same JSON line",
    )
    parser.add_argument(
        "--flat-cost-only",
        action="store_true",
        help="the flat-cost series alone (no ceiling, no other operation, no token burst)",
    )
    ns = parser.parse_args(argv)
    mode = QUICK if ns.quick else FULL
    mode = dataclasses.replace(
        mode, window=ns.window or mode.window, concurrency=ns.concurrency or mode.concurrency
    )
    started = time.perf_counter()

    def on_sigterm(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the servers

    signal.signal(signal.SIGTERM, on_sigterm)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    commit = use_commit(ns.at_commit) if ns.at_commit else None
    code = code_state(commit)
    if code["src_dirty"]:
        log("note: src/ has uncommitted changes; the results are not those of a commit")
    url = ns.database_url
    out: dict[str, Any] = {
        "database": "postgresql" if is_postgres(url) else "sqlite",
        "mode": "quick" if ns.quick else "full",
        "profiled": ns.profile,
    }
    seeded: Seeded | None = None
    errors = 0
    if not ns.flat_cost_only:
        seeded, errors = normal_run(ns, mode, url, code, started, out)
    if ns.flat_cost or ns.flat_cost_only:
        flat = flat_cost_series(url, mode, reseed=ns.reseed, wait_quiet=ns.wait_quiet, known=seeded)
        errors += flat["errors"]
        if ns.flat_cost_only:
            out.update(
                {
                    "errors": flat["errors"],
                    "warnings": flat["warnings"],
                    "pinned": (
                        {"server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU}
                        if flat["pinned"]
                        else None
                    ),
                    "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
                    **code,
                    "machine": {
                        "cpus": os.cpu_count(),
                        "cpu_model": _cpu_model(),
                        "python": platform.python_version(),
                    },
                }
            )
        else:
            out["errors"] = errors
            out["warnings"].extend(flat["warnings"])
        out.update(flat["keys"])
        out["runtime_s"] = round(time.perf_counter() - started, 1)
    print(orjson.dumps(out).decode(), flush=True)
    return 1 if errors else 0


def normal_run(
    ns: argparse.Namespace,
    mode: Mode,
    url: str,
    code: dict[str, Any],
    started: float,
    out: dict[str, Any],
) -> tuple[Seeded, int]:
    """Steps 1-6 of the module's docstring; their keys go into `out`. The seed and the
    number of failed requests."""
    seeded = seed(url, force=ns.reseed, log=log)
    log("counting SQL statements per request (in-process)")
    creds = Credentials(
        session=asyncio.run(console_session(url, seeded.admin_user_id)),
        token=seeded.admin_token,
        developer_token=seeded.developer_token,
    )
    answers: dict[str, Any] = {}
    counts = asyncio.run(
        _count_statements(url, creds, seeded, build_runs=1 if ns.quick else 3, answers=answers)
    )
    log("  " + ", ".join(f"{k.removeprefix('sql_statements_')}={v}" for k, v in counts.items()))
    pinned = _pin_self()
    gc.collect()
    gc.freeze()  # the seed's and the in-process app's objects stay out of the client's GC
    with serving(seeded, check_questions(seeded, answers["check_access"]["checkAccess"])) as (
        app,
        ceiling,
    ):
        results, burst = asyncio.run(
            measure(app, ceiling, seeded, creds, mode, ns.profile, ns.wait_quiet)
        )

    for name, summary in results.items():
        out[f"{name}_rps"] = summary["rps"]
        out[f"{name}_p50_ms"] = summary["p50_ms"]
        out[f"{name}_p99_ms"] = summary["p99_ms"]
        out[f"{name}_cpu_ms"] = summary["server_cpu_ms_per_request"]
        if "db_cpu_ms_per_request" in summary["probes"]:
            out[f"{name}_db_cpu_ms"] = summary["probes"]["db_cpu_ms_per_request"]
    ceiling_rps = results["ceiling"]["rps"]
    out["team_page_ratio"] = round(results["team_page"]["rps"] / ceiling_rps, 4)
    # The same ratio from CPU time per request (the server's, plus the database's when it is
    # measured): steadier than rps on a shared machine.
    team_cpu, ceiling_cpu = total_cpu_ms(results["team_page"]), total_cpu_ms(results["ceiling"])
    if team_cpu and ceiling_cpu:
        out["team_page_cpu_ratio"] = round(ceiling_cpu / team_cpu, 4)
    out["team_page_ratio_page_only"] = round(
        results["team_page"]["rps"] / results["ceiling_page_only"]["rps"], 4
    )
    out["nested_page_ratio"] = round(
        results["nested_page"]["rps"] / results["ceiling_nested"]["rps"], 4
    )
    # The app's largest resident set during any load window (the server's high-water mark).
    out["peak_rss_mb"] = max(
        s["server_peak_rss_mb"] or 0 for n, s in results.items() if not n.startswith("ceiling")
    )
    # checkAccess against ceiling.py's /check (the credential statement and the answer's
    # serialization, nothing else), by rps and by CPU time per request.
    out["check_access_ratio"] = round(
        results["check_access"]["rps"] / results["ceiling_check"]["rps"], 4
    )
    check_cpu = total_cpu_ms(results["check_access"])
    ceiling_check_cpu = total_cpu_ms(results["ceiling_check"])
    if check_cpu and ceiling_check_cpu:
        out["check_access_cpu_ratio"] = round(ceiling_check_cpu / check_cpu, 4)
    out["check_access_statements"] = counts["sql_statements_check_access"]
    out["check_access_admin_statements"] = counts["sql_statements_check_access_admin"]
    out["check_access_project_statements"] = counts["sql_statements_check_access_project"]
    out["project_page_statements"] = counts["sql_statements_project_page"]
    out.update(counts)
    # Every operation's statements per request under one key (the ceiling's are its own two).
    out["statements"] = {
        name: counts[f"sql_statements_{name.removesuffix('_serial')}"]
        for name in results
        if f"sql_statements_{name.removesuffix('_serial')}" in counts
    }
    errors = sum(s["errors"] for s in results.values())
    warnings = [
        f"{name}: client CPU {s['client_cpu']:.2f}: the load generator may be the bottleneck"
        for name, s in results.items()
        if s["client_cpu"] > 0.9
    ]
    burst_failed = burst["requests"] - burst["answered_200"]
    if burst_failed:
        errors += burst_failed
        warnings.append(
            f"token burst: {burst_failed} of {burst['requests']} concurrent requests with a "
            "stale lastUsedAt were not answered 200 in time (connection pool exhausted?)"
        )
    out.update(
        {
            "errors": errors,
            "token_burst": burst,
            "auth": AUTH_USED,
            "warnings": warnings,
            "concurrency": mode.concurrency,
            "warmup_s": mode.warmup,
            "window_s": mode.window,
            "seed": {
                "users": seeded.users,
                "tokens": seeded.tokens + REAL_TOKENS,
                "groups": seeded.groups,
                "memberships": seeded.memberships,
                "permission_targets": seeded.targets,
                "target_grants": seeded.grants,
                "check_access": {
                    "developer": seeded.developer_email,
                    "developer_groups": len(seeded.developer_groups),
                    "resource": seeded.check_resource,
                    "target": seeded.check_target,
                    "via": seeded.check_via,
                },
                "projects": seeded.projects,
                "project_roles": seeded.project_roles,
                "project_members": seeded.project_members,
                "project_resources": seeded.project_resources,
                "check_access_project": {
                    "project": seeded.check_project,
                    "resource": seeded.check_project_resource,
                    "role": seeded.check_project_role,
                    "global_role": seeded.check_project_global_role,
                    "via": seeded.check_project_via,
                },
                "key": seeded.key,
            },
            "pinned": {"server_cpu": SERVER_CPU, "client_cpu": CLIENT_CPU} if pinned else None,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
            **code,
            "machine": {
                "cpus": os.cpu_count(),
                "cpu_model": _cpu_model(),
                "python": platform.python_version(),
            },
            "details": results,
            "runtime_s": round(time.perf_counter() - started, 1),
        }
    )
    for name, s in results.items():
        others = s["cpu_busy"].get(f"cpu{SERVER_CPU}", 0.0) - (s["server_cpu"] or 0.0)
        if others > 0.15:
            warnings.append(
                f"{name}: other processes used {others:.2f} of CPU {SERVER_CPU} (the server's)"
                " during the window"
                + (
                    " (PostgreSQL's backends count here)"
                    if is_postgres(url)
                    else "; the machine was not quiet"
                )
            )
    for warning in warnings:
        log(f"warning: {warning}")
    log(
        f"done in {out['runtime_s']}s; team page {out['team_page_rps']} rps = "
        f"{out['team_page_ratio']:.3f} of the ceiling ({ceiling_rps} rps); checkAccess "
        f"{out['check_access_rps']} rps = {out['check_access_ratio']:.3f} of its ceiling "
        f"({out['ceiling_check_rps']} rps), p99 {out['check_access_p99_ms']} ms "
        f"(one at a time: {out['check_access_serial_p99_ms']} ms), "
        f"{out['check_access_statements']} statements; checkAccess in a project "
        f"{out['check_access_project_rps']} rps, p99 {out['check_access_project_p99_ms']} ms "
        f"(one at a time: {out['check_access_project_serial_p99_ms']} ms), "
        f"{out['check_access_project_statements']} statements; project page "
        f"{out['project_page_rps']} rps, {out['project_page_statements']} statements; "
        f"access index build {out['access_index_build_ms']} ms "
        f"(event loop stalled up to {out['access_index_build_stall_ms']} ms)"
    )
    if ns.scale_out:
        from scale import scale_out

        out.update(scale_out(url))
        log(f"two workers: {out['two_worker_speedup']}x one worker's team pages")
    return seeded, errors


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers were stopped on the way out
        log("interrupted")
        sys.exit(130)
