"""The console on a phone (390 x 844) and a desktop (1440 x 900), in both languages: no page
is wider than the screen; tables scroll inside themselves; the menu opens as a drawer."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Console, Server
from .test_console import ADMIN_PAGES, OPERATOR_PAGES

pytestmark = pytest.mark.e2e

PHONE = (390, 844)
DESKTOP = (1440, 900)
WIDTH = "({page: document.documentElement.scrollWidth, screen: window.innerWidth})"


def overflowing(c: Console, pages: list[str], shot: str) -> dict[str, int]:
    wide = {}
    for path in pages:
        c.goto(path)
        c.page.locator("[data-testid^=page-]").first.wait_for()
        measured = c.page.evaluate(WIDTH)
        if measured["page"] > measured["screen"]:
            wide[path] = measured["page"]
        c.shot(f"{shot}{path.replace('/', '-')}")
    return wide


@pytest.mark.parametrize("language", ["zh-CN", "en"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_no_page_is_wider_than_the_screen(
    server: Server, console: Any, language: str, viewport: tuple[int, int]
) -> None:
    name = f"{'phone' if viewport == PHONE else 'desktop'}-{language}"
    admin: Console = console(viewport=viewport, language=language)
    admin.login("admin")
    operator: Console = console(viewport=viewport, language=language)
    operator.login("operator")
    wide = overflowing(admin, ADMIN_PAGES, f"{name}-admin")
    wide |= overflowing(operator, OPERATOR_PAGES, f"{name}-operator")
    assert wide == {}, f"pages wider than {viewport[0]} px: {wide}"


def test_the_menu_is_a_drawer_on_a_phone(server: Server, console: Any) -> None:
    admin: Console = console(viewport=PHONE)
    admin.login("admin")
    # the sidebar is not taking a third of the screen
    assert not admin.page.locator(".ib-shell__aside").is_visible()
    # the menu button opens the navigation, and a choice closes it again
    admin.page.click("[data-testid=nav-toggle]")
    admin.page.locator("[data-testid='nav-/exams/lots']").click()
    admin.page.wait_for_url("**/exams/lots")
    admin.page.locator("[data-testid^=page-]").first.wait_for()
    admin.page.locator("[data-testid='nav-/exams/lots']").wait_for(state="hidden")
    # the page title is one line, not a column of characters
    title = admin.page.locator(".ib-shell__title")
    box = title.bounding_box()
    assert box is not None
    assert box["height"] < 40


# Each table's first column heading, brought into view: the element at its centre must be
# the heading itself, not a pinned column drawn over it (a 330 px fixed actions column
# once covered a whole table on a phone, leaving only "操作" to read).
COVERED_HEADINGS = """() => [
  ...document.querySelectorAll('.t-table thead tr:first-child th:first-child')]
  .filter((th) => th.offsetParent !== null)
  .map((th) => {
    th.scrollIntoView({ block: 'center', inline: 'start' });
    const box = th.getBoundingClientRect();
    const x = box.left + Math.min(box.width / 2, 20);
    const seen = document.elementFromPoint(x, box.top + box.height / 2);
    return th.contains(seen) ? null : th.innerText.trim();
  })
  .filter((covered) => covered !== null)"""


def test_no_table_heading_is_hidden_under_a_pinned_column_on_a_phone(
    server: Server, console: Any
) -> None:
    admin: Console = console(viewport=PHONE)
    admin.login("admin")
    operator: Console = console(viewport=PHONE)
    operator.login("operator")
    covered: dict[str, list[str]] = {}
    for who, pages in ((admin, ADMIN_PAGES), (operator, OPERATOR_PAGES)):
        for path in pages:
            who.goto(path)
            who.page.locator("[data-testid^=page-]").first.wait_for()
            found = who.page.evaluate(COVERED_HEADINGS)
            if found:
                covered[path] = found
    assert covered == {}, f"first column headings drawn over on a phone: {covered}"
