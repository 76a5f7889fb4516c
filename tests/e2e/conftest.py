"""Browser tests: a real uvicorn serving the built console (frontend/dist) on a free port,
with a fresh SQLite database holding the demo data, driven by Chromium through Playwright.

Needs `frontend/dist` (`make console`) and a Chromium (`apt-get install chromium`);
without either the e2e tests are skipped with the reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..support import SERVER_SECRET, wait_until_ready
from ..support.serving import free_port, seed_demo, uvicorn_command

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "frontend" / "dist"
RESULTS = ROOT / "test-results"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Lines a test measured (sizes, times), printed at the end of the run and kept in
# test-results/measured.txt.
MEASURED: list[str] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MEASURED:
        return
    terminalreporter.section("measured in the browser")
    for line in MEASURED:
        terminalreporter.write_line(line)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "measured.txt").write_text("\n".join(MEASURED) + "\n")


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class Server:
    base: str
    credentials: dict[str, str]
    logs: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.base, timeout=30)

    def operator(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """GraphQL as the demo operator (bearer token); fails on any error."""
        response = self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.credentials['operatorToken']}"},
        )
        body: dict[str, Any] = response.json()
        assert response.status_code == 200, body
        assert not body.get("errors"), body
        result: dict[str, Any] = body["data"]
        return result

    def upload(self, uids: list[str]) -> dict[str, Any]:
        """A gateway reports uploads, signed with the demo institution's token."""
        from imaging_billing.security import SignedRequest, sign_with_token

        institution = self.credentials["institutionId"]
        body = json.dumps(
            {
                "query": "mutation($i: ID!, $items: [ExamUploadInput!]!) {"
                " recordExamUploads(institutionId: $i, items: $items)"
                " { accepted duplicates refused } }",
                "variables": {"i": institution, "items": [{"studyInstanceUid": u} for u in uids]},
            }
        ).encode()
        ts = str(int(time.time() * 1000))
        response = self.http.post(
            "/graphql",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Institution-Id": institution,
                "X-Timestamp": ts,
                "X-Signature": sign_with_token(
                    self.credentials["institutionToken"], SignedRequest.of(institution, ts, body)
                ),
            },
        )
        data: dict[str, Any] = response.json()
        assert response.status_code == 200, data
        assert not data.get("errors"), data
        result: dict[str, Any] = data["data"]["recordExamUploads"]
        return result


@contextmanager
def _serving(folder: Path, budget_scale: str) -> Iterator[Server]:
    """A real uvicorn on a free port over a fresh SQLite database with the demo data."""
    from imaging_billing.store.migrate import upgrade

    url = f"sqlite+aiosqlite:///{folder / 'console.sqlite3'}"
    upgrade(url)
    credentials = asyncio.run(seed_demo(url))
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DEMO_DATA": "0",
        "SERVER_SECRET": SERVER_SECRET,
        "SWEEP_INTERVAL_SECONDS": "0",
        "CONSOLE_DIR": str(DIST),
        "QUERY_BUDGET_SCALE": budget_scale,
        # The webhook tests' receiver listens on loopback; deliveries go out every second.
        "WEBHOOK_ALLOW_PRIVATE": "1",
        "WEBHOOK_INTERVAL_SECONDS": "1",
    }
    logs = folder / "server.log"
    with logs.open("wb") as out:
        process = subprocess.Popen(
            uvicorn_command(port), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process, logs, 30)
        running = Server(base, credentials, logs)
        yield running
        running.http.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def _needs_console() -> None:
    if not (DIST / "index.html").is_file() or not (DIST / "graphiql.html").is_file():
        pytest.skip("frontend/dist is not built (make console)")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    _needs_console()
    # The tests click through every page many times a second as the same few people,
    # far beyond anyone's browsing: the query budget is sized for them, not for people.
    with _serving(tmp_path_factory.mktemp("e2e"), budget_scale="20") as running:
        yield running


@pytest.fixture(scope="module")
def people_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server with the query budget as deployed (QUERY_BUDGET_SCALE 1), for tests of
    what a person's browsing costs and how fast it arrives."""
    _needs_console()
    with _serving(tmp_path_factory.mktemp("people"), budget_scale="1") as running:
        yield running


# Module scope: the sync Playwright API keeps an event loop running in this thread while
# it is open, which would break the asyncio tests collected after these.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Console:
    """One browser context (one person), collecting console errors as it goes."""

    def __init__(
        self,
        browser: Any,
        server: Server,
        viewport: tuple[int, int] = (1440, 900),
        language: str = "zh-CN",
        chosen_here: bool = True,
    ) -> None:
        self.server = server
        width, height = viewport
        self.context = browser.new_context(
            viewport={"width": width, "height": height},
            locale=language,
            timezone_id="Asia/Shanghai",
        )
        # The console remembers its language per browser (src/locales/index.ts): start in
        # `language`, and keep whatever the person switches to afterwards. Without
        # `chosen_here` the browser has no choice of its own, as on a first visit: the
        # console shows the person's stored language once they sign in.
        if chosen_here:
            self.context.add_init_script(
                "if (!localStorage.getItem('ib.locale'))"
                f" localStorage.setItem('ib.locale', '{language}')"
            )
        self.page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text} @ {message.location}")

    def goto(self, path: str) -> None:
        self.page.goto(self.server.base + path)
        self.page.wait_for_load_state("networkidle")

    def login(self, who: str) -> None:
        self.goto("/login")
        self.page.fill("[data-testid=login-email] input", self.server.credentials[f"{who}Email"])
        self.page.fill(
            "[data-testid=login-password] input", self.server.credentials[f"{who}Password"]
        )
        self.page.click("[data-testid=login-submit]")
        self.page.wait_for_url("**/overview")
        self.page.wait_for_load_state("networkidle")

    def shot(self, name: str) -> None:
        RESULTS.mkdir(exist_ok=True)
        self.page.wait_for_load_state("networkidle")
        self.page.keyboard.press("Escape")  # close open dropdowns
        self.page.evaluate("window.scrollTo(0, 0)")  # sticky header sits right in full-page shots
        self.page.screenshot(path=str(RESULTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def console(browser: Any, server: Server) -> Iterator[Any]:
    """Open people's consoles; every one of them must end without a console error."""
    opened: list[Console] = []

    def open_console(**options: Any) -> Console:
        c = Console(browser, options.pop("server", server), **options)
        opened.append(c)
        return c

    yield open_console
    errors = [e for c in opened for e in c.errors]
    for c in opened:
        c.close()
    assert errors == [], "browser console errors:\n" + "\n".join(errors)
