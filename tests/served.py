"""A real ``accessgraph serve`` process on a free loopback port, for end-to-end checks.

Used by the browser test and the schemathesis fuzzing run: the service is bootstrapped and
served exactly as README tells a user (``python -m accessgraph bootstrap`` then ``serve``),
on a throw-away SQLite database in ``workdir``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0


class ServeError(RuntimeError):
    """The service could not be bootstrapped or did not come up; the message has its output."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(db_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["ACCESSGRAPH_DATABASE_URL"] = f"sqlite+aiosqlite:///{db_path}"
    env["ACCESSGRAPH_ENV"] = "development"
    env["PYTHONUNBUFFERED"] = "1"
    # Works whether or not the package is installed into the venv.
    src = str(REPO_ROOT / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    # Health checks and clients talk to loopback only.
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def http_status(url: str) -> int | None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def post_graphql(
    base: str, query: str, variables: dict[str, Any] | None = None, token: str | None = None
) -> dict[str, Any]:
    """One GraphQL request over real HTTP; returns the decoded JSON body."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{base}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers=headers,
        method="POST",
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        body: dict[str, Any] = json.loads(response.read())
    if body.get("errors"):
        raise ServeError(f"GraphQL errors: {body['errors']}")
    return body


def bootstrap(workdir: Path, env: dict[str, str], email: str, password: str) -> None:
    """Create the organization "Acme" and its first admin, as README's quick start does."""
    args = ["bootstrap", "--org", "Acme", "--email", email, "--password", password]
    done = subprocess.run(
        [sys.executable, "-m", "accessgraph", *args],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise ServeError(
            f"`accessgraph bootstrap` exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate the server and anything it spawned (own process group)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)


@contextlib.contextmanager
def serving(workdir: Path, env: dict[str, str], log_path: Path) -> Iterator[str]:
    """`accessgraph serve` on a free port until the block ends; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "accessgraph", "serve", "--host", "127.0.0.1"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group, so _stop() gets children too
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while http_status(f"{base}/healthz") != 200:
            if proc.poll() is not None:
                raise ServeError(
                    f"`accessgraph serve` exited early with {proc.returncode}:\n"
                    + log_path.read_text(errors="replace")
                )
            if time.monotonic() > deadline:
                raise ServeError(
                    f"GET {base}/healthz did not return 200 within {START_TIMEOUT:.0f}s:\n"
                    + log_path.read_text(errors="replace")
                )
            time.sleep(0.2)
        yield base
    finally:
        _stop(proc)
