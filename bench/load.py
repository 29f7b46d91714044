"""A closed-loop HTTP/1.1 load generator on raw asyncio streams (standard library + orjson).

N connections each send one request, wait for the whole response, and send the next, over
keep-alive, for a warm-up and then a fixed window. Only responses completed inside the window
count: rps = completed / window, and the latency of each (send to last body byte) gives
p50/p90/p99. Every non-200 response is an error; every `check_every`-th response of each
connection (and its first) is also parsed, and a GraphQL `errors` key or a null `data`
counts as an error too.

Raw streams, not httpx: a client heavier per request would become the bottleneck before a
fast server does. The client reports its own CPU use (`client_cpu`, 1.0 = one core busy) so a
saturated client is visible; with `server_pid` it reports the server's too, and `probes`
measure anything else over exactly the window.

    python bench/load.py --url http://127.0.0.1:8000/graphql \
        --query 'query { viewer { id } }' -H 'Authorization: Bearer ...' -c 16 -d 10
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import orjson

CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Target:
    host: str
    port: int
    raw: bytes  # the whole request: request line, headers, body

    @classmethod
    def post_json(cls, url: str, body: Any, headers: dict[str, str] | None = None) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only http:// URLs are supported: {url}")
        port = parts.port or 80
        payload = orjson.dumps(body)
        lines = [
            f"POST {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1",
            f"Host: {parts.hostname}:{port}",
            "Content-Type: application/json",
            "Accept: application/json",
            f"Content-Length: {len(payload)}",
            *(f"{k}: {v}" for k, v in (headers or {}).items()),
        ]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        return cls(parts.hostname, port, head + payload)


@dataclass
class Result:
    requests: int = 0
    rps: float = 0.0
    errors: int = 0
    non_200: int = 0
    graphql_errors: int = 0
    checked: int = 0
    connection_errors: int = 0
    timeouts: int = 0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    mean_ms: float = 0.0
    window_s: float = 0.0
    concurrency: int = 0
    client_cpu: float = 0.0
    server_cpu: float | None = None
    # Server CPU time per completed request: unlike rps, barely moved by other processes
    # taking turns on the server's core (a shared machine). Includes SQLite's work (it runs
    # in the server's threads), not PostgreSQL's (its own processes).
    server_cpu_ms_per_request: float | None = None
    # The server's resident-set high-water mark (VmHWM) at the end of the window, in MB.
    server_peak_rss_mb: float | None = None
    # What the probes measured over the window (e.g. the database's CPU time).
    probes: dict[str, Any] = field(default_factory=dict)
    # How busy each core was during the window, whoever used it (1.0 = fully busy): with the
    # server's and client's own shares this shows other processes (e.g. PostgreSQL) at work.
    cpu_busy: dict[str, float] = field(default_factory=dict)
    first_error: str | None = None
    latencies: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "latencies"}
        for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "window_s"):
            out[key] = round(out[key], 2)
        out["client_cpu"] = round(self.client_cpu, 3)
        if self.server_cpu is not None:
            out["server_cpu"] = round(self.server_cpu, 3)
        return out


class Probe(Protocol):
    """Something measured over exactly the window: started when it opens, stopped when it
    closes (while the load still runs); `stop` returns what goes into `Result.probes`."""

    async def start(self) -> None: ...

    async def stop(self, result: Result) -> dict[str, Any]: ...


class ResponseError(Exception):
    pass


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, keep_alive) of one HTTP/1.1 response."""
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1."):
        raise ResponseError(f"not an HTTP response: {head[:40]!r}")
    status = int(head[9:12])
    lower = head.lower()
    keep_alive = b"\r\nconnection: close" not in lower
    at = lower.find(b"\r\ncontent-length:")
    if at >= 0:
        end = lower.index(b"\r\n", at + 2)
        length = int(lower[at + 17 : end])
        return status, await reader.readexactly(length), keep_alive
    if b"\r\ntransfer-encoding: chunked" in lower:
        chunks: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                return status, b"".join(chunks), keep_alive
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    raise ResponseError("response without Content-Length or chunked encoding")


def graphql_problem(body: bytes) -> str | None:
    """Why a 200 response is not a successful GraphQL answer, or None."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return f"not JSON: {body[:120]!r}"
    if not isinstance(doc, dict):
        return f"not an object: {body[:120]!r}"
    if doc.get("errors"):
        return f"GraphQL errors: {orjson.dumps(doc['errors'])[:300].decode()}"
    if "data" in doc and doc["data"] is None:
        return "data is null"
    return None


def process_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime, all threads


def peak_rss_mb(pid: int) -> float | None:
    """A process's resident-set high-water mark (Linux: VmHWM in /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def cpu_ticks() -> dict[str, tuple[int, int]]:
    """Per-CPU (busy, total) jiffies from /proc/stat: what else ran on our cores."""
    out = {}
    try:
        with open("/proc/stat") as handle:
            for line in handle:
                if line.startswith("cpu") and line[3].isdigit():
                    name, *values = line.split()
                    ticks = [int(v) for v in values[:8]]
                    idle = ticks[3] + ticks[4]  # idle + iowait
                    out[name] = (sum(ticks) - idle, sum(ticks))
    except OSError:
        pass
    return out


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


