"""GET /exports/ledger.csv: the ledger as a streamed CSV, authorised like the API."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from imaging_billing import security
from imaging_billing.api.context import Services
from imaging_billing.api.cost import PEOPLE
from imaging_billing.api.ids import encode
from imaging_billing.domain.ledger import Cause, LedgerType, entry
from imaging_billing.services import exports
from imaging_billing.store import ledger

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api
from .test_access_api import Browser, browsers, given_people  # noqa: F401 - fixture

LEDGER_TOTAL = "query($id: ID!, $types: [LedgerEntryType!], $since: DateTime, $until: DateTime) {"
LEDGER_TOTAL += " account(id: $id) { ledger(first: 1, types: $types, since: $since,"
LEDGER_TOTAL += " until: $until) { totalCount } } }"


async def add_consumption(services: Services, account: int, count: int, reason: str = "") -> None:
    """`count` ledger entries one minute apart, as the upload path would append them."""
    start = services.clock.now()
    rows = [
        entry(
            LedgerType.CONSUMPTION,
            account_id=account,
            quantity=-1,
            now=start + timedelta(minutes=n),
            cause=Cause.EXAM,
            actor="institution:1",
            reason=reason or None,
        )
        for n in range(count)
    ]
    async with services.db.write() as conn:
        await ledger.append(conn, rows)


def rows_of(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), body[:20]
    return list(csv.reader(io.StringIO(body[3:].decode("utf-8"), newline="")))


async def logged_in(
    open_browser: Callable[..., Browser], services: Services
) -> tuple[Browser, Any]:
    people = await given_people(services)
    browser = open_browser()
    await browser.login(people.admin)
    return browser, people


async def test_export_streams_the_whole_ledger_in_batches_with_a_bom(
    services: Services,
    browsers: Callable[..., Browser],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an administrator whose ledger holds a purchase and 1,234 consumptions
    browser, people = await logged_in(browsers, services)
    await credit_lot(services, people.account)
    await add_consumption(services, people.account, 1_234)
    reads: list[int] = []
    real = ledger.export_batch

    async def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(kwargs["limit"])
        return await real(*args, **kwargs)

    monkeypatch.setattr(ledger, "export_batch", counted)
    # when she downloads the ledger with her session cookie
    response = await browser.client.get(
        "/exports/ledger.csv", params={"accountId": people.account_id}
    )
    # then a UTF-8 CSV with a BOM, a Chinese header and one row per ledger entry,
    # sent in chunks (no Content-Length) from three keyset batches of 500
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert "content-length" not in response.headers
    rows = rows_of(response.content)
    assert rows[0][:4] == ["流水号", "发生时间（北京时间 UTC+8）", "类型", "数量"]
    total = (await browser.data(LEDGER_TOTAL, {"id": people.account_id}))["account"]["ledger"]
    assert len(rows) - 1 == total["totalCount"] == 1_235
    assert reads == [exports.EXPORT_BATCH] * 3
    # newest first, times in Asia/Shanghai (the clock starts at 2026-03-01 08:00 UTC)
    assert rows[1][2:4] == ["消耗", "-1"]
    assert rows[-1][1:4] == ["2026-03-01 16:00:00", "购买", "10000"]
    assert len({r[0] for r in rows[1:]}) == 1_235  # no entry twice across batches


async def test_export_answers_a_streaming_response(services: Services, operator: Any) -> None:
    # given an account with a lot
    account = await create_account(services)
    await credit_lot(services, account)
    # when the use case is opened
    chunks = await exports.open_ledger_export(
        services.db, operator, exports.LedgerExport(account_id=account)
    )
    # then it yields text chunk by chunk: the BOM and header first, then the rows
    first = await anext(chunks)
    assert first.startswith("\ufeff流水号,")
    rest = [chunk async for chunk in chunks]
    assert [chunk.count("\r\n") for chunk in rest] == [1]


async def test_export_refuses_anonymous_foreign_and_gateways(
    services: Services,
    api: Api,
    browsers: Callable[..., Browser],  # noqa: F811
) -> None:
    # given an administrator of one hospital, another hospital and its gateway
    browser, _ = await logged_in(browsers, services)
    other = await create_account(services, name="Other")
    gateway = await create_institution(services, other)
    other_id = str(encode("Account", other))
    # when nobody, the administrator (for the other hospital) and the gateway ask
    anonymous = await api.client.get("/exports/ledger.csv", params={"accountId": other_id})
    foreign = await browser.client.get("/exports/ledger.csv", params={"accountId": other_id})
    query = f"accountId={other_id.replace('=', '%3D')}"
    ts = str(int(services.clock.now().timestamp() * 1000))
    signed = security.SignedRequest.of(
        gateway.id, ts, b"", method="GET", path="/exports/ledger.csv", query=query
    )
    signature = security.sign_with_token(gateway.token, signed)
    as_gateway = await api.client.get(
        f"/exports/ledger.csv?{query}",
        headers={"x-institution-id": gateway.id, "x-timestamp": ts, "x-signature": signature},
    )
    # then 401, 404 as if unknown, and 403 (R-GEN-8): no CSV for any of them
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert foreign.status_code == 404
    assert foreign.json()["errors"][0]["extensions"]["code"] == "ACCOUNT_NOT_FOUND"
    assert as_gateway.status_code == 403
    assert as_gateway.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_operator_exports_any_account_filtered_in_english(
    services: Services, api: Api
) -> None:
    # given an account with a purchase, then 30 consumptions (one with a formula-like reason)
    account = await create_account(services)
    token = await create_operator_token(services)
    await credit_lot(services, account)
    services.clock.advance(timedelta(hours=1))
    await add_consumption(services, account, 30, reason="=HYPERLINK(1)")
    acc_id = str(encode("Account", account))
    since = datetime(2026, 3, 1, 9, 10, tzinfo=UTC)
    until = datetime(2026, 3, 1, 9, 20, tzinfo=UTC)
    # when an operator exports consumptions in [since, until), in English
    response = await api.client.get(
        "/exports/ledger.csv",
        params={
            "accountId": acc_id,
            "types": "CONSUMPTION",
            "since": since.isoformat(),
            "until": until.isoformat(),
            "lang": "en",
        },
        headers={"authorization": f"Bearer {token}"},
    )
    # then exactly the rows the ledger query counts, English words, a defused formula
    rows = rows_of(response.content)
    assert rows[0][1] == "Time (China Standard Time, UTC+8)"
    expected = await api.operator(
        token,
        LEDGER_TOTAL,
        {
            "id": acc_id,
            "types": ["CONSUMPTION"],
            "since": since.isoformat(),
            "until": until.isoformat(),
        },
    )
    assert len(rows) - 1 == expected["account"]["ledger"]["totalCount"] == 10
    assert {r[2] for r in rows[1:]} == {"Consumption"}
    assert {r[6] for r in rows[1:]} == {"Exam upload"}
    assert {r[8] for r in rows[1:]} == {"'=HYPERLINK(1)"}


@pytest.mark.parametrize(
    ("params", "code", "field"),
    [
        ({}, "EXPORT_ARGUMENT", "accountId"),
        ({"types": "CONSUMPTION,NOPE"}, "EXPORT_ARGUMENT", "types"),
        ({"since": "yesterday"}, "EXPORT_ARGUMENT", "since"),
        ({"until": "2026-03-01T00:00:00"}, "R_GEN_6_NAIVE_TIME", "until"),
        ({"accountId": "not-an-id"}, "ACCOUNT_NOT_FOUND", "accountId"),
    ],
)
async def test_export_arguments_that_do_not_read_are_refused(
    services: Services, api: Api, params: dict[str, str], code: str, field: str
) -> None:
    # given an operator and an account
    account = await create_account(services)
    token = await create_operator_token(services)
    query = {"accountId": str(encode("Account", account)), **params} if params else {}
    if params.get("accountId") == "not-an-id":
        query["accountId"] = "not-an-id"
    # when the export is asked with an argument that does not read
    response = await api.client.get(
        "/exports/ledger.csv", params=query, headers={"authorization": f"Bearer {token}"}
    )
    # then a coded refusal in both languages, and no CSV
    error = response.json()["errors"][0]["extensions"]
    assert response.status_code == (404 if code == "ACCOUNT_NOT_FOUND" else 400)
    assert (error["code"], error["field"]) == (code, field)
    assert error["messageZh"] != error["messageEn"]


async def test_an_export_pays_from_the_callers_budget(services: Services, api: Api) -> None:
    # given an operator whose query budget is spent
    account = await create_account(services)
    token = await create_operator_token(services)
    principal = await services.auth.operator(token)
    assert principal is not None
    services.budgets.take(principal.actor, PEOPLE.capacity, PEOPLE)
    # when they ask for an export
    response = await api.client.get(
        "/exports/ledger.csv",
        params={"accountId": str(encode("Account", account))},
        headers={"authorization": f"Bearer {token}"},
    )
    # then 429 THROTTLED, with a hint when to come back, and no CSV
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
