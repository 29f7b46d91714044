"""Scale-out: the team page through `accessgraph serve --workers 1` and `--workers 2` (issue 8).

    python bench/scale.py [--database-url postgresql+asyncpg://.../accessgraph_bench]
                          [--connections 32] [--duration 10]

Serves the seeded database (bench/seed.py; PostgreSQL by default, since the issue asks for it)
with the real command, `accessgraph serve --workers N`, nothing pinned: the two workers, the
database and the load generator share the machine's cores, as they would in production. The
load generator is Debian's `wrk` (one thread, C, little CPU: `apt-get install wrk`), which
sends the team page with a console session over keep-alive connections for a warm-up and then
for `--duration` seconds. Reported: requests per second each way, `two_worker_speedup`, wrk's
latency percentiles, and the CPU each party took during the measured run (the server's
processes, PostgreSQL's, wrk's), as fractions of one core. The last stdout line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from load import peak_rss_mb, process_ticks  # noqa: E402
from seed import SECRET_KEY, WORK_DIR, console_session, is_postgres, seed  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/accessgraph_bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
TEAM_PAGE = (
    "query TeamPage { users(first: 50) { totalCount edges { cursor node { id firstName lastName "
    "email role status lastLoginAt viewerCanUpdateRole viewerCanDelete "
    "viewerCanResendInvitation } } pageInfo { hasNextPage endCursor } } }"
)


def log(message: str) -> None:
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ticks(pids: list[int]) -> int:
    """utime + stime of these processes, in clock ticks (gone processes count 0)."""
    return sum(process_ticks(pid) or 0 for pid in pids)


def pids_where(test: Any) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if test(int(entry.name), stat):
                found.append(int(entry.name))
    return found


def group_pids(pgid: int) -> list[int]:
    """The server: every process of its process group (the supervisor and its workers)."""
    return pids_where(lambda _pid, stat: int(stat.rsplit(")", 1)[1].split()[2]) == pgid)


def postgres_pids() -> list[int]:
    return pids_where(lambda _pid, stat: "(postgres)" in stat)


def peak_rss(pids: list[int]) -> float:
    """The largest resident-set high-water mark of these processes, in MB."""
    return max((peak_rss_mb(pid) or 0.0 for pid in pids), default=0.0)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"accessgraph serve exited with {proc.returncode}")
        try:
            with opener.open(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"accessgraph serve not ready after {timeout:.0f}s")


def check_answer(port: int, session: str) -> None:
    """One team page, checked: 50 users and no errors (wrk only counts HTTP statuses)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": TEAM_PAGE}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {session}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as answer:
        body = json.loads(answer.read())
    if body.get("errors") or len(body["data"]["users"]["edges"]) != 50:
        raise SystemExit(f"the team page answered wrongly: {str(body)[:300]}")


def wrk_script(session: str) -> Path:
    path = WORK_DIR / "team_page.lua"
    body = json.dumps({"query": TEAM_PAGE})
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {session}"\n'
    )
    return path


def run_wrk(port: int, script: Path, connections: int, seconds: int) -> tuple[str, float]:
    """wrk's report, and the CPU seconds wrk used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/graphql",
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def parse_wrk(report: str) -> dict[str, Any]:
    def ms(text: str) -> float:
        found = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
        if found is None:
            raise SystemExit(f"unexpected wrk latency {text!r}")
        value, unit = found.groups()
        return round(float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit], 2)

    rps = re.search(r"Requests/sec:\s+([\d.]+)", report)
    if rps is None:
        raise SystemExit(f"no Requests/sec in wrk's report:\n{report}")
    out: dict[str, Any] = {"rps": float(rps[1])}
    for pct in ("50", "90", "99"):
        found = re.search(rf"^\s+{pct}%\s+(\S+)", report, re.MULTILINE)
        if found:
            out[f"p{pct}_ms"] = ms(found[1])
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    errors = re.search(r"Socket errors: (.*)", report)
    out["non_2xx"] = int(bad[1]) if bad else 0
    out["socket_errors"] = errors[1] if errors else None
    return out


def measure(
    url: str, session: str, workers: int, connections: int, seconds: int, warmup: int
) -> dict[str, Any]:
    port = 8700 + workers
    env = {
        **os.environ,
        "ACCESSGRAPH_DATABASE_URL": url,
        "ACCESSGRAPH_SECRET_KEY": SECRET_KEY,
        "NO_PROXY": "127.0.0.1",
    }
    command = [sys.executable, "-m", "accessgraph", "serve", "--port", str(port)]
    log(f"serving with --workers {workers}")
    server = subprocess.Popen(
        [*command, "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(WORK_DIR / f"scale-{workers}.log").open("wb"),
        start_new_session=True,
    )
    try:
        wait_ready(port, server)
        time.sleep(1.0 * workers)  # every worker up (healthz is answered by the first)
        check_answer(port, session)
        script = wrk_script(session)
        run_wrk(port, script, connections, warmup)  # warm-up: caches, pools, JIT of nothing
        server_pids, pg_pids = group_pids(server.pid), postgres_pids()
        server0, pg0, wall0 = ticks(server_pids), ticks(pg_pids), time.monotonic()
        report, wrk_cpu = run_wrk(port, script, connections, seconds)
        wall = time.monotonic() - wall0
        server_cpu = (ticks(server_pids) - server0) / CLK_TCK / wall
        pg_cpu = (ticks(pg_pids) - pg0) / CLK_TCK / wall
        result = parse_wrk(report)
        result.update(
            {
                "workers": workers,
                "server_processes": len(server_pids),
                "server_cpu": round(server_cpu, 3),
                "postgres_cpu": round(pg_cpu, 3),
                "wrk_cpu": round(wrk_cpu / wall, 3),
                "server_peak_rss_mb": peak_rss(server_pids),
            }
        )
        log(f"  --workers {workers}: {result}")
        return result
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


def scale_out(
    url: str, connections: int = 32, seconds: int = 10, warmup: int = 3
) -> dict[str, Any]:
    """Both runs; the keys that bench/run.py's JSON carries."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    seeded = seed(url, log=log)
    session = asyncio.run(console_session(url, seeded.admin_user_id))
    # The servers and wrk inherit this process's CPUs: a caller pinned to one core (bench/run.py
    # pins itself to the client's) would put both workers on it.
    caller_cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
    try:
        one = measure(url, session, 1, connections, seconds, warmup)
        two = measure(url, session, 2, connections, seconds, warmup)
    finally:
        os.sched_setaffinity(0, caller_cpus)
    return {
        "two_worker_speedup": round(two["rps"] / one["rps"], 3),
        "scale_out": {
            "page": "team page (users(first: 50), console session)",
            "connections": connections,
            "seconds": seconds,
            "database": "postgresql" if is_postgres(url) else "sqlite",
            "one_worker": one,
            "two_workers": two,
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=int, default=10, help="seconds measured per run")
    args = parser.parse_args()
    out = scale_out(args.database_url, args.connections, args.duration)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
