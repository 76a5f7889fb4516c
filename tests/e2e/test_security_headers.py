"""The built console and GraphiQL work under their Content-Security-Policy: a page the
policy broke would log a violation as a console error (see conftest.console)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Console, Server

pytestmark = pytest.mark.e2e


def test_console_and_graphiql_run_under_their_policy(server: Server, console: Any) -> None:
    # given a person's browser
    admin: Console = console()
    violations: list[str] = []
    admin.page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    # when the admin logs in and opens the overview, every page is served with the policy
    response = admin.page.goto(server.base + "/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    admin.login("admin")
    admin.page.locator("[data-testid=figure-bought]").wait_for()
    # and GraphiQL loads and shows its editor
    admin.goto("/graphql")
    admin.page.locator(".graphiql-container").wait_for()
    # then nothing was refused by the policy
    assert violations == []
