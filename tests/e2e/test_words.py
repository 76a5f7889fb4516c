"""What the console says: a voided exam, an unlimited AI licence with its reads, what a
read-only member is offered, an empty login, and the operator-wide pages.

Runs on the shared demo server (tests/e2e/conftest.py); each test sets up what it needs
through the API and leaves the demo account able to upload.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from .conftest import Console, Server

pytestmark = pytest.mark.e2e

STATUS = "query($id: ID!) { account(id: $id) { status } }"
CREDIT = """mutation($a: ID!) { creditExamLot(accountId: $a, mode: VOLUME, quantity: 10000,
  contractRef: "E2E-WORDS") { userErrors { code } } }"""
EXAM = """query($i: ID!, $u: String!) { exam(institutionId: $i, studyInstanceUid: $u) { id } }"""
VOID = """mutation($e: ID!, $r: String!) { voidExam(examId: $e, reason: $r) {
  userErrors { code } } }"""
OFFLINE = """mutation($a: ID!, $lines: [OrderLineInput!]!) { recordOfflineOrder(accountId: $a,
  lines: $lines, contractRef: "HT-E2E-PNEUMONIA") { userErrors { code } } }"""
READS = """mutation($i: ID!, $items: [AiReadInput!]!) { recordAiReads(institutionId: $i,
  items: $items) { accepted refused } }"""
FIGURES = """query($id: ID!) { account(id: $id) { aiFigures {
  product bought licensedInstitutions licenceReads } } }"""
INVITE = """mutation($a: ID!, $e: String!) { inviteUser(accountId: $a, email: $e,
  name: "E2E Reader", role: ACCOUNT_VIEWER) { invitationToken userErrors { code } } }"""
ACCEPT = """mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) {
  userErrors { code } } }"""
LOGINS = """query { auditLog(first: 100, operation: "login") { totalCount } }"""
NEW_ACCOUNT = """mutation($n: String!) { createAccount(name: $n) {
  account { id } userErrors { code } } }"""
NEW_SITE = """mutation($a: ID!) { createInstitution(accountId: $a, name: "E2E Arrears Site") {
  institution { id } token userErrors { code } } }"""


def signed(server: Server, institution: str, token: str, query: str, variables: Any) -> Any:
    """A gateway's signed GraphQL call; fails on any error."""
    from imaging_billing.security import SignedRequest, sign_with_token

    body = json.dumps({"query": query, "variables": variables}).encode()
    ts = str(int(time.time() * 1000))
    response = server.http.post(
        "/graphql",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Institution-Id": institution,
            "X-Timestamp": ts,
            "X-Signature": sign_with_token(token, SignedRequest.of(institution, ts, body)),
        },
    )
    payload = response.json()
    assert response.status_code == 200, payload
    assert not payload.get("errors"), payload
    return payload["data"]


def uploads_allowed(server: Server) -> None:
    """Earlier tests may have left the demo account suspended: a recharge settles it."""
    account = server.credentials["accountId"]
    if server.operator(STATUS, {"id": account})["account"]["status"] == "SUSPENDED":
        assert server.operator(CREDIT, {"a": account})["creditExamLot"]["userErrors"] == []


def test_a_voided_exam_says_it_was_voided_and_an_invalid_uid_is_named(
    server: Server, console: Any
) -> None:
    # Given an uploaded exam that an operator voided, with a reason
    uploads_allowed(server)
    uid, reason = "1.2.826.0.1.3680043.9.77.1", "重复上传 duplicate upload"
    assert server.upload([uid])["refused"] == 0
    institution = server.credentials["institutionId"]
    exam = server.operator(EXAM, {"i": institution, "u": uid})["exam"]["id"]
    assert server.operator(VOID, {"e": exam, "r": reason})["voidExam"]["userErrors"] == []

    # When the admin looks it up
    admin: Console = console()
    admin.login("admin")
    admin.goto("/exams/lookup")
    admin.page.fill("[data-testid=exam-uid] input", uid)
    admin.page.click("[data-testid=exam-lookup]")

    # Then it says it was voided, why and when (in Beijing time), not that storage ended
    viewable = admin.page.locator("[data-testid=exam-viewable]")
    viewable.filter(has_text="不可调阅（已作废）").wait_for()
    assert "存储期" not in viewable.inner_text()
    line = admin.page.locator("[data-testid=exam-void-reason]").inner_text()
    assert reason in line
    assert "作废于" in line
    assert "北京时间" in line
    admin.shot("admin-exam-voided")

    # When a UID with letters is looked up, it is called invalid and never sent
    sent: list[str] = []
    admin.page.on(
        "request", lambda r: sent.append(r.post_data or "") if r.url.endswith("/graphql") else None
    )
    admin.page.fill("[data-testid=exam-uid] input", "1.2.abc")
    admin.page.click("[data-testid=exam-lookup]")
    admin.page.locator(".t-form__item", has_text="UID 无效").wait_for()
    assert admin.page.locator("[data-testid=exam-result]").count() == 0
    assert not [body for body in sent if "ExamLookup" in body]
    admin.shot("admin-exam-invalid-uid")


