"""The console's flows over long lists: the ledger CSV made by the server, numbered pages
with a jumper, the ledger by day, audit search, and the operator's tools (void an exam,
reconcile an account, run the expiry sweep), each behind a confirmation."""

from __future__ import annotations

import base64
import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from .conftest import RESULTS, Console, Server

pytestmark = pytest.mark.e2e

LEDGER = """query($id: ID!, $first: Int!, $after: String) { account(id: $id) {
  ledger(first: $first, after: $after) { totalCount edges { node { id type quantity } } } } }"""
EXAMS = """query($id: ID!, $first: Int!, $after: String) { account(id: $id) {
  exams(first: $first, after: $after) { totalCount edges { node { id studyInstanceUid
  voidedAt voidReason } } } } }"""


def position(n: int) -> str:
    return base64.urlsafe_b64encode(f"o:{n}".encode()).decode()


def ledger_total(server: Server) -> int:
    data = server.operator(LEDGER, {"id": server.credentials["accountId"], "first": 1})
    return int(data["account"]["ledger"]["totalCount"])


def snap(console: Console, name: str) -> None:
    """A screenshot with a dialog open (Console.shot presses Escape, which closes it)."""
    RESULTS.mkdir(exist_ok=True)
    console.page.screenshot(path=str(RESULTS / f"{name}.png"))


def pick_demo_account(operator: Console) -> None:
    operator.page.click("[data-testid=account-switcher]")
    operator.page.locator(".t-select-option", has_text="Demo Hospital").first.click()
    operator.page.locator("[data-testid=overview-account]", has_text="Demo Hospital").wait_for()


def test_export_button_downloads_every_ledger_row(server: Server, console: Any) -> None:
    # Given more entries than one page of the API: 250 more uploads
    server.upload([f"1.2.826.0.1.3680043.9.11.{n}" for n in range(250)])
    admin: Console = console()
    admin.login("admin")
    admin.goto("/exams/lots")
    expected = ledger_total(server)
    assert expected > 300

    # When the admin presses the export button on a slow line (64 KB/s: the ledger holds
    # over 10,000 entries, about 1 MB, when the other browser tests ran first)
    cdp = admin.context.new_cdp_session(admin.page)
    slow = {"offline": False, "latency": 150, "downloadThroughput": 64_000, "uploadThroughput": -1}
    cdp.send("Network.emulateNetworkConditions", slow)
    with admin.page.expect_download(timeout=120_000) as download:
        admin.page.click("[data-testid=ledger-export]")
        # Then the rows are counted as they arrive, before the file is complete
        progress = admin.page.locator("[data-testid=ledger-export-progress]")
        progress.filter(has_text=re.compile(r"已接收 [1-9][0-9,]* 条")).wait_for()
        snap(admin, "flows-ledger-export-progress")
    path = Path(download.value.path())

    # Then one file arrives: a BOM, the Chinese header, every entry of the ledger
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw[3:].decode("utf-8"), newline="")))
    assert rows[0][1] == "发生时间（北京时间 UTC+8）"
    assert len(rows) - 1 == expected
    newest = server.operator(LEDGER, {"id": server.credentials["accountId"], "first": 1})
    node = newest["account"]["ledger"]["edges"][0]["node"]
    assert rows[1][3] == str(node["quantity"])
    assert download.value.suggested_filename.startswith("ledger-")
    admin.page.locator(".t-message", has_text=f"{expected:,}").wait_for()
    admin.shot("flows-ledger-exported")


def test_exam_list_jumps_to_a_page_and_filters(server: Server, console: Any) -> None:
    # Given the account's exams, ten a page
    admin: Console = console(language="en")
    admin.login("admin")
    admin.goto("/exams/list")
    admin.page.locator("[data-testid=page-exam-list] tbody tr").first.wait_for()
    admin.page.locator("[data-testid=exam-list-pager] .t-select").click()
    admin.page.locator(".t-select-option", has_text="10 / page").click()
    account = server.credentials["accountId"]
    total = server.operator(EXAMS, {"id": account, "first": 1})["account"]["exams"]["totalCount"]
    page_5 = server.operator(EXAMS, {"id": account, "first": 10, "after": position(39)})
    first_uid = page_5["account"]["exams"]["edges"][0]["node"]["studyInstanceUid"]

    # When the admin types 5 into the page jumper
    jumper = admin.page.locator("[data-testid=exam-list-pager] .t-pagination__jump input")
    jumper.fill("5")
    jumper.press("Enter")

    # Then page 5 shows the 41st exam first, and the total counts every exam
    admin.page.locator("[data-testid=page-exam-list] tbody tr").first.filter(
        has_text=first_uid
    ).wait_for()
    assert f"{total:,} in all" in admin.page.inner_text("[data-testid=exam-list-pager]")
    admin.shot("flows-exam-list-page-5-en")

    # And the institution filter narrows the list to that site's exams
    admin.page.click("[data-testid=exam-list-institution]")
    admin.page.locator(".t-select-option", has_text="Main Site").first.click()
    admin.page.locator("[data-testid=exam-list-pager] .t-is-current", has_text="1").wait_for()


