"""What a person reads is not cut off: at 1440 px, in both languages, no text on any page
is clipped by its box unless it ends in an ellipsis (with the whole text a hover away),
and the operators' accounts table shows every action of a long-named account."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Console, Server
from .test_console import ADMIN_PAGES, OPERATOR_PAGES

pytestmark = pytest.mark.e2e

# Elements whose own text is wider than their box, while the box hides the overflow and no
# ellipsis says so. Hidden elements (in closed popups, screen-reader text) do not count.
CLIPPED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    if (style.overflowX === 'visible' || style.textOverflow === 'ellipsis') continue;
    if (el.classList.contains('ib-visually-hidden') || el.closest('.ib-visually-hidden')) continue;
    if (!el.offsetParent || el.clientWidth === 0) continue;
    const text = [...el.childNodes]
      .filter((n) => n.nodeType === 3)
      .map((n) => n.textContent.trim())
      .join('');
    if (!text) continue;
    if (el.scrollWidth > el.clientWidth + 1) {
      const name = `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`;
      found.push(`${name}: ${text.slice(0, 30)}`);
    }
  }
  return found;
}"""


LONG_NAME = (
    "The Affiliated Sixth People's Hospital of Shanghai Jiao Tong University"
    " School of Medicine (Jinshan Branch) 上海交通大学医学院附属第六人民医院金山分院"
)
LONG_AGREEMENT = "SH-JT-6TH-2026-CLOUD-PACS-000123"
NEW_ACCOUNT = """mutation($n: String!) { createAccount(name: $n) { account { id } } }"""
AGREEMENT = """mutation($a: ID!, $n: String!) {
  recordAgreement(accountId: $a, number: $n, signedOn: "2026-11-02", channelPartner: "Partner") {
    userErrors { code } } }"""


@pytest.fixture(scope="module")
def long_names(server: Server) -> None:
    """An account whose name and agreement number are as long as real ones get."""
    account = server.operator(NEW_ACCOUNT, {"n": LONG_NAME})["createAccount"]["account"]["id"]
    recorded = server.operator(AGREEMENT, {"a": account, "n": LONG_AGREEMENT})
    assert recorded["recordAgreement"]["userErrors"] == []


def clipped(c: Console, pages: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in pages:
        c.goto(path)
        c.page.locator("[data-testid^=page-]").first.wait_for()
        c.page.wait_for_load_state("networkidle")
        cut = c.page.evaluate(CLIPPED)
        if cut:
            found[path] = cut
    return found


def test_the_check_sees_text_cut_off(server: Server, console: Any) -> None:
    # given a page with one box too narrow for its words, and one that ends in an ellipsis
    c: Console = console()
    c.goto("/login")
    c.page.evaluate("""() => {
      for (const ellipsis of [false, true]) {
        const box = document.createElement('div');
        box.textContent = ellipsis ? 'shortened with an ellipsis' : 'Uploads suspended';
        box.style.cssText = 'width: 40px; overflow: hidden; white-space: nowrap'
          + (ellipsis ? '; text-overflow: ellipsis' : '');
        document.body.appendChild(box);
      }
    }""")
    # then the check names the clipped one only
    assert c.page.evaluate(CLIPPED) == ["div.: Uploads suspended"]


@pytest.mark.usefixtures("long_names")
@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_no_text_is_cut_off_at_1440(server: Server, console: Any, language: str) -> None:
    # given an administrator and an operator on a wide screen, and an account with a long
    # name and agreement number
    admin: Console = console(language=language)
    admin.login("admin")
    operator: Console = console(language=language)
    operator.login("operator")
    # when every page is looked at, then no text is clipped without an ellipsis
    found = clipped(admin, ADMIN_PAGES) | clipped(operator, OPERATOR_PAGES)
    assert found == {}, found
    # and the long-named account's row shows all of its actions inside the table
    operator.goto("/ops/accounts")
    row = operator.page.locator("tr", has_text=LONG_AGREEMENT[:12])
    table = operator.page.locator(".t-table__content").first.bounding_box()
    assert table is not None
    for button in row.locator("button").all():
        box = button.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= table["x"] + table["width"] + 1, button.inner_text()
