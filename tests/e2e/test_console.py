"""The console, driven as people use it: an account admin and a platform operator.

Each test opens its own browser contexts on the shared server; the demo account starts
with one 10,000-exam lot of which 120 are used. Every page visited is screenshotted under
test-results/, and any browser console error fails the test (see conftest.console).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import Console, Server

pytestmark = pytest.mark.e2e

SHANGHAI = ZoneInfo("Asia/Shanghai")

ACCOUNT_STATE = """query($id: ID!) { account(id: $id) {
  status suspendsAt examFigures { available used arrears bought }
  institutions(first: 5) { edges { node { id } } }
  services(first: 20) { edges { node { id state kind } } } } }"""


def shanghai_minute(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def account(server: Server) -> dict[str, Any]:
    data = server.operator(ACCOUNT_STATE, {"id": server.credentials["accountId"]})
    result: dict[str, Any] = data["account"]
    return result


def drive_into_arrears(server: Server) -> None:
    """Upload one exam more than is available, in signed batches of up to 1,000."""
    available = account(server)["examFigures"]["available"]
    uids = [f"1.2.826.0.1.3680043.9.7.{n}" for n in range(available + 1)]
    for start in range(0, len(uids), 1000):
        result = server.upload(uids[start : start + 1000])
        assert result["refused"] == 0


def figure(page: Any, name: str) -> str:
    return str(page.inner_text(f"[data-testid=figure-{name}] .ib-figure__value")).strip()


def test_admin_sees_arrears_and_buys_a_lot_that_settles_them(server: Server, console: Any) -> None:
    # Given an account that has just run out: arrears start, suspension 24 hours later
    drive_into_arrears(server)
    state = account(server)
    assert state["status"] == "IN_ARREARS"
    admin: Console = console()
    admin.login("admin")

    # Then the overview says so, with the suspension time in Asia/Shanghai
    banner = admin.page.locator("[data-testid=status-banner][data-status=IN_ARREARS]")
    banner.wait_for()
    assert shanghai_minute(state["suspendsAt"]) in banner.inner_text()
    assert figure(admin.page, "arrears") == "1"
    assert figure(admin.page, "bought") == "10,000"
    admin.shot("admin-overview-in-arrears")

    # When a quantity breaks R-EXAM-1, the server's refusal shows next to the field
    admin.goto("/buy")
    quantity = admin.page.locator("[data-testid=buy-quantity] input")
    quantity.fill("15000")
    quantity.press("Tab")
    admin.page.get_by_text("例的整数倍购买").wait_for()
    assert admin.page.locator("[data-testid=buy-next]").is_disabled()
    admin.shot("admin-buy-refused-quantity")

    # When the admin buys a 10,000-exam lot: quote, accept the terms, buy now
    quantity.fill("10000")
    quantity.press("Tab")
    admin.page.locator("[data-testid=quote-total]", has_text="¥15,000.00").wait_for()
    admin.page.click("[data-testid=buy-next]")
    assert admin.page.locator("[data-testid=buy-now]").is_disabled()
    admin.page.click("[data-testid=accept-terms]")
    admin.page.click("[data-testid=buy-now]")
    awaiting = admin.page.locator("[data-testid=awaiting-payment]")
    awaiting.wait_for()
    assert "¥15,000.00" in admin.page.inner_text("[data-testid=pay-amount]")
    admin.shot("admin-buy-awaiting-payment")
    order_link = admin.page.locator("a[href^='/orders/']").first.get_attribute("href")
    assert order_link

    # And an operator confirms the bank transfer on the order
    operator: Console = console()
    operator.login("operator")
    operator.goto(order_link)
    operator.page.fill("[data-testid=pay-reference] input", "BANK-E2E-0001")
    operator.page.click("[data-testid=pay-confirm]")
    operator.page.locator("[data-state=FULFILLED]").first.wait_for()
    operator.shot("operator-order-paid")

    # Then the admin's flow finishes by itself and the figures change
    admin.page.locator("[data-testid=buy-done]").wait_for(timeout=20_000)
    admin.shot("admin-buy-done")
    admin.goto("/overview")
    admin.page.locator("[data-testid=status-banner][data-status=ACTIVE]").wait_for()
    assert figure(admin.page, "bought") == "20,000"
    assert figure(admin.page, "arrears") == "0"
    assert figure(admin.page, "available") == "9,999"
    admin.shot("admin-overview-after-purchase")


def test_admin_accepts_a_delivered_service(server: Server, console: Any) -> None:
    # Given a paid delivery service that the operator has started
    state = account(server)
    institution = state["institutions"]["edges"][0]["node"]["id"]
    placed = server.operator(
        """mutation($a: ID!, $i: ID!) { placeOrder(accountId: $a, acceptTerms: true, lines: [
             {product: "SERVICE_DELIVERY", quantity: 1, institutionId: $i, variant: REMOTE}])
           { order { id totalFen } userErrors { message } } }""",
        {"a": server.credentials["accountId"], "i": institution},
    )["placeOrder"]
    assert placed["userErrors"] == []
    paid = server.operator(
        """mutation($o: ID!, $f: Fen!) { confirmTransfer(orderId: $o, reference: "E2E-SVC",
           amountFen: $f) { userErrors { message } } }""",
        {"o": placed["order"]["id"], "f": placed["order"]["totalFen"]},
    )["confirmTransfer"]
    assert paid["userErrors"] == []
    service = next(
        s["node"]
        for s in account(server)["services"]["edges"]
        if s["node"]["kind"] == "DELIVERY" and s["node"]["state"] == "PURCHASED"
    )
    started = server.operator(
        "mutation($s: ID!) { startService(serviceId: $s) { userErrors { message } } }",
        {"s": service["id"]},
    )["startService"]
    assert started["userErrors"] == []

    # When the account's admin accepts it on the institutions page
    admin: Console = console()
    admin.login("admin")
    admin.goto("/institutions")
    admin.page.locator("[data-testid=licence-grid]").wait_for()
    admin.page.click(f"[data-testid='accept-{service['id']}']")
    admin.page.locator(".t-popconfirm__confirm").click()

    # Then it shows as accepted, and the server agrees
    state_tag = admin.page.locator(f"[data-testid='service-state-{service['id']}']")
    state_tag.filter(has_text="已验收").wait_for()
    admin.shot("admin-institutions-service-accepted")
    states = {s["node"]["id"]: s["node"]["state"] for s in account(server)["services"]["edges"]}
    assert states[service["id"]] == "ACCEPTED"


def test_switching_to_english_translates_the_console_and_server_messages(
    server: Server, console: Any
) -> None:
    admin: Console = console()
    admin.login("admin")
    assert admin.page.inner_text(".ib-shell__title") == "账户概览"

    admin.page.click("[data-testid=locale-switch]")
    admin.page.locator(".t-dropdown__item", has_text="English").click()
    admin.page.locator(".ib-shell__title", has_text="Overview").wait_for()
    assert "Available (exams)" in admin.page.inner_text("[data-testid=figure-available]")
    admin.shot("en-overview")

    # Refusals come in the chosen language too (Accept-Language: en)
    admin.goto("/buy")
    quantity = admin.page.locator("[data-testid=buy-quantity] input")
    quantity.fill("25000")
    quantity.press("Tab")
    admin.page.get_by_text("sold in whole 10,000s").wait_for()
    admin.shot("en-buy-refused-quantity")

    # And the choice survives a reload
    admin.goto("/exams/lots")
    admin.page.locator(".ib-shell__title", has_text="Cloud exams").wait_for()
    admin.shot("en-exam-lots")


def test_operator_records_an_offline_ai_licence(server: Server, console: Any) -> None:
    operator: Console = console()
    operator.login("operator")

    # Given the operator picks the demo account in the header
    operator.page.click("[data-testid=account-switcher]")
    operator.page.locator(".t-select-option", has_text="Demo Hospital").first.click()
    operator.page.locator("[data-testid=overview-account]", has_text="Demo Hospital").wait_for()

    # When they record an offline glaucoma AI licence against a contract
    operator.goto("/ops/offline-orders")
    operator.page.locator("[data-testid=quote-total]", has_text="¥200,000.00").wait_for()
    operator.page.fill("[data-testid=offline-contract] input", "HT-AI-2026-007")
    operator.page.click("[data-testid=offline-submit]")
    operator.page.locator("[data-testid=offline-recorded]").wait_for()
    operator.shot("operator-offline-ai-licence")

    # Then the licence is on the AI reading page: perpetual, for the institution
    operator.goto("/ai")
    licences = operator.page.locator(".ib-card", has_text="AI 授权")
    licences.locator("td", has_text="青光眼 AI").first.wait_for()
    assert "永久" in licences.inner_text()
    operator.shot("operator-ai-reading")


def test_graphiql_loads_offline_and_runs_a_query_with_the_session(
    server: Server, console: Any
) -> None:
    operator: Console = console()
    operator.login("operator")
    operator.goto("/graphql")
    operator.page.locator(".graphiql-container").wait_for()
    operator.page.click(".graphiql-execute-button")
    result = operator.page.locator(".result-window")
    result.filter(has_text="OPERATOR").wait_for()
    operator.shot("graphiql")


ADMIN_PAGES = [
    "/overview",
    "/exams/lots",
    "/exams/list",
    "/exams/lookup",
    "/ai",
    "/institutions",
    "/buy",
    "/orders",
    "/notices",
    "/audit",
    "/users",
]
OPERATOR_PAGES = [
    "/ops/accounts",
    "/ops/offline-orders",
    "/ops/prices",
    "/ops/adjustments",
    "/ops/tokens",
]


def test_every_page_renders_for_admin_and_operator(server: Server, console: Any) -> None:
    admin: Console = console()
    admin.login("admin")
    for path in ADMIN_PAGES:
        admin.goto(path)
        admin.page.locator("[data-testid^=page-]").first.wait_for()
        admin.shot("admin" + path.replace("/", "-"))
    # The operator sees the operations menu; the admin does not
    assert admin.page.locator("[data-testid='nav-/ops/accounts']").count() == 0

    operator: Console = console()
    operator.login("operator")
    for path in OPERATOR_PAGES:
        operator.goto(path)
        operator.page.locator("[data-testid^=page-]").first.wait_for()
        operator.shot("operator" + path.replace("/", "-"))
    operator.goto("/ops/accounts")
    operator.page.locator("td", has_text="Demo Hospital").first.wait_for()
    operator.page.locator("td", has_text="HZ-2026-0001").first.wait_for()


def test_overview_sentences_match_the_figures(server: Server, console: Any) -> None:
    """R-GEN-9 / R-ARR-2: the run-out hint, the projected forfeitures and the banner's
    next expiry name the numbers the API gives for the same account."""
    admin: Console = console()
    admin.login("admin")
    admin.goto("/")
    available = admin.page.locator("[data-testid=figure-available]")
    available.wait_for()
    api = admin.page.evaluate(
        """async () => {
          const me = await (await fetch('/graphql', {method: 'POST',
            headers: {'content-type': 'application/json'},
            body: JSON.stringify({query: '{ viewer { account { id } } }'})})).json();
          const q = `query($id: ID!) { account(id: $id) { examFigures { available }
            runOut { reason projectedForfeitTotal lots { projectedForfeit } }
            lots(first: 60, includeExpired: false) { edges { node { remaining expiresAt } } } } }`;
          const r = await fetch('/graphql', {method: 'POST',
            headers: {'content-type': 'application/json'},
            body: JSON.stringify({query: q, variables: {id: me.data.viewer.account.id}})});
          return (await r.json()).data.account;
        }"""
    )
    hint = available.inner_text()
    assert f"{api['examFigures']['available']:,}" in hint
    run_out = api["runOut"]
    forfeits = [lot["projectedForfeit"] for lot in run_out["lots"] if lot["projectedForfeit"]]
    if run_out["reason"] == "LAST_LOT_EXPIRES":
        assert "天后" not in hint
        assert f"{run_out['projectedForfeitTotal']:,}" in hint
    if forfeits:
        lines = admin.page.locator("[data-testid=forecast-forfeits] li").all_inner_texts()
        assert [int(line.split(" ")[0].replace(",", "")) for line in lines] == forfeits
    open_lots = [e["node"] for e in api["lots"]["edges"] if e["node"]["remaining"] > 0]
    if open_lots:
        soonest = min(open_lots, key=lambda lot: lot["expiresAt"])
        banner = admin.page.locator("[data-testid=status-banner]").first.inner_text()
        assert f"剩余 {soonest['remaining']:,} 例" in banner
    admin.shot("admin-overview-forecast")


INVITE = """mutation($a: ID!, $e: String!) { inviteUser(accountId: $a, email: $e, name: "E2E Nurse",
  role: ACCOUNT_VIEWER) { invitationToken userErrors { message } } }"""
LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  viewer { role } userErrors { code } } }"""


