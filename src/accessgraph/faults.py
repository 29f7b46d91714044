"""When the database is away: a clean answer, never a stack trace.

A lost or refused database connection is not a bug: clients get code SERVICE_UNAVAILABLE
(HTTP 503 where the HTTP layer answers; a GraphQL error in a GraphQL answer), the transaction
is gone with the connection (nothing half-written: every change is one transaction), and the
pool replaces the dead connections, so the next request after the database is back succeeds
without a restart.
"""

from __future__ import annotations

import logging

import orjson
from graphql import GraphQLError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import MaskErrors

log = logging.getLogger("accessgraph.faults")
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "The database is unavailable; try again shortly."


def is_database_outage(error: BaseException | None) -> bool:
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(error, OperationalError | InterfaceError)
    return isinstance(error, ConnectionError | OSError)


class MaskErrorsKeepingOutages(MaskErrors):
    """MaskErrors, but a database outage is named as one (it is not the client's bug, nor
    ours)."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        if is_database_outage(error.original_error):
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": SERVICE_UNAVAILABLE},
            )
        return super().anonymise_error(error)


async def on_server_error(request: Request, exc: Exception) -> Response:
    """Starlette's last resort (errors outside GraphQL, e.g. while authenticating)."""
    if is_database_outage(exc):
        log.warning("database unavailable: %s", type(exc).__name__)
        return _error(503, SERVICE_UNAVAILABLE, UNAVAILABLE_MESSAGE)
    log.exception("unexpected error", exc_info=exc)
    return _error(500, "INTERNAL_SERVER_ERROR", "Unexpected error.")


def _error(status: int, code: str, message: str) -> Response:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")
