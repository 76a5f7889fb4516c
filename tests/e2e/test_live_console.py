"""The live console: the overview and the notices page change on screen, without a
reload, when the API records an upload or raises a notice (accountChanged over a
WebSocket, frontend/src/api/live.ts)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import Console, Server

pytestmark = pytest.mark.e2e

FIGURES = """query($id: ID!) { account(id: $id) { lowBalanceThreshold
  examFigures { available used arrears } notices(first: 1) { totalCount } } }"""
THRESHOLD = """mutation($id: ID!, $t: Int!) { setLowBalanceThreshold(accountId: $id, threshold: $t)
  { userErrors { code } } }"""


def account(server: Server) -> dict[str, Any]:
    data = server.operator(FIGURES, {"id": server.credentials["accountId"]})
    found: dict[str, Any] = data["account"]
    return found


def shown(page: Any, name: str) -> int:
    text = page.inner_text(f"[data-testid=figure-{name}] .ib-figure__value")
    return int(re.sub(r"\D", "", text))


def test_the_overview_shows_an_upload_without_a_reload(people_server: Server, console: Any) -> None:
    # Given an administrator on the overview, its figures followed live
    admin: Console = console(server=people_server, language="en")
    admin.login("admin")
    page = admin.page
    page.locator("[data-testid=overview-live]", has_text="Live").wait_for()
    used = shown(page, "used")
    assert used == account(people_server)["examFigures"]["used"]
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url))
    # When a gateway records two uploads through the API
    people_server.upload(["1.2.826.0.1.3680043.9.71.1", "1.2.826.0.1.3680043.9.71.2"])
    # Then the figure on screen counts them, and the page was not loaded again
    page.wait_for_function(
        "n => document.querySelector('[data-testid=figure-used] .ib-figure__value')"
        ".textContent.replace(/\\D/g, '') === String(n)",
        arg=used + 2,
        timeout=5_000,  # a push, well before the overview's own follow-up read (15 s)
    )
    assert shown(page, "available") == account(people_server)["examFigures"]["available"]
    assert loads == []


def test_the_notices_page_shows_a_new_notice_without_a_reload(
    people_server: Server, console: Any
) -> None:
    # Given the low-balance threshold just below what is available (no notice yet)
    state = account(people_server)
    available = state["examFigures"]["available"]
    assert available > 1
    people_server.operator(
        THRESHOLD, {"id": people_server.credentials["accountId"], "t": available - 1}
    )
    before = state["notices"]["totalCount"]
    # And an administrator on the notices page, in Chinese
    admin: Console = console(server=people_server)
    admin.login("admin")
    admin.goto("/notices")
    page = admin.page
    page.locator("[data-testid=notices-live]", has_text="实时").wait_for()
    first_row = page.locator("[data-testid=page-notices] tbody tr").first
    assert "余量不足" not in first_row.inner_text()
    # When one upload takes availability down to the threshold
    people_server.upload(["1.2.826.0.1.3680043.9.72.1"])
    assert account(people_server)["notices"]["totalCount"] > before
    # Then the low-balance notice appears at the top of the list, no reload asked for
    first_row.filter(has_text="余量不足").wait_for(timeout=5_000)


def test_signing_out_with_the_overview_live_lands_on_the_sign_in_page(
    server: Server, console: Any
) -> None:
    # Given an administrator on the overview, its figures followed live
    admin: Console = console(language="en")
    admin.login("admin")
    page = admin.page
    page.locator("[data-testid=overview-live]", has_text="Live").wait_for()
    # When she signs out (the server closes her live socket as signed out at once)
    page.click("[data-testid=user-menu]")
    page.locator(".t-dropdown__item:visible", has_text="Sign out").click()
    # Then she is on the sign-in page, without an error in the console (the fixture
    # checks)
    page.wait_for_url("**/login**")
    page.locator("[data-testid=login-submit]").wait_for()
    page.wait_for_load_state("networkidle")