def test_a_licensed_ai_product_is_unlimited_and_counts_its_reads(
    server: Server, console: Any
) -> None:
    # Given a perpetual pneumonia licence recorded offline, and 40 reads under it
    account, institution = server.credentials["accountId"], server.credentials["institutionId"]
    lines = [{"product": "AI_LICENCE_PNEUMONIA", "quantity": 1, "institutionId": institution}]
    assert server.operator(OFFLINE, {"a": account, "lines": lines})["recordOfflineOrder"] == {
        "userErrors": []
    }
    items = [
        {"product": "PNEUMONIA", "studyInstanceUid": f"1.2.9.{n}", "idempotencyKey": f"e2e-p{n}"}
        for n in range(40)
    ]
    token = server.credentials["institutionToken"]
    done = signed(server, institution, token, READS, {"i": institution, "items": items})
    assert done["recordAiReads"] == {"accepted": 40, "refused": 0}
    figures = {
        f["product"]: f for f in server.operator(FIGURES, {"id": account})["account"]["aiFigures"]
    }
    reads = figures["PNEUMONIA"]["licenceReads"]
    assert (figures["PNEUMONIA"]["bought"], reads) == (0, 40)

    # When the admin opens the overview, then the AI card says unlimited, with the reads
    admin: Console = console()
    admin.login("admin")
    card = admin.page.locator("[data-testid=ai-card-PNEUMONIA]")
    card.filter(has_text="不限次数").wait_for()
    assert "0 / 0" not in card.inner_text()
    assert card.locator("[data-testid=ai-licence-reads]").inner_text() == f"授权调阅 {reads} 次"
    admin.shot("admin-overview-ai-licence")

    # And the AI page too, in English as well
    admin.goto("/ai")
    figure = admin.page.locator("[data-testid=ai-remaining-PNEUMONIA]")
    assert "不限次数" in figure.inner_text()
    assert f"授权调阅 {reads} 次" in figure.inner_text()
    assert "剩余次数" not in figure.inner_text()
    admin.shot("admin-ai-licence")
    english: Console = console(language="en")
    english.login("admin")
    english.goto("/ai")
    text = english.page.locator("[data-testid=ai-remaining-PNEUMONIA]").inner_text()
    assert "Unlimited" in text
    assert f"{reads} licence reads" in text
    english.shot("admin-ai-licence-en")


def test_a_read_only_member_is_offered_nothing_to_buy(server: Server, console: Any) -> None:
    # Given a read-only member of the demo account
    email, password = "e2e.reader@demo.local", "a reader's password 1"
    invited = server.operator(INVITE, {"a": server.credentials["accountId"], "e": email})
    token = invited["inviteUser"]["invitationToken"]
    response = server.http.post(
        "/graphql", json={"query": ACCEPT, "variables": {"t": token, "p": password}}
    )
    server.http.cookies.clear()
    assert response.json()["data"]["acceptInvitation"]["userErrors"] == []

    # When she signs in and walks the account's pages
    viewer: Console = console()
    viewer.goto("/login")
    viewer.page.fill("[data-testid=login-email] input", email)
    viewer.page.fill("[data-testid=login-password] input", password)
    viewer.page.click("[data-testid=login-submit]")
    viewer.page.wait_for_url("**/overview")
    for path in ["/overview", "/ai", "/institutions", "/exams/lots"]:
        viewer.goto(path)
        viewer.page.locator("[data-testid^=page-]").first.wait_for()
        # Then no menu entry, card, banner or row action leads to buying
        assert viewer.page.locator("[data-testid='nav-/buy']").count() == 0, path
        assert viewer.page.locator("a[href*='/buy']").count() == 0, path
        for words in ("充值", "购买授权", "立即购买"):
            assert viewer.page.get_by_role("button", name=words).count() == 0, (path, words)
    viewer.shot("viewer-institutions")


