"""A person's language choice in the console header is kept with them, not only in the
browser: their notice e-mails are written in it (R-ARR-2 delivery decision)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Console, Server

pytestmark = pytest.mark.e2e

ASK = """async () => {
  const answer = await fetch('/graphql', {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ query: '{ viewer { language } }' }),
  });
  return (await answer.json()).data.viewer.language;
}"""


def choose(c: Console, label: str) -> None:
    with c.page.expect_response(
        lambda r: r.url.endswith("/graphql") and "setMyLanguage" in (r.request.post_data or "")
    ) as answered:
        c.page.click("[data-testid=locale-switch]")
        c.page.locator(".t-dropdown__item:visible", has_text=label).click()
    assert answered.value.ok


def test_the_language_chosen_in_the_header_is_kept_with_the_person(
    server: Server, console: Any
) -> None:
    # given an administrator signed in with the console in Chinese
    admin: Console = console(language="zh-CN")
    admin.login("admin")
    # when she switches the console to English
    choose(admin, "English")
    # then the server keeps English as hers (her mails follow it), and the page reads English
    assert admin.page.evaluate(ASK) == "EN"
    admin.page.locator(".ib-shell__title", has_text="Overview").wait_for()
    # and switching back keeps Chinese
    choose(admin, "简体中文")
    assert admin.page.evaluate(ASK) == "ZH_CN"
