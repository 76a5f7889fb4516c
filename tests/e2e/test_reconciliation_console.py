"""An account administrator reads a gateway's exam reconciliation (检查数据对账) on the
institutions page: the run's counts, and on opening it the studies on either side that do
not agree. The run is made by the gateway client against the real server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from imaging_gateway import GatewayClient

from .conftest import Console, Server

pytestmark = pytest.mark.e2e

WORDS = {
    "zh-CN": {"title": "检查数据对账", "missing": "流水缺少的检查", "unexpected": "网关未列出"},
    "en": {
        "title": "Exam reconciliation",
        "missing": "Studies the ledger lacks",
        "unexpected": "did not list",
    },
}


def reconcile_with_one_difference_each_way(server: Server, tag: int) -> tuple[str, str]:
    """Two studies reported; the gateway lists one of them and one the ledger never got."""
    base = f"1.2.826.0.1.3680043.9.77.{int(time.time() * 1000)}.{tag}"
    reported, unlisted, lost = f"{base}.1", f"{base}.2", f"{base}.3"
    began = datetime.now(UTC) - timedelta(seconds=1)
    assert server.upload([reported, unlisted])["accepted"] == 2
    c = server.credentials
    gateway = GatewayClient(server.base, c["institutionId"], c["institutionToken"], timeout=30)
    run = gateway.reconcile(began, datetime.now(UTC) + timedelta(seconds=1), [reported, lost])
    assert (run.sent, run.matched, run.missing, run.unexpected) == (2, 1, [lost], [unlisted])
    return lost, unlisted


@pytest.mark.parametrize(
    ("language", "viewport"),
    [("zh-CN", (1440, 900)), ("en", (1440, 900)), ("zh-CN", (390, 844)), ("en", (390, 844))],
)
def test_an_admin_sees_a_gateway_reconciliation_and_its_differences(
    server: Server, console: Console, language: str, viewport: tuple[int, int]
) -> None:
    # given a gateway's run that lacks one study and has one the ledger lacks
    lost, unlisted = reconcile_with_one_difference_each_way(server, viewport[0] + len(language))
    admin: Console = console(language=language, viewport=viewport)
    admin.login("admin")
    # when the administrator opens the institutions page
    admin.goto("/institutions")
    card = admin.page.locator("[data-testid=exam-reconciliations]")
    card.scroll_into_view_if_needed()
    words = WORDS[language]
    assert words["title"] in card.inner_text()
    # then the newest run shows the counts as tags: one missing, one unexpected, none voided
    first = card.locator("tbody tr").first
    assert first.locator("[data-testid=reconciliation-missing]").inner_text().strip() == "1"
    assert first.locator("[data-testid=reconciliation-unexpected]").inner_text().strip() == "1"
    assert first.locator("[data-testid=reconciliation-voided]").inner_text().strip() == "0"
    cells = [c.strip() for c in first.locator("td").all_inner_texts()]
    assert "2" in cells, cells  # the gateway listed two studies
    # and picking it names both studies, each under its heading, at the card's width
    first.click()
    details = card.locator("[data-testid=reconciliation-details]")
    text = details.inner_text()
    assert words["missing"] in text
    assert words["unexpected"] in text
    assert text.index(lost) < text.index(words["unexpected"]) < text.index(unlisted)
    box, inside = details.bounding_box(), card.bounding_box()
    assert box is not None
    assert inside is not None
    assert box["x"] + box["width"] <= inside["x"] + inside["width"]
    # and nothing is wider than the screen
    overflow = admin.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page is {overflow}px wider than the screen"
    admin.shot(f"reconciliation-{language}-{viewport[0]}")