def test_ledger_by_day_opens_a_day(server: Server, console: Any) -> None:
    # Given the admin on the ledger
    admin: Console = console()
    admin.login("admin")
    admin.goto("/exams/lots")

    # When they switch to the day view and open the newest day
    admin.page.locator("[data-testid=ledger-view] label", has_text="按日汇总").click()
    day = admin.page.locator("[data-testid^=ledger-day-]").first
    day.wait_for()
    name = day.inner_text().strip()
    day.click()

    # Then the day's entries open beneath it, each of that Shanghai day
    entries = admin.page.locator(f"[data-testid=ledger-day-entries-{name}] tbody tr")
    entries.first.wait_for()
    times = admin.page.locator(f"[data-testid=ledger-day-entries-{name}] tbody tr td:first-child")
    assert all(t.startswith(name) for t in times.all_inner_texts())
    admin.shot("flows-ledger-by-day")


def test_operator_voids_an_exam_reconciles_and_sweeps(server: Server, console: Any) -> None:
    operator: Console = console()
    operator.login("operator")
    pick_demo_account(operator)
    account = server.credentials["accountId"]
    newest = server.operator(EXAMS, {"id": account, "first": 1})["account"]["exams"]["edges"][0]
    uid = newest["node"]["studyInstanceUid"]

    # When the operator voids the newest exam: the dialog will not go on without a reason
    operator.goto("/exams/list")
    operator.page.click(f"[data-testid='void-{uid}']")
    dialog = operator.page.locator("[data-testid=void-exam-dialog]")
    confirm = dialog.locator(".t-dialog__footer button", has_text="确认作废")
    assert confirm.is_disabled()
    dialog.locator("[data-testid=void-reason] textarea").fill("网关重复上传（测试）")
    confirm.click()

    # Then the exam is voided, with the reason, in the API and on the list
    operator.page.locator("tbody tr", has_text=uid).locator(".t-tag", has_text="已作废").wait_for()
    found = server.operator(EXAMS, {"id": account, "first": 1})["account"]["exams"]["edges"]
    assert found[0]["node"]["voidReason"] == "网关重复上传（测试）"

    # And the audit log finds it by words
    operator.goto("/audit")
    operator.page.fill("[data-testid=audit-search] input", "voidExam 测试")
    operator.page.locator("[data-testid=audit-pager]", has_text="共 1 条").wait_for()
    # (the operation is shown in words: voidExam reads 作废检查)
    operator.page.locator("tbody tr", has_text="作废检查").first.wait_for()
    operator.shot("flows-audit-search")

    # When they reconcile the account (asked first) and run the sweep (asked first)
    operator.goto("/ops/accounts")
    row = operator.page.locator("tbody tr", has_text="Demo Hospital").first
    row.locator("[data-testid^=more-]").click()
    operator.page.locator(".t-dropdown__item", has_text="对账").click()
    reconcile = operator.page.locator("[data-testid=reconcile-dialog]")
    reconcile.locator(".t-dialog__footer button", has_text="开始对账").click()
    reconcile.locator("[data-testid=reconcile-ok]", has_text="Demo Hospital").wait_for()
    snap(operator, "flows-reconciled")
    reconcile.locator(".t-dialog__footer button", has_text="关闭").click()
    operator.page.click("[data-testid=run-sweep]")
    sweep = operator.page.locator("[data-testid=sweep-dialog]")
    sweep.locator(".t-dialog__footer button", has_text="确认运行").click()

    # Then the sweep's report is shown
    sweep.locator("[data-testid=sweep-report]", has_text="到期批次").wait_for()
    snap(operator, "flows-sweep-report")
