"""The connection pool keeps a connection for each request in flight at the load issue 8
measures (32 connections to one worker): opening one takes several turns of the event loop,
and a request that had to made its way through every other request's turn each time."""

from __future__ import annotations

from accessgraph.db import POOL_OVERFLOW, POOL_SIZE
from accessgraph.services import Services


async def test_the_pool_keeps_the_connections_of_32_requests_in_flight(
    services: Services,
) -> None:
    engine = services.db.engine
    held = [await engine.connect() for _ in range(32)]
    for connection in held:
        await connection.close()
    assert engine.pool.checkedin() == 32  # type: ignore[attr-defined]  # none closed


def test_two_workers_stay_within_postgresqls_default_connections() -> None:
    assert 2 * (POOL_SIZE + POOL_OVERFLOW) <= 100 - 3  # superuser_reserved_connections