async def run_load(
    target: Target,
    *,
    concurrency: int = 16,
    duration: float = 10.0,
    warmup: float = 2.0,
    check_every: int = 25,
    graphql: bool = True,
    server_pid: int | None = None,
    drain: float = 5.0,
    probes: Sequence[Probe] = (),
) -> Result:
    result = Result(concurrency=concurrency)
    latencies = result.latencies
    clock = time.perf_counter
    start = clock()
    t0 = start + warmup
    t1 = t0 + duration
    raw = target.raw
    marks: dict[str, Any] = {}

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(target.host, target.port, limit=2**20)

    def note(problem: str) -> None:
        if result.first_error is None:
            result.first_error = problem[:500]

    async def worker(index: int) -> None:
        reader = writer = None
        sent = 0
        try:
            while True:
                now = clock()
                if now >= t1:
                    return
                if writer is None:
                    try:
                        reader, writer = await connect()
                    except OSError as exc:
                        result.connection_errors += 1
                        result.errors += 1
                        note(f"connect: {exc!r}")
                        await asyncio.sleep(0.05)
                        continue
                began = clock()
                try:
                    writer.write(raw)
                    status, body, keep_alive = await read_response(reader)  # type: ignore[arg-type]
                except (OSError, asyncio.IncompleteReadError, ResponseError, ValueError) as exc:
                    writer.close()
                    reader = writer = None
                    if began >= t0:
                        result.connection_errors += 1
                        result.errors += 1
                    note(f"connection: {exc!r}")
                    continue
                ended = clock()
                sent += 1
                if t0 <= ended < t1:
                    result.requests += 1
                    latencies.append(ended - began)
                    problem = None
                    if status != 200:
                        result.non_200 += 1
                        problem = f"HTTP {status}: {body[:300]!r}"
                    elif graphql and (sent == 1 or sent % check_every == 0):
                        result.checked += 1
                        problem = graphql_problem(body)
                        if problem:
                            result.graphql_errors += 1
                    if problem:
                        result.errors += 1
                        note(problem)
                if not keep_alive or status >= 500:
                    # uvicorn drops the connection after an unhandled exception, sometimes
                    # without saying so: reconnect rather than count a second failure.
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()

    async def window_marks() -> None:
        await asyncio.sleep(max(0.0, t0 - clock()))
        for probe in probes:
            await probe.start()
        marks["cpu0"] = time.process_time()
        marks["srv0"] = process_ticks(server_pid) if server_pid else None
        marks["stat0"] = cpu_ticks()
        marks["wall0"] = clock()
        await asyncio.sleep(max(0.0, t1 - clock()))
        marks["cpu1"] = time.process_time()
        marks["srv1"] = process_ticks(server_pid) if server_pid else None
        marks["stat1"] = cpu_ticks()
        marks["wall1"] = clock()
        for probe in probes:
            result.probes.update(await probe.stop(result))

    workers = [asyncio.create_task(worker(i)) for i in range(concurrency)]
    await window_marks()
    # Requests still in flight `drain` seconds after the window are stuck (a pool deadlock,
    # a lock): cancel them and count each as a timeout, rather than wait for the server.
    _, stuck = await asyncio.wait(workers, timeout=drain)
    for task in stuck:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    if stuck:
        result.timeouts = len(stuck)
        result.errors += len(stuck)
        note(f"{len(stuck)} requests still unanswered {drain:g}s after the window")
    wall = marks["wall1"] - marks["wall0"]
    result.window_s = duration
    result.rps = result.requests / duration
    result.client_cpu = (marks["cpu1"] - marks["cpu0"]) / wall
    if marks["srv0"] is not None and marks["srv1"] is not None:
        result.server_cpu = (marks["srv1"] - marks["srv0"]) / CLK_TCK / wall
        if result.requests:
            seconds = (marks["srv1"] - marks["srv0"]) / CLK_TCK
            result.server_cpu_ms_per_request = round(seconds / result.requests * 1000, 3)
    if server_pid:
        result.server_peak_rss_mb = peak_rss_mb(server_pid)
    for cpu, (busy1, total1) in marks["stat1"].items():
        busy0, total0 = marks["stat0"].get(cpu, (busy1, total1))
        if total1 > total0:
            result.cpu_busy[cpu] = round((busy1 - busy0) / (total1 - total0), 3)
    ordered = sorted(latencies)
    if ordered:
        result.p50_ms = percentile(ordered, 50) * 1000
        result.p90_ms = percentile(ordered, 90) * 1000
        result.p99_ms = percentile(ordered, 99) * 1000
        result.max_ms = ordered[-1] * 1000
        result.mean_ms = sum(ordered) / len(ordered) * 1000
    return result


async def request_once(target: Target) -> tuple[int, bytes]:
    """One request on a fresh connection (pre-flight checks); 30 seconds at most."""
    async with asyncio.timeout(30):
        reader, writer = await asyncio.open_connection(target.host, target.port, limit=2**22)
        try:
            writer.write(target.raw)
            status, body, _ = await read_response(reader)
            return status, body
        finally:
            writer.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--query", help="a GraphQL document (sent as {'query': ...})")
    parser.add_argument("--body", help="a raw JSON body instead of --query")
    parser.add_argument("-H", "--header", action="append", default=[], help="'Name: value'")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-d", "--duration", type=float, default=10.0)
    parser.add_argument("-w", "--warmup", type=float, default=2.0)
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--cpu", type=int, help="pin this process to one CPU")
    ns = parser.parse_args(argv)
    if ns.cpu is not None:
        os.sched_setaffinity(0, {ns.cpu})
    body = orjson.loads(ns.body) if ns.body else {"query": ns.query}
    headers = dict(h.split(":", 1) for h in ns.header)
    target = Target.post_json(ns.url, body, {k.strip(): v.strip() for k, v in headers.items()})
    gc.collect()
    gc.freeze()
    result = asyncio.run(
        run_load(
            target,
            concurrency=ns.concurrency,
            duration=ns.duration,
            warmup=ns.warmup,
            graphql=ns.query is not None,
            server_pid=ns.server_pid,
        )
    )
    sys.stdout.write(orjson.dumps(result.summary()).decode() + "\n")


if __name__ == "__main__":
    main()
