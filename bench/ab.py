"""Two commits, interleaved, under wrk: what a change paid, measured in one hour.

    python bench/ab.py --base REV [--op team|team_32|nested|check] [--database-url URL]
                       [--pairs N] [--seconds S]

This machine's speed moves by up to ~2x from one hour (or minute) to the next, so two quick runs
of bench/run.py an hour apart cannot tell a 10% change. Here the app at REV (a git worktree)
and at the work tree serve in turn, each as bench/run.py serves it (one uvicorn worker pinned
to CPU 0, `accessgraph serve`'s loop and parser), loaded by wrk (Debian's `wrk`, pinned to CPU
1) with the operation's document; N pairs, alternating. Both run on one seed: the seed's cache
key is the work tree's (a change of `models/` would otherwise reseed for each commit). Prints
each run and, per side, the median requests/s and server CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import run as bench  # noqa: E402
import seed as seeding  # noqa: E402

OPERATIONS = {"team": 16, "team_32": 32, "nested": 16, "check": 16}


def document_and_credential(op: str, seeded: seeding.Seeded) -> tuple[str, str]:
    if op == "check":
        return bench.check_access_doc(seeded.check_resource), seeded.developer_token
    session = asyncio.run(seeding.console_session(seeded.database_url, seeded.admin_user_id))
    return (bench.NESTED_PAGE if op == "nested" else bench.TEAM_PAGE), session


def server_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def one_run(
    src: Path, seeded: seeding.Seeded, script: Path, connections: int, seconds: int
) -> tuple[float, float]:
    """Requests/s and server CPU ms per request of the app in `src`."""
    os.environ["PYTHONPATH"] = str(src)  # the server's code (bench.Server passes the env on)
    server = bench.app_server(seeded)
    try:
        server.wait_ready()
        url = server.base + "/graphql"
        wrk = ["taskset", "-c", str(bench.CLIENT_CPU), "wrk", "-t1", f"-c{connections}"]
        subprocess.run([*wrk, "-d2s", "-s", str(script), url], capture_output=True, check=True)
        before = server_ticks(server.proc.pid)
        out = subprocess.run(
            [*wrk, f"-d{seconds}s", "-s", str(script), url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        ticks = server_ticks(server.proc.pid) - before
        if "Non-2xx" in out:
            raise SystemExit(f"errors from {src}:\n{out}")
        requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        return rps, ticks * 1000 / os.sysconf("SC_CLK_TCK") / requests
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="the commit to compare the work tree with")
    parser.add_argument("--op", choices=sorted(OPERATIONS), default="team")
    parser.add_argument("--database-url", default=seeding.DEFAULT_SQLITE_URL)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    ns = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")
    fingerprint = seeding.schema_fingerprint()
    seeding.schema_fingerprint = lambda: fingerprint  # one seed for both commits
    seeded = seeding.seed(ns.database_url, log=bench.log)
    document, credential = document_and_credential(ns.op, seeded)
    with tempfile.TemporaryDirectory() as scratch:
        worktree = Path(scratch) / "base"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "-f", "-q", str(worktree), ns.base],
            check=True,
        )
        script = Path(scratch) / "request.lua"
        script.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps({'query': document}))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
            f'wrk.headers["Authorization"] = "Bearer {credential}"\n'
        )
        sides = {"base": worktree / "src", "work": REPO / "src"}
        results: dict[str, list[tuple[float, float]]] = {side: [] for side in sides}
        try:
            for _ in range(ns.pairs):
                for side, src in sides.items():
                    rps, cpu = one_run(src, seeded, script, OPERATIONS[ns.op], ns.seconds)
                    results[side].append((rps, cpu))
                    print(f"{side} {ns.op}: {rps:.0f} requests/s, CPU {cpu:.3f} ms/request")
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "-f", str(worktree)])
    for side, runs in results.items():
        rps = statistics.median(r for r, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{side} median: {rps:.0f} requests/s, CPU {cpu:.3f} ms/request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
