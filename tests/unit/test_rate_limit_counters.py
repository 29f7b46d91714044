"""The two homes of rate-limit counters behave alike: in the database (default) and in Redis
(ACCESSGRAPH_REDIS_URL; Redis listens on 127.0.0.1:6379 on the CI machine)."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from accessgraph.rate_limits import Counters, DatabaseCounters, RedisCounters
from accessgraph.services import Services

REDIS_URL = os.environ.get("ACCESSGRAPH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.fixture(params=["database", "redis"])
async def counters(request: pytest.FixtureRequest, services: Services) -> AsyncIterator[Counters]:
    if request.param == "database":
        yield DatabaseCounters(services.db, services.clock)
        return
    if not _redis_up():
        if os.environ.get("CI"):
            pytest.fail("Redis is not reachable on 127.0.0.1:6379")
        pytest.skip("Redis is not running here")
    redis_counters = RedisCounters(REDIS_URL)
    yield redis_counters
    await redis_counters.close()


async def test_counts_up_within_a_window_and_clears(counters: Counters) -> None:
    key = f"test:{uuid.uuid4()}"
    window = timedelta(minutes=10)
    assert await counters.count(key, window) == (0, 0.0)
    for expected in (1, 2, 3):
        used, left = await counters.add(key, window)
        assert used == expected and 0 < left <= 600
    used, left = await counters.count(key, window)
    assert used == 3 and 0 < left <= 600
    await counters.clear(key)
    assert await counters.count(key, window) == (0, 0.0)
    assert (await counters.add(key, window))[0] == 1


async def test_keys_are_independent(counters: Counters) -> None:
    a, b = f"test:{uuid.uuid4()}", f"test:{uuid.uuid4()}"
    window = timedelta(minutes=1)
    await counters.add(a, window)
    await counters.add(a, window)
    assert (await counters.add(b, window))[0] == 1
    await counters.clear(a)
    assert (await counters.count(b, window))[0] == 1
