"""End-to-end browser test of the bundled, air-gapped GraphiQL page.

Starts the real service (``python -m accessgraph serve``) on a free loopback
port with a throw-away SQLite database, opens ``/graphql`` in headless
Chromium (Debian's ``/usr/bin/chromium`` driven by Playwright) and uses the
GraphiQL UI to log in as the bootstrapped admin and query ``viewer``.

Needs: ``apt-get install -y chromium chromium-driver``,
``pip install playwright==1.65.2`` (no ``playwright install``: we use the
system Chromium) and the built assets (``cd frontend && npm ci && npm run
build``). ``make test`` installs all of these. Missing prerequisites FAIL the
test; set ``ACCESSGRAPH_SKIP_BROWSER=1`` to skip it deliberately.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from tests import served

pytestmark = pytest.mark.browser

REPO_ROOT = Path(__file__).resolve().parents[2]
ASSETS_DIR = REPO_ROOT / "src" / "accessgraph" / "static" / "graphiql"
REQUIRED_ASSETS = (
    "index.html",
    "graphiql.js",
    "graphiql.css",
    "workers/editor.worker.js",
    "workers/json.worker.js",
    "workers/graphql.worker.js",
)
CHROMIUM = os.environ.get("ACCESSGRAPH_CHROMIUM", "/usr/bin/chromium")
# Required on this closed network: without them Chromium hangs trying to
# reach Google services. --host-resolver-rules makes any non-loopback host
# fail fast instead (requests are still recorded and asserted on below).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]

ADMIN_EMAIL = "admin@acme.test"
ADMIN_PASSWORD = "correct horse battery"
LOGIN_MUTATION = (
    "mutation Login { login(input: {"
    f'email: "{ADMIN_EMAIL}", password: "{ADMIN_PASSWORD}"'
    "}) { viewer { email } errors { code } } }"
)
VIEWER_QUERY = "{ viewer { email role } }"

UI_TIMEOUT_MS = 30_000

INSTALL_HINT = (
    "`make test` installs the browser-test prerequisites; by hand:\n"
    "  apt-get update && apt-get install -y chromium chromium-driver\n"
    "  .venv/bin/pip install playwright==1.65.2   # do NOT run `playwright install`\n"
    "  cd frontend && npm ci && npm run build\n"
    "Set ACCESSGRAPH_SKIP_BROWSER=1 to skip the browser tests on purpose."
)


# --------------------------------------------------------------------------
# prerequisites
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def playwright_api() -> Any:
    """Check everything the browser test needs; fail loudly if missing."""
    if os.environ.get("ACCESSGRAPH_SKIP_BROWSER") == "1":
        pytest.skip("ACCESSGRAPH_SKIP_BROWSER=1")
    problems = []
    if not os.access(CHROMIUM, os.X_OK):
        problems.append(f"Chromium not found at {CHROMIUM}")
    missing = [name for name in REQUIRED_ASSETS if not (ASSETS_DIR / name).is_file()]
    if missing:
        problems.append(
            f"GraphiQL assets not built (missing in {ASSETS_DIR}: {', '.join(missing)})"
        )
    try:
        import playwright.sync_api as api
    except ImportError:
        api = None
        problems.append("Python package `playwright` is not installed")
    if problems:
        pytest.fail(
            "browser test prerequisites missing:\n  - "
            + "\n  - ".join(problems)
            + "\n"
            + INSTALL_HINT,
            pytrace=False,
        )
    return api


# --------------------------------------------------------------------------
# the real service
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def service_url(playwright_api: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("accessgraph-browser")
    env = served.service_env(workdir / "ag.db")
    try:
        served.bootstrap(workdir, env, ADMIN_EMAIL, ADMIN_PASSWORD)
        with served.serving(workdir, env, workdir / "serve.log") as base:
            yield base
    except served.ServeError as exc:
        pytest.fail(str(exc), pytrace=False)


# --------------------------------------------------------------------------
# the browser
# --------------------------------------------------------------------------


class Session:
    """A fresh Chromium profile with every request and page error recorded."""

    def __init__(self, context: Any, base: str) -> None:
        self.context = context
        self.base = base
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.console: list[str] = []
        context.on("request", lambda request: self.requests.append(request.url))
        self.page = context.pages[0] if context.pages else context.new_page()
        self.page.set_default_timeout(UI_TIMEOUT_MS)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}"))

    def foreign_requests(self) -> list[str]:
        expected = urlsplit(self.base).netloc
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob", "about")
            and urlsplit(url).netloc != expected
        ]

    def open_graphiql(self) -> None:
        self.page.goto(f"{self.base}/graphql", wait_until="load")
        self.page.locator(".graphiql-query-editor .monaco-editor").wait_for(state="visible")
        # The editor gets filled once the persisted/default tab state is loaded.
        self.page.locator(".graphiql-query-editor .view-lines").wait_for(state="visible")

    def set_query(self, text: str) -> None:
        """Replace the operation editor's content the way a user pastes it."""
        editor = self.page.locator(".graphiql-query-editor .monaco-editor .view-lines")
        editor.click()
        self.page.keyboard.press("ControlOrMeta+A")
        self.page.keyboard.press("Delete")
        # insert_text = one input event (like a paste), so Monaco's bracket
        # auto-closing and suggestions don't mangle what we "type".
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")  # close any suggestion widget
        expected = re.sub(r"\s+", "", text)
        self.wait_until(
            lambda: self._editor_text(".graphiql-query-editor").replace(" ", "") == expected,
            f"query editor to contain {text!r}",
            lambda: self._editor_text(".graphiql-query-editor"),
        )
        # GraphiQL re-parses the operation (debounced) before it knows which
        # operation to run; the active tab's title shows when it is done.
        match = re.match(r"\s*(?:query|mutation|subscription)\s+(\w+)", text)
        title = match.group(1) if match else "<untitled>"
        tab = self.page.locator("[role=tab][aria-selected=true] .graphiql-tab-button")
        self.wait_until(
            lambda: tab.count() > 0 and tab.first.inner_text().strip() == title,
            f"active tab title to become {title!r}",
            lambda: tab.all_inner_texts(),
        )

    def run(self) -> None:
        self.page.locator(".graphiql-execute-button").click()

    def wait_for_response(self, needle: str) -> str:
        self.wait_until(
            lambda: needle in self.response_text(),
            f"result pane to show {needle!r}",
            self.response_text,
        )
        return self.response_text()

    def response_text(self) -> str:
        return self._editor_text(".graphiql-response")

    def _editor_text(self, container: str) -> str:
        lines = self.page.locator(f"{container} .monaco-editor .view-lines")
        if lines.count() == 0:
            return ""
        # Monaco renders spaces as NBSP; normalise to single spaces.
        return re.sub(r"\s+", " ", lines.first.inner_text().replace("\u00a0", " ")).strip()

    def wait_until(self, condition: Any, what: str, show: Any) -> None:
        deadline = time.monotonic() + UI_TIMEOUT_MS / 1000
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; currently: {show()!r}\n{self.diagnostics()}"
                )
            self.page.wait_for_timeout(100)

    def diagnostics(self) -> str:
        return (
            f"page errors: {self.errors}\nconsole: {self.console[-20:]}\nrequests: {self.requests}"
        )

    def assert_same_origin_only(self) -> None:
        foreign = self.foreign_requests()
        assert not foreign, f"page contacted other origins than {self.base}: {foreign}"
        assert self.requests, "no requests were recorded at all"


