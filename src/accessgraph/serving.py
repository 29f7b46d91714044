"""`accessgraph serve --workers N`: N uvicorn processes that each get their share of connections.

uvicorn's own multi-process mode shares one listening socket, and a worker's event loop accepts
every connection waiting when it wakes: a client that opens its keep-alive connections at once
(a load balancer, a registry's pool, wrk) lands them all on one worker while the others idle
(measured here: two workers served 1.05x one worker's team pages). Here each worker binds its
own socket with SO_REUSEPORT and the kernel spreads new connections over them. The supervisor
forwards SIGINT/SIGTERM to the workers, waits for them, and restarts a worker that dies.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.process import BaseProcess
from types import FrameType

import uvicorn

from accessgraph import http_writes

log = logging.getLogger("accessgraph.serving")
APP = "accessgraph.app:app_from_env"
RESTART_DELAY_SECONDS = 1.0


# The event loops `--loop` offers; `auto` (the default) chooses by the number of workers, from
# measurements on a 2-core machine that also runs PostgreSQL (bench/README.md, "The event
# loop"). One worker: asyncio's loop, which serves connections in turn; uvloop's does not once
# a request takes a millisecond or more of CPU (team pages at 32 connections: p99 ~160-500 ms
# against ~80 on asyncio's, and ~10% fewer pages a second). Several workers: uvloop, which
# kept them busier (two workers 733 pages/s against 614, p99 74 ms against 76).
LOOPS = ("auto", "asyncio", "uvloop")


# How every worker runs the app (the factory builds its own engine, caches and loaders); its
# event loop comes from `options`.
UVICORN_OPTIONS: dict[str, object] = {
    "factory": True,
    # uvicorn's httptools protocol (a dependency of the project, imported by name, so a
    # missing one fails loudly instead of falling back to h11: bench/README.md, ~15% fewer
    # checks per second), sending a response's head with its body (http_writes.py).
    "http": http_writes.PROTOCOL,
    "log_level": "info",
    "access_log": False,
    "proxy_headers": False,
}


def options(loop: str = "auto", workers: int = 1) -> dict[str, object]:
    """uvicorn's options for a worker among `workers` on `loop` (one of LOOPS; for `auto`, the
    one chosen by the number of workers)."""
    if loop not in LOOPS:
        raise ValueError(f"unknown event loop {loop!r}: one of {', '.join(LOOPS)}")
    if loop == "auto":
        loop = "asyncio" if workers == 1 else "uvloop"
    return {**UVICORN_OPTIONS, "loop": loop}


def serve(host: str, port: int, workers: int, loop: str = "auto") -> None:
    """Serve until SIGINT/SIGTERM: in this process for one worker, else a supervisor."""
    chosen = options(loop, workers)
    if workers == 1 or not hasattr(socket, "SO_REUSEPORT"):
        uvicorn.run(APP, host=host, port=port, workers=workers, **chosen)  # type: ignore[arg-type]
        return
    _supervise(host, port, workers, chosen)


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _worker(host: str, port: int, chosen: dict[str, object]) -> None:
    """One worker process: its own SO_REUSEPORT socket, its own app (engine, caches)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    sock = _listening_socket(host, port)
    config = uvicorn.Config(APP, host=host, port=port, **chosen)  # type: ignore[arg-type]
    uvicorn.Server(config).run(sockets=[sock])


def _supervise(host: str, port: int, workers: int, chosen: dict[str, object]) -> None:
    # Fail at once, in the supervisor, if the address is taken or not ours to bind.
    _listening_socket(host, port).close()
    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        process = context.Process(
            target=_worker, args=(host, port, chosen), name="accessgraph-worker"
        )
        process.start()
        log.info("started worker %s", process.pid)
        return process

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in processes:
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM if signum == signal.SIGTERM else signal.SIGINT)

    processes = [start() for _ in range(workers)]
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while True:
        for i, process in enumerate(processes):
            process.join(timeout=0.5)
            if process.is_alive() or stopping:
                continue
            log.warning("worker %s exited with %s; restarting it", process.pid, process.exitcode)
            time.sleep(RESTART_DELAY_SECONDS)
            if not stopping:
                processes[i] = start()
        if stopping:
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
                    process.join()
            return
