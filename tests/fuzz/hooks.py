"""Schemathesis hooks for the GraphQL fuzzing run (loaded through SCHEMATHESIS_HOOKS).

- IDs: half of the generated `ID` arguments are real global IDs of the seeded organization
  (users, tokens, groups, targets, devices ...), so that mutations reach their business rules
  instead of stopping at "not found"; the other half are arbitrary text.
- `clean_graphql_answer` (in place of schemathesis' `not_a_server_error`, which counts every
  top-level error as a server error, RATE_LIMITED and FORBIDDEN included): no 5xx; no
  internals in a response (stack traces, SQL, driver or file names); no masked "Unexpected
  error." (a resolver raised: a bug, even though the client learns nothing from it); and a
  top-level error of an executed field only with a code the API raises on purpose.
"""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

KNOWN_IDS: list[str] = json.loads(os.environ.get("ACCESSGRAPH_FUZZ_IDS", "[]"))

if KNOWN_IDS:
    schemathesis.graphql.scalar(
        "ID", st.one_of(st.sampled_from(KNOWN_IDS), st.text(max_size=40)).map(nodes.String)
    )

# Text that only an unmasked exception or a leaked query would put into a response.
INTERNALS = (
    "Traceback",
    'File "',
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "sqlite3",
    "IntegrityError",
    "OperationalError",
    "site-packages",
    "accessgraph/",
)

# Top-level errors the API raises on purpose (README "Security: limits and defenses"): the
# answer to a caller's mistake or to a limit, never to a bug. SERVICE_UNAVAILABLE is not here:
# the database is up during the run, so an outage code would hide a fault.
EXPECTED_CODES = frozenset(
    {
        "UNAUTHENTICATED",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "RATE_LIMITED",
        "QUERY_TOO_COSTLY",
        "TOO_MANY_DIRECTIVES",
    }
)

# What the run saw, for its log (written at exit to ACCESSGRAPH_FUZZ_STATS).
SEEN: Counter[str] = Counter()


def _problem(error: dict[str, Any]) -> str | None:
    """Why a top-level error shows a server fault, or None for an expected answer."""
    extensions = error.get("extensions") or {}
    code = extensions.get("code") if isinstance(extensions, dict) else None
    SEEN[code or ("validation" if "path" not in error else "no code")] += 1
    if error.get("message") == "Unexpected error.":
        return "a resolver raised (masked for the client; the server log has the stack trace)"
    if "path" not in error:
        return None  # parsing or validation: the document was refused before it ran
    if code not in EXPECTED_CODES:
        return f"an error the API does not raise on purpose (code {code!r})"
    return None


@schemathesis.check
def clean_graphql_answer(ctx: Any, response: Any, case: Any) -> bool | None:
    """No 5xx, no internals in the body, and only deliberate top-level errors."""
    SEEN[f"HTTP {response.status_code}"] += 1
    text = response.text
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}: {text[:500]}")
    for marker in INTERNALS:
        if marker in text:
            raise AssertionError(f"the response shows internals ({marker!r}): {text[:500]}")
    try:
        body = json.loads(text)
    except ValueError:
        return None  # not a GraphQL answer (e.g. 413/415): the status is the answer
    errors = body.get("errors") if isinstance(body, dict) else None
    for error in errors or []:
        problem = _problem(error)
        if problem:
            raise AssertionError(f"{problem} at {error.get('path')}: {error.get('message')}")
    return None


@atexit.register
def _write_stats() -> None:
    path = os.environ.get("ACCESSGRAPH_FUZZ_STATS")
    if path:
        with open(path, "w") as out:
            json.dump(dict(SEEN.most_common()), out)
