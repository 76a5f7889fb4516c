"""The payment callback under hostile headers: typed refusals in the API's JSON, in both
languages, and an audit record for every call, accepted or refused."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.api.payments_http import callback_signature
from imaging_billing.domain.errors import MESSAGES
from imaging_billing.services.clock import ManualClock

from ..factories import create_account, create_operator_token
from ..support import Api

SECRET = "test-callback-secret"  # tests/conftest.py's client
AUDIT = """query($op: String) { auditLog(first: 20, operation: $op) { edges { node {
  principal role accountId operation arguments result requestId correlationId clientAddress
} } } }"""
ACCOUNT_ORDERS = """query($id: ID!) { account(id: $id) {
  examFigures { bought } orders(first: 5) { edges { node { state } } } } }"""


async def placed_order(services: Services, api: Api, token: str) -> tuple[str, str]:
    """An account's pending 10,000-exam order (¥15,000): (account ID, order ID)."""
    price = """mutation { setPrice(product: "EXAM_VOLUME", unitPriceFen: 150) {
      userErrors { code } } }"""
    assert (await api.operator(token, price))["setPrice"]["userErrors"] == []
    account = str(encode("Account", await create_account(services)))
    place = """mutation($a: ID!) { placeOrder(accountId: $a, acceptTerms: true,
      lines: [{product: "EXAM_VOLUME", quantity: 10000}]) { order { id } userErrors { code } } }"""
    order = (await api.operator(token, place, {"a": account}))["placeOrder"]["order"]["id"]
    return account, str(order)


def signed(clock: ManualClock, body: bytes) -> dict[str, str]:
    ts = str(int(clock.now().timestamp() * 1000))
    return {"x-payment-timestamp": ts, "x-payment-signature": callback_signature(SECRET, ts, body)}


def refusal(response: httpx.Response) -> dict[str, Any]:
    errors = response.json()["errors"]
    assert len(errors) == 1
    extensions: dict[str, Any] = errors[0]["extensions"]
    assert errors[0]["message"] in (extensions["messageZh"], extensions["messageEn"])
    return extensions


@pytest.mark.parametrize(
    ("header", "value"),
    [
        # "²" is a digit to str.isdigit(); int() refuses it: HTTP 500 before
        ("x-payment-timestamp", b"\xb2"),
        ("x-payment-timestamp", b"1772352000000\xb2"),
        ("x-payment-timestamp", b"12e3"),
        ("x-payment-timestamp", b""),
        # non-ASCII str made hmac.compare_digest raise TypeError: HTTP 500 before
        ("x-payment-signature", b"\xe9" * 64),
        ("x-payment-signature", b"zz" * 32),
        ("x-payment-signature", b"ab" * 31),
    ],
)
async def test_malformed_callback_headers_are_refused_400_naming_the_header(
    client: httpx.AsyncClient, clock: ManualClock, header: str, value: bytes
) -> None:
    # given a body signed properly, then one header replaced by malformed bytes
    body = b'{"paymentId": "p", "orderId": "x", "amountFen": 1}'
    headers: dict[str, str | bytes] = {**signed(clock, body), header: value}
    # when the provider's endpoint is called
    response = await client.post("/payments/callback", content=body, headers=headers)
    # then a typed 400 names the header, in both languages, with the server's request id
    assert response.status_code == 400, response.text
    got = refusal(response)
    name = "X-Payment-Timestamp" if "timestamp" in header else "X-Payment-Signature"
    assert (got["code"], got["field"]) == ("CALLBACK_HEADER_INVALID", name)
    zh, en = MESSAGES["CALLBACK_HEADER_INVALID"]
    assert (got["messageZh"], got["messageEn"]) == (zh.format(header=name), en.format(header=name))
    assert got["requestId"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("case", "status", "code", "field"),
    [
        ("wrong signature", 401, "CALLBACK_SIGNATURE_INVALID", "X-Payment-Signature"),
        ("stale", 401, "CALLBACK_STALE", "X-Payment-Timestamp"),
        ("not json", 400, "CALLBACK_BODY_INVALID", None),
        ("amount as text", 400, "CALLBACK_BODY_INVALID", "amountFen"),
        ("unknown order", 404, "ORDER_NOT_FOUND", "orderId"),
        ("short payment", 409, "PAYMENT_AMOUNT_MISMATCH", "amountFen"),
    ],
)
async def test_callback_refusals_are_the_apis_json_in_both_languages(
    services: Services,
    api: Api,
    clock: ManualClock,
    case: str,
    status: int,
    code: str,
    field: str | None,
) -> None:
    token = await create_operator_token(services)
    account, order = await placed_order(services, api, token)
    fields: dict[str, Any] = {"paymentId": "pay-1", "orderId": order, "amountFen": 1_500_000}
    fields.update(
        {
            "amount as text": {"amountFen": "1500000"},
            "unknown order": {"orderId": str(encode("Order", 999))},
            "short payment": {"amountFen": 1},
        }.get(case, {})
    )
    body = b"{not json" if case == "not json" else json.dumps(fields).encode()
    headers = signed(clock, body)
    if case == "wrong signature":
        headers["x-payment-signature"] = "ab" * 32
    if case == "stale":
        old = str(int(clock.now().timestamp() * 1000) - 301_000)
        headers = {"x-payment-timestamp": old, "x-payment-signature": signed_at(old, body)}
    # when the callback is sent in English
    response = await api.client.post(
        "/payments/callback", content=body, headers={**headers, "accept-language": "en"}
    )
    # then the status and code say what went wrong, and the message is English
    assert response.status_code == status, response.text
    got = refusal(response)
    assert (got["code"], got["field"]) == (code, field)
    assert response.json()["errors"][0]["message"] == got["messageEn"]
    assert got["messageZh"] != got["messageEn"]
    # and nothing was paid
    shown = (await api.operator(token, ACCOUNT_ORDERS, {"id": account}))["account"]
    assert shown["examFigures"]["bought"] == 0
    assert shown["orders"]["edges"][0]["node"]["state"] == "PENDING_PAYMENT"


