"""Security headers on every response.

The API answers JSON and never needs to run or embed anything: `default-src 'none'`. The
bundled GraphiQL page and its assets load only from this origin (its editor runs web workers
and injects styles); no page may frame either. HSTS when the public URL is https.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
GRAPHIQL_PATHS = ("/static/graphiql/",)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https
        # Added unless the response set its own (by name, as Starlette's `setdefault`).
        defaults = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if https:
            defaults.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        self.defaults = tuple(defaults)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        graphiql_asset = scope["path"].startswith(GRAPHIQL_PATHS)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self.headers(message.get("headers", ()), graphiql_asset)
            await send(message)

        await self.app(scope, receive, with_headers)

    def headers(
        self, raw: Iterable[tuple[bytes, bytes]], graphiql_asset: bool
    ) -> list[tuple[bytes, bytes]]:
        """The response's headers with the security headers it lacks appended: its own list
        read once (each `MutableHeaders` lookup reads it again, ~1% of a checkAccess)."""
        headers = list(raw)
        present = {name.lower() for name, _ in headers}
        if b"content-security-policy" not in present:
            content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
            html = content_type.startswith(b"text/html")
            csp = GRAPHIQL_CSP if html or graphiql_asset else API_CSP
            headers.append((b"content-security-policy", csp.encode()))
        headers.extend(pair for pair in self.defaults if pair[0] not in present)
        return headers
