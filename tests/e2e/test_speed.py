"""A cold overview on a hospital's slow network: at 1.6 Mbit/s with 150 ms of latency
(Chromium's own throttling), the figures are on screen within 2.5 s, and the whole visit
transfers at most 250 KB. Best of three, as the machine running the suite is shared."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import MEASURED, Console, Server

pytestmark = pytest.mark.e2e

SLOW = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
}
FIGURES_WITHIN_MS = 2_500
TRANSFER_AT_MOST = 250 * 1024
# The figure shows a number once the overview's answer is in (until then it is empty).
FIGURE_SHOWN = """() => {
  const value = document.querySelector('[data-testid=figure-available] .ib-figure__value');
  return value && /\\d/.test(value.textContent) ? performance.now() : null;
}"""


def cold_overview(c: Console) -> tuple[float, int]:
    """(ms from navigation to the figures, bytes received) with an empty cache."""
    cdp = c.context.new_cdp_session(c.page)
    cdp.send("Network.enable")
    cdp.send("Network.clearBrowserCache")
    cdp.send("Network.emulateNetworkConditions", SLOW)
    received: list[int] = []
    cdp.on("Network.loadingFinished", lambda e: received.append(int(e["encodedDataLength"])))
    c.page.goto(c.server.base + "/overview")
    shown = c.page.wait_for_function(FIGURE_SHOWN, polling=50, timeout=30_000).json_value()
    c.page.wait_for_load_state("networkidle")
    cdp.send("Network.emulateNetworkConditions", {**SLOW, "latency": 0, "downloadThroughput": -1})
    cdp.detach()
    return float(shown), sum(received)


def test_a_cold_overview_shows_the_figures_within_2_5_s_on_a_slow_line(
    people_server: Server, console: Any
) -> None:
    # given a signed-in administrator (the session cookie is all the browser keeps)
    admin: Console = console(server=people_server)
    admin.login("admin")
    # when the overview is opened cold three times over the slow line
    runs = [cold_overview(admin) for _ in range(3)]
    best_ms = min(ms for ms, _ in runs)
    transferred = max(size for _, size in runs)
    MEASURED.append(
        f"cold overview at 1.6 Mbit/s, 150 ms: figures after {best_ms:.0f} ms (best of 3:"
        f" {[round(ms) for ms, _ in runs]}), {transferred / 1024:.1f} KB transferred"
    )
    # then the figures arrived in time, and the visit stayed within its budget
    assert best_ms <= FIGURES_WITHIN_MS
    assert transferred <= TRANSFER_AT_MOST