def anonymous(server: Server, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = server.http.post("/graphql", json={"query": query, "variables": variables})
    data: dict[str, Any] = response.json()["data"]
    server.http.cookies.clear()
    return data


def test_admin_resets_a_password_disables_a_member_and_revokes_an_invitation(
    server: Server, console: Any
) -> None:
    # Given a viewer of the demo account (invited by the operator, accepted)
    email, new_password = "e2e.nurse@demo.local", "a new password for e2e"
    invited = server.operator(INVITE, {"a": server.credentials["accountId"], "e": email})
    accept = """mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) {
      userErrors { code } } }"""
    token = invited["inviteUser"]["invitationToken"]
    assert anonymous(server, accept, {"t": token, "p": "first password 1"}) == {
        "acceptInvitation": {"userErrors": []}
    }

    # When the admin issues a password reset for her on the members page
    admin: Console = console()
    admin.login("admin")
    admin.goto("/users")
    row = admin.page.locator("tr", has_text=email)
    row.locator("[data-testid=user-reset]").click()
    secret = admin.page.locator("[data-testid=secret-value]", has_text="/reset-password")
    link = secret.inner_text().strip()
    assert "/reset-password?token=ibr_" in link
    admin.shot("admin-users-reset-link")

    # Then the viewer sets a new password with the link and is signed in
    viewer: Console = console()
    viewer.goto(link.removeprefix(server.base))
    viewer.page.fill("[data-testid=new-password] input", new_password)
    viewer.page.fill("[data-testid=repeat-password] input", new_password)
    viewer.page.click("[data-testid=set-password-submit]")
    viewer.page.wait_for_url("**/overview")
    viewer.close()

    # When the admin disables her
    admin.goto("/users")
    row.locator("[data-testid=user-disable]").click()
    admin.page.locator(".t-popconfirm__confirm").click()
    row.filter(has_text="已停用").wait_for()
    admin.shot("admin-users-disabled")
    # Then her new password no longer signs her in
    refused = anonymous(server, LOGIN, {"e": email, "p": new_password})
    assert refused["login"] == {"viewer": None, "userErrors": [{"code": "LOGIN_FAILED"}]}

    # When the operator invites someone else, the admin sees it pending and revokes it
    pending_email = "e2e.pending@demo.local"
    server.operator(INVITE, {"a": server.credentials["accountId"], "e": pending_email})
    admin.goto("/users")
    pending = admin.page.locator("[data-testid=pending-invitations] tr", has_text=pending_email)
    pending.locator("[data-testid=invitation-revoke]").click()
    admin.page.locator(".t-popconfirm__confirm").click()
    pending.wait_for(state="detached")
    admin.shot("admin-users-invitation-revoked")
