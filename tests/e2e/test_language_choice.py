"""A person's language choice in the console header is kept with them, not only in the
browser: their notice e-mails are written in it (R-ARR-2 delivery decision), and another
browser of theirs without a choice of its own opens in it."""

from __future__ import annotations

import re
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
    # The menu closes a moment after the click: a click on the switch before it is gone
    # would close it instead of opening it again.
    c.page.locator(".t-popup", has=c.page.locator(".t-dropdown__item")).wait_for(state="detached")


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


CHINESE = re.compile(r"[\u3400-\u9fff]")


def test_a_new_browser_opens_in_the_language_the_person_chose_elsewhere(
    server: Server, console: Any
) -> None:
    # given an administrator who chose English in the console on her laptop
    laptop: Console = console(language="zh-CN")
    laptop.login("admin")
    choose(laptop, "English")
    assert laptop.page.evaluate(ASK) == "EN"
    try:
        # when she signs in on another browser, one that never chose a language (the
        # sign-in page is in the default, Chinese)
        other: Console = console(language="zh-CN", chosen_here=False)
        other.goto("/login")
        assert other.page.evaluate("localStorage.getItem('ib.locale')") is None
        other.page.locator("[data-testid=login-submit]", has_text="登录").wait_for()
        other.login("admin")
        # then the overview is in English: its title, menu and zone note, with no Chinese
        # word of the console's own (the data, such as her name, is as it was entered)
        other.page.locator(".ib-shell__title", has_text="Overview").wait_for()
        menu = other.page.locator(".ib-shell__aside").inner_text()
        assert "Cloud exams" in menu
        assert "Notices" in menu
        assert not CHINESE.search(menu), menu
        for chrome in (
            ".ib-shell__title",
            "[data-testid=zone-note]",
            "[data-testid=locale-switch]",
        ):
            text = other.page.locator(chrome).inner_text()
            assert text, chrome
            assert not CHINESE.search(text), (chrome, text)
        assert other.page.evaluate("document.documentElement.lang") == "en"
        # and this browser remembers it: a reload paints English before asking the server
        assert other.page.evaluate("localStorage.getItem('ib.locale')") == "en"
        # when she then picks Chinese in this browser (kept with her as before), and later
        # English again on the laptop
        choose(other, "简体中文")
        assert other.page.evaluate(ASK) == "ZH_CN"
        choose(laptop, "English")
        # then this browser stays in Chinese: the choice made here wins over the stored one
        other.goto("/overview")
        assert other.page.evaluate(ASK) == "EN"
        other.page.locator(".ib-shell__title", has_text="概览").wait_for()
        assert other.page.evaluate("document.documentElement.lang") == "zh-CN"
    finally:
        # leave her as the demo made her (her notice e-mails follow it)
        choose(laptop, "简体中文")
