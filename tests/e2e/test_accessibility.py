"""Accessibility as a machine can check it (axe-core, the engine behind Lighthouse's audit):
every page, for an administrator and an operator, in both languages, has no serious or
critical violation (WCAG 2.x A and AA: names, labels, contrast, keyboard reachability)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import ROOT, Console, Server
from .test_console import ADMIN_PAGES, OPERATOR_PAGES

pytestmark = pytest.mark.e2e

AXE = ROOT / "frontend" / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
  });
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 3)
                    .map((n) => n.target.join(' ') + ' :: ' + n.failureSummary)}));
}"""


def violations(c: Console, pages: list[str]) -> dict[str, list[Any]]:
    found = {}
    for path in pages:
        c.goto(path)
        c.page.locator("[data-testid^=page-]").first.wait_for()
        c.page.wait_for_load_state("networkidle")
        # Evaluated, not added as a <script>: the console's CSP rightly refuses inline code.
        c.page.evaluate(AXE.read_text() + "\n;0")
        serious = c.page.evaluate(RUN_AXE)
        if serious:
            found[path] = serious
    return found


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_no_page_has_a_serious_accessibility_violation(
    server: Server, console: Any, language: str
) -> None:
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (npm ci in frontend/)")
    # given an administrator and an operator
    admin: Console = console(language=language)
    admin.login("admin")
    operator: Console = console(language=language)
    operator.login("operator")
    # when axe checks each of their pages
    found = violations(admin, ADMIN_PAGES) | violations(operator, OPERATOR_PAGES)
    # then none has a serious or critical violation
    assert found == {}, "\n".join(
        f"{page}: {v['id']} ({v['impact']}) {node}"
        for page, vs in found.items()
        for v in vs
        for node in v["nodes"]
    )


def test_the_menu_is_reached_and_used_with_the_keyboard(server: Server, console: Any) -> None:
    # given an administrator on the overview
    admin: Console = console()
    admin.login("admin")
    admin.goto("/overview")
    # when she tabs from the top of the page until the menu's link to the lots page
    focused = ""
    for _ in range(40):
        admin.page.keyboard.press("Tab")
        focused = admin.page.evaluate("document.activeElement?.dataset?.testid ?? ''")
        if focused == "nav-/exams/lots":
            break
    # then it was reached, and Enter opens the page it names, marked as the current one
    assert focused == "nav-/exams/lots"
    admin.page.keyboard.press("Enter")
    admin.page.wait_for_url("**/exams/lots")
    admin.page.locator("[data-testid=page-exam-lots]").wait_for()
    current = admin.page.locator("[data-testid='nav-/exams/lots']")
    assert current.get_attribute("aria-current") == "page"
