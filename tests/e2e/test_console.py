"""The console, driven as people use it: an account admin and a platform operator.

Each test opens its own browser contexts on the shared server; the demo account starts
with one 10,000-exam lot of which 120 are used. Every page visited is screenshotted under
test-results/, and any browser console error fails the test (see conftest.console).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo

import pytest

from .conftest import RESULTS, Console, Server

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


def order_state(server: Server, link: str) -> str:
    order_id = link.rsplit("/", 1)[-1]
    data = server.operator(
        "query($id: ID!) { node(id: $id) { ... on Order { state } } }",
        {"id": unquote(order_id)},
    )
    return str(data["node"]["state"])


def shot_open_dialog(c: Console, name: str) -> None:
    """Console.shot presses Escape, which would close (and so answer) the dialog."""
    RESULTS.mkdir(exist_ok=True)
    c.page.screenshot(path=str(RESULTS / f"{name}.png"))


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
    # Then the pay step says whom to pay and what to write on the transfer
    number = admin.page.inner_text("[data-testid=pay-order-number]").strip()
    assert re.fullmatch(r"IB\d{8}\d{4}", number), number
    transfer = admin.page.locator("[data-testid=transfer-lines]")
    transfer.wait_for()
    told = transfer.inner_text()
    for expected in ("示例云影像科技有限公司", "示例银行上海张江支行", "6222 0200 1234 5678 901"):
        assert expected in told
    assert told.count(number) == 1  # the reference to write on the transfer
    assert (
        f"订单号 {number}" in awaiting.inner_text()
    )  # "write the order number … as the reference"
    admin.shot("admin-buy-awaiting-payment")
    order_link = admin.page.locator("a[href^='/orders/']").first.get_attribute("href")
    assert order_link

    # And an operator finds the order by its number in the list of every account's orders
    operator: Console = console()
    operator.login("operator")
    operator.goto("/orders")
    row = operator.page.locator("tr", has_text=number)
    assert "Demo Hospital" in row.inner_text()
    row.locator(f"[data-testid=order-pay-{number}]").click()
    operator.page.fill("[data-testid=pay-reference] input", "BANK-E2E-0001")
    operator.page.click("[data-testid=pay-confirm]")
    # Then confirming asks first, naming the amount, the order number and the account
    ask = operator.page.locator("[data-testid=ask-first]")
    ask.wait_for()
    for expected in ("¥15,000.00", number, "Demo Hospital", "BANK-E2E-0001"):
        assert expected in ask.inner_text()
    shot_open_dialog(operator, "operator-confirm-transfer-asks-first")
    # and backing out changes nothing
    operator.page.click(".ib-ask-first .t-dialog__cancel")
    ask.wait_for(state="detached")
    assert order_state(server, order_link) == "PENDING_PAYMENT"
    # When the operator confirms, the order is paid and fulfilled
    operator.page.click("[data-testid=pay-confirm]")
    operator.page.click(".ib-ask-first .t-dialog__confirm")
    row.locator("[data-state=FULFILLED]").wait_for()
    assert order_state(server, order_link) == "FULFILLED"
    operator.page.locator(".t-dialog__ctx").first.wait_for(state="hidden")
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

    # Given the form proposes no product: recording without choosing one is refused in the form
    operator.goto("/ops/offline-orders")
    operator.page.fill("[data-testid=offline-contract] input", "HT-AI-2026-007")
    operator.page.click("[data-testid=offline-submit]")
    operator.page.get_by_text("请为每项明细选择产品").wait_for()
    assert operator.page.locator("[data-testid=ask-first]").count() == 0

    # When they choose an offline glaucoma AI licence against a contract
    operator.page.click("[data-testid=offline-product-0]")
    operator.page.locator(".t-select-option", has_text="青光眼 AI 授权").first.click()
    operator.page.locator("[data-testid=quote-total]", has_text="¥200,000.00").wait_for()
    operator.page.click("[data-testid=offline-submit]")
    # Then recording asks first, naming amount, account and contract
    ask = operator.page.locator("[data-testid=ask-first]")
    ask.wait_for()
    for expected in ("¥200,000.00", "Demo Hospital", "HT-AI-2026-007", "青光眼 AI 授权"):
        assert expected in ask.inner_text()
    shot_open_dialog(operator, "operator-offline-asks-first")
    operator.page.click(".ib-ask-first .t-dialog__confirm")
    recorded = operator.page.locator("[data-testid=offline-recorded]")
    recorded.wait_for()
    assert re.search(r"IB\d{12}", recorded.inner_text())
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
    "/webhooks",
    "/users",
]
OPERATOR_PAGES = [
    "/ops/accounts",
    "/ops/offline-orders",
    "/ops/payee",
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


# Elements reaching past the right edge of the screen (none on a page that fits).
WIDEST = """[...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .map((e) => e.className + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 8)"""
PLACE = """mutation($acc: ID!) { placeOrder(accountId: $acc, acceptTerms: true,
  lines: [{product: "EXAM_VOLUME", quantity: 10000}]) {
  order { id number } userErrors { code } } }"""
CANCEL = "mutation($o: ID!) { cancelOrder(orderId: $o) { userErrors { code } } }"


def test_operator_keeps_the_payee_and_a_phone_in_english_shows_it_on_the_pay_step(
    server: Server, console: Any
) -> None:
    # Given an operator on the payee page, in English on a phone
    operator: Console = console(viewport=(390, 844), language="en")
    operator.login("operator")
    operator.goto("/ops/payee")
    account_input = operator.page.locator("[data-testid=payee-account] input")
    account_input.wait_for()
    # When they type a short account number, the server's refusal shows by the field
    account_input.fill("6222 12")
    operator.page.click("[data-testid=payee-save]")
    operator.page.get_by_text("The account number must be 8-32 digits").wait_for()
    # When they type it in groups with hyphens, it is saved as digits and shown in fours
    account_input.fill("6222-0200-1234-5678-901")
    operator.page.click("[data-testid=payee-save]")
    operator.page.get_by_text("Payee account saved").wait_for()
    payee = server.operator("{ payee { accountNumber } }")["payee"]
    assert payee == {"accountNumber": "6222020012345678901"}
    operator.shot("phone-en-operator-payee")

    # Given an order awaiting payment
    placed = server.operator(PLACE, {"acc": server.credentials["accountId"]})["placeOrder"]
    number = placed["order"]["number"]
    # Then the admin's pay step, in English on a phone, names the payee and the reference
    admin: Console = console(viewport=(390, 844), language="en")
    admin.login("admin")
    admin.goto(f"/orders/{placed['order']['id']}")
    lines = admin.page.locator("[data-testid=transfer-lines]")
    lines.wait_for()
    told = lines.inner_text()
    for expected in ("Payee", "Bank", "Account number", "6222 0200 1234 5678 901", number):
        assert expected in told
    assert f"Write the order number {number}" in admin.page.inner_text("[data-testid=pay-step]")
    admin.shot("phone-en-admin-pay-step")
    wide = admin.page.evaluate(WIDEST)
    assert wide == [], wide
    server.operator(CANCEL, {"o": placed["order"]["id"]})
