"""SecurityHeaders adds what a response lacks, by header name whatever its case, and keeps
what the response set itself (http_security.py)."""

from __future__ import annotations

from accessgraph.http_security import API_CSP, GRAPHIQL_CSP, SecurityHeaders


async def _app(scope: object, receive: object, send: object) -> None:  # never called here
    raise AssertionError


def _names(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [name.lower() for name, _ in headers]


def test_a_json_response_gets_every_header_once_in_order() -> None:
    headers = SecurityHeaders(_app, https=True).headers(
        [(b"content-type", b"application/json")], graphiql_asset=False
    )
    assert headers == [
        (b"content-type", b"application/json"),
        (b"content-security-policy", API_CSP.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    ]


def test_the_responses_own_headers_win_whatever_their_case() -> None:
    own = [
        (b"Content-Type", b"text/html; charset=utf-8"),
        (b"X-Frame-Options", b"SAMEORIGIN"),
        (b"Content-Security-Policy", b"default-src 'self'"),
    ]
    headers = SecurityHeaders(_app, https=False).headers(own, graphiql_asset=False)
    assert headers[:3] == own
    assert _names(headers).count(b"x-frame-options") == 1
    assert _names(headers).count(b"content-security-policy") == 1
    assert b"strict-transport-security" not in _names(headers)  # http: no HSTS


def test_html_and_graphiql_assets_get_graphiqls_policy() -> None:
    guard = SecurityHeaders(_app, https=False)
    for raw, asset in (([(b"Content-Type", b"text/html")], False), ([], True)):
        headers = dict(guard.headers(raw, graphiql_asset=asset))
        assert headers[b"content-security-policy"] == GRAPHIQL_CSP.encode()
