"""create_app(settings) -> Starlette: /graphql (API and GraphiQL), its assets, /healthz."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from accessgraph.auth import keys
from accessgraph.auth.backend import CREDENTIAL_SOURCE, CredentialBackend, on_auth_error
from accessgraph.auth.principal import ANONYMOUS, Principal
from accessgraph.clock import Clock
from accessgraph.faults import on_server_error
from accessgraph.http_dispatch import GraphQLPosts
from accessgraph.http_limits import RequestLimits
from accessgraph.http_security import GRAPHIQL_CSP, SecurityHeaders
from accessgraph.json_reads import read_json
from accessgraph.mail import Mailer
from accessgraph.schema import build_schema
from accessgraph.schema.context import Context
from accessgraph.services import Services
from accessgraph.settings import Settings

log = logging.getLogger("accessgraph")
_PLAIN_REQUEST = frozenset({"query", "variables", "operationName"})
GC_GEN0_THRESHOLD = 50_000
GRAPHIQL_DIR = Path(__file__).parent / "static" / "graphiql"
GRAPHQL_PATH = "/graphql"
_SIGN_IN_FIRST = """<!doctype html><title>accessgraph</title>
<p>Sign in first: this server runs in production mode, where GraphiQL is for signed-in
callers. POST a <code>login</code> mutation to <code>/graphql</code>, then reload.</p>"""
_MISSING_ASSETS = """<!doctype html><title>accessgraph</title>
<p>The GraphiQL assets are not built. Run <code>make install</code> (it runs
<code>npm ci && npm run build</code> in <code>frontend/</code>), then reload.</p>"""


class GraphQLView(GraphQL[Context, None]):
    """strawberry's ASGI view with our typed context, GraphiQL from local files, and orjson.

    CSRF: a POST must be `application/json` (a form or `text/plain` body, which another site
    can make a browser send, is refused with 415); a GET runs queries only, and never with the
    session cookie's credentials; in production, no GET queries at all. In production the
    GraphiQL page is for signed-in callers.
    """

    def __init__(self, services: Services, settings: Settings) -> None:
        super().__init__(
            build_schema(settings.limits, production=settings.is_production),
            graphql_ide="graphiql",
            # Queries only: strawberry refuses mutations over GET.
            allow_queries_via_get=not settings.is_production,
            multipart_uploads_enabled=False,
        )
        self.services = services
        self.production = settings.is_production

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        user = request.scope.get("user")
        principal = user if isinstance(user, Principal) else ANONYMOUS
        if (
            request.scope.get("method") == "GET"
            and request.scope.get(CREDENTIAL_SOURCE) == "cookie"
        ):
            principal = ANONYMOUS
        return Context(
            services=self.services,
            principal=principal,
            request=request if isinstance(request, Request) else None,
            response=response if isinstance(response, Response) else None,
            now=self.services.clock.now(),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        # strawberry's own HTTP branch, trying the prepared way first.
        request = Request(scope=scope, receive=receive)
        try:
            response = await self._run_prepared(request) or await self.run(request)
        except HTTPException as e:
            response = PlainTextResponse(e.reason, status_code=e.status_code)
        await response(scope, receive, send)

    async def _run_prepared(self, request: Request) -> Response | None:
        """A POSTed query whose document is prepared (schema/prepared.py), answered as
        strawberry's `run` answers it, without its request adapter, content-type parser and
        operation plumbing (~40 µs); None for anything else, which strawberry's `run` serves
        (the body stays read on the request)."""
        queries = getattr(self.schema, "prepared_queries", None)
        if queries is None or request.method != "POST":
            return None
        headers = request.headers
        media_type = _media_type(headers.get("content-type"))
        accept = headers.get("accept", "")
        if media_type != "application/json" or "multipart" in accept or "event-stream" in accept:
            return None
        try:
            data = self.decode_json(await request.body())
        except ValueError:  # not JSON: strawberry's path answers it
            return None
        if not isinstance(data, dict) or not data.keys() <= _PLAIN_REQUEST:
            return None
        query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
        if (
            not isinstance(query, str)
            or not isinstance(variables, dict | None)
            or not isinstance(name, str | None)
        ):
            return None
        prepared = queries.find(query, name, variables, None, None)
        if prepared is None:
            return None
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        result = await queries.run(self.schema, prepared, variables, context, None, name)
        response_data = await self.process_result(request=request, result=result)
        if result.errors:
            self._handle_errors(result.errors, response_data)
        return self.create_response(response_data=response_data, sub_response=sub_response)

    async def parse_http_body(self, request: AsyncHTTPRequestAdapter) -> Any:
        if request.method == "POST":
            media_type = _media_type(request.content_type)
            if media_type != "application/json":
                raise HTTPException(415, "POST a JSON body (Content-Type: application/json).")
        return await super().parse_http_body(request)

    async def render_graphql_ide(self, request: Request) -> Response:
        user = request.scope.get("user")
        if self.production and not (isinstance(user, Principal) and user.is_authenticated):
            return HTMLResponse(_SIGN_IN_FIRST, status_code=401)
        index = GRAPHIQL_DIR / "index.html"
        if not index.is_file():
            return HTMLResponse(_MISSING_ASSETS, status_code=503)
        headers = {"Cache-Control": "no-cache", "Content-Security-Policy": GRAPHIQL_CSP}
        return HTMLResponse(index.read_text(), headers=headers)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # What strawberry's `json.loads` reads, numbers included, mostly by orjson.
        return read_json(data)


def _media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json`."""
    return (content_type or "").split(";")[0].strip().lower()


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    mailer: Mailer | None = None,
    services: Services | None = None,
) -> Starlette:
    services = services or Services.build(settings, clock=clock, mailer=mailer)

    async def healthz(_: Request) -> Response:
        try:
            await services.db.ping()
        except Exception:
            log.exception("health check: database unreachable")
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Everything imported at start-up lives as long as the process: move it out of the
        # collector's way (STYLE "Measured here": about 1.4x on list pages).
        gc.collect()
        gc.freeze()
        # A request allocates thousands of short-lived objects (one per field); collecting
        # generation 0 every 700 allocations spent more time than it freed. Reference counting
        # still frees almost everything at once; the collector only has cycles left to find.
        gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)
        async with keys.kept_fresh(services.db, services.signer):
            yield
        await services.rate_limiter.close()
        await services.db.dispose()

    view = GraphQLView(services, settings)
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route(GRAPHQL_PATH, view, methods=["GET", "POST"]),
            Mount("/static/graphiql", StaticFiles(directory=GRAPHIQL_DIR, check_dir=False)),
        ],
        middleware=[
            Middleware(SecurityHeaders, https=settings.public_url.startswith("https://")),
            *(
                [
                    Middleware(
                        CORSMiddleware,
                        allow_origins=list(settings.cors_origins),
                        allow_methods=["GET", "POST"],
                        allow_headers=["Authorization", "Content-Type"],
                        allow_credentials=False,  # bearer tokens only: the cookie stays home
                        max_age=600,
                    )
                ]
                if settings.cors_origins
                else []
            ),
            Middleware(
                RequestLimits,
                max_body_bytes=settings.limits.max_body_bytes,
                timeout_seconds=settings.limits.request_timeout_seconds,
            ),
            Middleware(
                AuthenticationMiddleware,
                backend=CredentialBackend(services),
                on_error=on_auth_error,
            ),
            Middleware(GraphQLPosts, view=view, path=GRAPHQL_PATH),
        ],
        lifespan=lifespan,
        exception_handlers={Exception: on_server_error},
    )
    app.state.services = services
    return app


def app_from_env() -> Starlette:
    """uvicorn's factory for `accessgraph serve` (each worker builds its own app)."""
    return create_app(Settings.from_env())