def test_an_empty_login_is_refused_in_the_form_and_not_sent(server: Server, console: Any) -> None:
    # Given the number of login attempts on record
    before = server.operator(LOGINS)["auditLog"]["totalCount"]
    person: Console = console()
    person.goto("/login")
    sent: list[str] = []
    person.page.on(
        "request", lambda r: sent.append(r.post_data or "") if r.url.endswith("/graphql") else None
    )
    # When the form is submitted empty, then with an email only
    person.page.click("[data-testid=login-submit]")
    person.page.locator(".t-form__item", has_text="请输入邮箱").wait_for()
    person.page.locator(".t-form__item", has_text="请输入密码").wait_for()
    person.page.fill("[data-testid=login-email] input", server.credentials["adminEmail"])
    person.page.click("[data-testid=login-submit]")
    person.page.locator(".t-form__item", has_text="请输入密码").wait_for()
    person.shot("login-empty")
    # Then nothing was sent, and no attempt was counted
    assert not [body for body in sent if "login" in body]
    assert server.operator(LOGINS)["auditLog"]["totalCount"] == before
    assert "/login" in person.page.url


def test_operator_wide_pages_show_no_arrears_banner_and_the_audit_reads_as_words(
    server: Server, console: Any
) -> None:
    # Given an account in arrears (one upload with nothing bought)
    created = server.operator(NEW_ACCOUNT, {"n": "E2E Arrears Hospital"})["createAccount"]
    account = created["account"]["id"]
    site = server.operator(NEW_SITE, {"a": account})["createInstitution"]
    institution, token = site["institution"]["id"], site["token"]
    upload = """mutation($i: ID!) { recordExamUpload(institutionId: $i,
      studyInstanceUid: "1.2.826.0.1.3680043.9.88.1") { status } }"""
    assert signed(server, institution, token, upload, {"i": institution})
    assert server.operator(STATUS, {"id": account})["account"]["status"] == "IN_ARREARS"

    # When the operator chooses it
    operator: Console = console()
    operator.login("operator")
    operator.page.click("[data-testid=account-switcher]")
    operator.page.keyboard.type("E2E Arrears")
    operator.page.locator(".t-select-option", has_text="E2E Arrears Hospital").first.click()
    operator.page.locator("[data-testid=overview-account]", has_text="E2E Arrears").wait_for()

    # Then the account's pages carry its arrears banner, the operator-wide pages do not
    operator.goto("/exams/lots")
    operator.page.locator("[data-testid=status-banner][data-status=IN_ARREARS]").wait_for()
    for path in ["/ops/accounts", "/ops/prices", "/ops/tokens"]:
        operator.goto(path)
        operator.page.locator("[data-testid^=page-]").first.wait_for()
        assert operator.page.locator("[data-testid=status-banner]").count() == 0, path
    operator.shot("operator-ops-no-banner")

    # And the audit log names operations, results and actors in words
    operator.goto("/audit")
    operation = operator.page.locator("[data-testid=audit-operation]", has_text="创建机构")
    operation.first.wait_for()
    assert (
        operator.page.locator("[data-testid=audit-operation]", has_text="createInstitution").count()
        == 0
    )
    assert operator.page.locator("[data-testid=audit-result]", has_text="成功").count() > 0
    principals = operator.page.locator("[data-testid=audit-principal]").all_inner_texts()
    assert principals
    assert not [p for p in principals if ":" in p]
    operator.shot("operator-audit-words")

    # And GraphiQL leads back to the console
    operator.goto("/graphql")
    operator.page.locator("[data-testid=graphiql-back]").click()
    operator.page.wait_for_url("**/overview")


def test_a_network_failure_is_an_error_state_with_one_toast(server: Server, console: Any) -> None:
    # Given an admin on the overview
    admin: Console = console()
    admin.login("admin")
    # When the network goes away and she opens her orders (every request fails at once)
    admin.page.route("**/graphql", lambda route: route.abort())
    admin.page.click("[data-testid='nav-/orders']")
    admin.page.wait_for_url("**/orders")
    # Then the list says it could not load, not that there are no orders
    table = admin.page.locator("[data-testid=page-orders] .t-table__empty")
    table.filter(has_text="无法加载").wait_for()
    assert "暂无订单" not in table.inner_text()
    # and one toast tells her, not one per failed request
    toast = admin.page.locator(".t-message", has_text="无法连接服务器")
    toast.first.wait_for()
    admin.page.wait_for_timeout(500)  # let any later failure stack, were it to
    assert toast.count() == 1
    admin.shot("admin-orders-offline")
    # (the browser logs each aborted request; those are the failure itself)
    assert all("ERR_FAILED" in e for e in admin.errors), admin.errors
    admin.errors.clear()
