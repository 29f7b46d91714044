"""POSTs to /graphql go straight to the GraphQL view.

They are nearly every request the API serves (each `checkAccess` of a registry is one).
Starlette's exception middleware and router sit between the view and the middleware above it,
and add nothing for it: the router would match each route's pattern in turn, and the exception
middleware wraps every message sent, to turn Starlette's `HTTPException` into a response,
which the view never raises (it answers its own HTTP errors, as strawberry's, in
`GraphQLView.__call__`; any other exception reaches `ServerErrorMiddleware` either way).
Together they took ~2.4% of a check's CPU.

Every other request goes through the router as before: GET and HEAD, /healthz, GraphiQL's
assets, unknown paths, `/graphql/` (the router's redirect) and any request under a root path.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class GraphQLPosts:
    """The innermost middleware: a POST to exactly `path` is sent to `view`."""

    def __init__(self, app: ASGIApp, *, view: ASGIApp, path: str) -> None:
        self.app = app
        self.view = view
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == self.path
            and not scope.get("root_path")
        ):
            # What the route would add; the router itself ("router") is not named.
            scope["endpoint"], scope["path_params"] = self.view, {}
            await self.view(scope, receive, send)
        else:
            await self.app(scope, receive, send)