def signed_at(timestamp: str, body: bytes) -> str:
    return callback_signature(SECRET, timestamp, body)


async def test_every_callback_is_audited_accepted_and_refused(
    services: Services, api: Api, clock: ManualClock
) -> None:
    token = await create_operator_token(services)
    account, order = await placed_order(services, api, token)
    body = json.dumps({"paymentId": "pay-9", "orderId": order, "amountFen": 1_500_000}).encode()
    # when a forged callback comes first, then the provider's own
    forged = await api.client.post(
        "/payments/callback",
        content=body,
        headers={**signed(clock, body), "x-payment-signature": "cd" * 32, "x-request-id": "fx-1"},
    )
    paid = await api.client.post(
        "/payments/callback", content=body, headers={**signed(clock, body), "x-request-id": "pv-7"}
    )
    assert (forged.status_code, paid.status_code) == (401, 200)
    # then both are in the audit log, each with its outcome and request ids; the unsigned
    # one counted with the other refusals from its address in that minute
    assert await services.refusals.flush(clock.now(), everything=True) == 1
    log = await api.operator(token, AUDIT, {"op": "paymentCallback"})
    records = [edge["node"] for edge in log["auditLog"]["edges"]]
    (accepted,) = (r for r in records if r["result"] == "ok")
    (refused,) = (r for r in records if r["result"] != "ok")
    assert accepted["result"] == "ok"
    assert accepted["principal"] == "system:payment-callback"
    assert accepted["accountId"] == account
    assert accepted["arguments"] == {
        "paymentId": "pay-9",
        "orderId": order,
        "amountFen": 1_500_000,
        "replayed": False,
    }
    assert (accepted["requestId"], accepted["correlationId"]) == (
        paid.headers["x-request-id"],
        "pv-7",
    )
    assert refused["result"] == "CALLBACK_SIGNATURE_INVALID"
    # and an unsigned caller's body is not taken into the log as if it were the provider's
    assert (refused["principal"], refused["role"]) == ("anonymous:0", "ANONYMOUS")
    assert refused["arguments"]["count"] == 1
    assert "pay-9" not in json.dumps(refused["arguments"])
    assert refused["requestId"] == forged.headers["x-request-id"]
    assert refused["clientAddress"] == accepted["clientAddress"] == "127.0.0.1"


async def test_a_flood_of_forged_callbacks_is_one_audit_record_a_minute(
    services: Services, api: Api, clock: ManualClock
) -> None:
    token = await create_operator_token(services)
    body = json.dumps({"paymentId": "p", "orderId": "x", "amountFen": 1}).encode()
    # when 30 callbacks with a wrong signature arrive within a minute
    for _ in range(30):
        forged = {**signed(clock, body), "x-payment-signature": "ab" * 32}
        response = await api.client.post("/payments/callback", content=body, headers=forged)
        assert response.status_code == 401
    # then one record counts them
    assert await services.refusals.flush(clock.now(), everything=True) == 1
    log = await api.operator(token, AUDIT, {"op": "paymentCallback"})
    (record,) = (edge["node"] for edge in log["auditLog"]["edges"])
    assert record["result"] == "CALLBACK_SIGNATURE_INVALID"
    assert record["arguments"]["count"] == 30
