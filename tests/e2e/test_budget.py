"""A person clicking through the console is never refused by the query budget as deployed
(QUERY_BUDGET_SCALE 1): every page twice, through the menu, one after another."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .conftest import Console, Server
from .test_console import ADMIN_PAGES, OPERATOR_PAGES

pytestmark = pytest.mark.e2e


class Answers:
    """Every GraphQL answer the page received: what it cost and whether it was refused."""

    def __init__(self, c: Console) -> None:
        self.costs: list[int] = []
        self.refused: list[str] = []
        c.page.on("response", self._seen)

    def _seen(self, response: Any) -> None:
        if not response.url.endswith("/graphql"):
            return
        body = json.loads(response.text())
        cost = body.get("extensions", {}).get("cost", {}).get("requestedQueryCost")
        if cost is not None:
            self.costs.append(cost)
        codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
        if "THROTTLED" in codes:
            self.refused.append(response.request.post_data or "")


def click_through(c: Console, pages: list[str]) -> int:
    visited = 0
    for _ in range(2):
        for path in pages:
            c.page.locator(f"[data-testid='nav-{path}']").click()
            c.page.wait_for_url(f"**{path}")
            c.page.locator("[data-testid^=page-]").first.wait_for()
            c.page.wait_for_load_state("networkidle")
            visited += 1
    return visited


def test_clicking_through_every_page_twice_is_never_refused(
    people_server: Server, console: Any
) -> None:
    # given an administrator and an operator on a server with the deployed budget
    admin: Console = console(server=people_server)
    admin.login("admin")
    operator: Console = console(server=people_server)
    operator.login("operator")
    admin_answers, operator_answers = Answers(admin), Answers(operator)
    # when each clicks through all of their pages twice
    visited = click_through(admin, ADMIN_PAGES) + click_through(operator, OPERATOR_PAGES)
    # then every page was shown, costing real points, and no answer was THROTTLED
    assert visited == 2 * (len(ADMIN_PAGES) + len(OPERATOR_PAGES))
    assert sum(admin_answers.costs) > 1_000
    assert admin_answers.refused == []
    assert operator_answers.refused == []
