"""`accessgraph serve --workers 2` (issue 8): both workers get connections, a dead worker is
replaced, and stopping the supervisor stops every worker."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import served

WORKERS = 2
CONNECTIONS = 16
SERVE = [sys.executable, "-m", "accessgraph", "serve"]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _workers(supervisor: int) -> list[int]:
    """The supervisor's worker processes (multiprocessing's helpers have no socket)."""
    return [pid for pid in _children(supervisor) if _sockets(pid) > 0]


def _sockets(pid: int) -> int:
    count = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    count += 1
            except OSError:
                continue
    except OSError:
        return 0
    return count


def _listening(port: int) -> int:
    """How many sockets listen on this loopback port (one per worker with SO_REUSEPORT)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1 for row in rows if row.split()[1].endswith(f":{port:04X}") and row.split()[3] == "0A"
    )


def _open_connections(port: int) -> int:
    """Server-side connections on this loopback port still holding a socket (not listening,
    not in TIME_WAIT, which has none)."""
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(
        1
        for row in rows
        if row.split()[1].endswith(f":{port:04X}") and row.split()[3] not in ("0A", "06")
    )


def _wait_for(what: str, condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def supervisor(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    env = served.service_env(tmp_path / "ag.db")
    served.bootstrap(tmp_path, env, "admin@acme.test", "correct horse battery")
    port = served.free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*SERVE, "--port", str(port), "--workers", str(WORKERS)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for(
            "both workers",
            lambda: (
                len(_workers(proc.pid)) == WORKERS
                and _listening(port) == WORKERS
                and served.http_status(f"http://127.0.0.1:{port}/healthz") == 200
            ),
            timeout=60,
        )
        yield proc, port
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        log.close()


def test_serve_workers_both_get_connections_opened_at_once(
    supervisor: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = supervisor
    # The readiness check's connection must be gone from its worker before counting, or its
    # close would be counted against the connections below.
    _wait_for("idle workers", lambda: _open_connections(port) == 0)
    idle = {pid: _sockets(pid) for pid in _workers(proc.pid)}
    clients = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(CONNECTIONS)
    ]
    try:
        for client in clients:  # keep-alive connections, all opened before any is used
            client.connect()
        for client in clients:
            client.request("GET", "/healthz")
            assert client.getresponse().read() == b'{"status":"ok"}'
        gained = {pid: _sockets(pid) - before for pid, before in idle.items()}
        # With one shared socket, one worker's accept loop took all of them (uvicorn's mode).
        assert all(n >= 1 for n in gained.values()), gained
        assert sum(gained.values()) == CONNECTIONS, gained
    finally:
        for client in clients:
            client.close()


def test_serve_workers_dead_worker_is_replaced(
    supervisor: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = supervisor
    victim = _workers(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    _wait_for(
        "a new worker",
        lambda: (
            victim not in _workers(proc.pid)
            and len(_workers(proc.pid)) == WORKERS
            and _listening(port) == WORKERS
        ),
    )
    assert served.http_status(f"http://127.0.0.1:{port}/healthz") == 200


def test_serve_workers_stop_with_the_supervisor(
    supervisor: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, _port = supervisor
    workers = _workers(proc.pid)
    os.kill(proc.pid, signal.SIGTERM)  # the supervisor only, as a service manager would
    assert proc.wait(timeout=30) == 0
    _wait_for("the workers to exit", lambda: not any(Path(f"/proc/{p}").exists() for p in workers))