@pytest.fixture(scope="module")
def chromium(playwright_api: Any) -> Iterator[Any]:
    with playwright_api.sync_playwright() as pw:
        yield pw.chromium


@pytest.fixture
def browser_session(chromium: Any, service_url: str) -> Iterator[Session]:
    with tempfile.TemporaryDirectory(prefix="ag-chromium-profile-") as profile:
        context = chromium.launch_persistent_context(
            profile,  # fresh, empty --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield Session(context, service_url)
        finally:
            context.close()


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------


def test_graphiql_page_is_self_contained(browser_session: Session) -> None:
    session = browser_session
    session.open_graphiql()
    page = session.page

    assert page.title() == "accessgraph · GraphiQL"
    # Headers editor is enabled and shown (for `Authorization: Bearer ...`).
    headers_tab = page.get_by_role("button", name="Headers", exact=True)
    assert headers_tab.is_visible()
    assert "active" in (headers_tab.get_attribute("class") or "")
    headers_editor = "section.graphiql-editor-tool .graphiql-editor:not(.hidden) .monaco-editor"
    assert page.locator(headers_editor).is_visible()
    # The Monaco web workers are started from our own origin.
    session.wait_until(
        lambda: sum("/static/graphiql/workers/" in url for url in session.requests) >= 2,
        "Monaco web workers to be loaded",
        lambda: session.requests,
    )
    page.wait_for_timeout(500)  # let stragglers (fonts, workers) show up in the log

    session.assert_same_origin_only()
    loaded = {urlsplit(url).path for url in session.requests}
    for asset in ("/static/graphiql/graphiql.js", "/static/graphiql/graphiql.css"):
        assert asset in loaded, f"{asset} not loaded; requests: {session.requests}"
    assert any(path.startswith("/static/graphiql/workers/") for path in loaded), session.requests
    worker_failures = [line for line in session.console if "Could not create web worker" in line]
    assert not worker_failures, worker_failures
    # The page's Content-Security-Policy (accessgraph.http_security) blocks nothing it needs.
    blocked = [line for line in session.console if "Content Security Policy" in line]
    assert not blocked, blocked
    assert not session.errors, session.diagnostics()


def test_login_then_viewer_through_the_ui(browser_session: Session) -> None:
    session = browser_session
    session.open_graphiql()

    # 1. log in as the bootstrapped admin; the mutation sets the session cookie
    session.set_query(LOGIN_MUTATION)
    session.run()
    text = session.wait_for_response(f'"email": "{ADMIN_EMAIL}"')
    assert '"login"' in text, text
    cookies = session.context.cookies(session.base)
    assert cookies, "login did not set any cookie"
    assert any(cookie["httpOnly"] for cookie in cookies), f"no httpOnly session cookie: {cookies}"

    # 2. the cookie alone (no Authorization header) authenticates `viewer`
    session.set_query(VIEWER_QUERY)
    session.run()
    text = session.wait_for_response('"role": "ADMIN"')
    assert f'"email": "{ADMIN_EMAIL}"' in text, text
    assert "ADMIN" in text

    session.assert_same_origin_only()
    assert not session.errors, session.diagnostics()
