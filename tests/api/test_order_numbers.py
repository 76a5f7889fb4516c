"""Order numbers people can read and write on a transfer, and the payee they pay
(R-ORD-1 pay step): unique and sequential per Asia/Shanghai day under concurrent
orders, on SQLite and PostgreSQL; the payee set by operators only, checked, audited."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.services import payee as payee_service
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role

from ..factories import create_account, create_institution, create_operator_token
from ..support import Api
from .test_commerce_api import PLACE, given_priced_catalog

NUMBERED = """mutation($acc: ID!, $lines: [OrderLineInput!]!, $terms: Boolean!) {
  placeOrder(accountId: $acc, lines: $lines, acceptTerms: $terms) {
    order { id number placedAt } userErrors { code } } }"""
OFFLINE = """mutation($acc: ID!, $lines: [OrderLineInput!]!) {
  recordOfflineOrder(accountId: $acc, lines: $lines, contractRef: "HT-1") {
    order { number state } userErrors { code } } }"""
ORDERS = "{ orders(first: 50) { edges { node { number account { name } } } } }"
PAYEE = "{ payee { name bank accountNumber updatedAt } }"
SET_PAYEE = """mutation($n: String!, $b: String!, $a: String!) {
  setPayee(name: $n, bank: $b, accountNumber: $a) {
    payee { name bank accountNumber } userErrors { code field messageZh messageEn } } }"""
AUDIT = """{ auditLog(first: 10, operation: "setPayee") {
  edges { node { operation result arguments } } } }"""
LOT = [{"product": "EXAM_VOLUME", "quantity": 10_000}]


async def test_concurrent_orders_get_unique_numbers_in_sequence_per_shanghai_day(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given three accounts and a priced catalog; 16:00 in Shanghai on 1 March 2026
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    accounts = [str(encode("Account", await create_account(services))) for _ in range(3)]

    # when twelve orders are placed at once, four per account
    async def place(account: str) -> str:
        out = await api.operator(token, NUMBERED, {"acc": account, "lines": LOT, "terms": True})
        assert out["placeOrder"]["userErrors"] == []
        return str(out["placeOrder"]["order"]["number"])

    numbers = await asyncio.gather(*(place(accounts[n % 3]) for n in range(12)))

    # then each has its own number, and together they are 0001..0012 of that day
    assert sorted(numbers) == [f"IB20260301{n:04d}" for n in range(1, 13)]
    # and a refused order takes no number: the next one continues the sequence
    refused = await api.operator(token, PLACE, {"acc": accounts[0], "lines": LOT, "terms": False})
    assert refused["placeOrder"]["userErrors"][0]["code"] == "R_ORD_2_TERMS"
    assert await place(accounts[0]) == "IB202603010013"

    # when Shanghai's midnight passes (16:00 UTC), the sequence starts again for the new day
    clock.advance(timedelta(hours=8))
    assert await place(accounts[1]) == "IB202603020001"
    # and an offline purchase is numbered in the same sequence
    recorded = await api.operator(token, OFFLINE, {"acc": accounts[2], "lines": LOT})
    assert recorded["recordOfflineOrder"]["order"]["number"] == "IB202603020002"
    # and the operators' list shows every number once, with its account
    listed = (await api.operator(token, ORDERS))["orders"]["edges"]
    shown = [e["node"]["number"] for e in listed]
    assert len(shown) == len(set(shown)) == 15
    assert all(re.fullmatch(r"IB\d{12}", n) for n in shown)
    assert {e["node"]["account"]["name"] for e in listed} == {"Hospital"}


async def test_payee_is_set_by_operators_checked_and_audited(
    services: Services, api: Api, clock: ManualClock
) -> None:
    token = await create_operator_token(services)
    account_pk = await create_account(services)
    gateway = await create_institution(services, account_pk)
    # given no payee yet: the pay step has nothing to name
    assert (await api.operator(token, PAYEE))["payee"] is None

    # when an operator types a wrong account number, or leaves the bank blank
    bad = await api.operator(
        token, SET_PAYEE, {"n": "云影像科技", "b": "招商银行", "a": "6222 12"}, lang="zh-CN"
    )
    blank = await api.operator(token, SET_PAYEE, {"n": "云影像科技", "b": "  ", "a": "62220200"})
    # then each is refused with its code and field, and nothing is stored
    (error,) = bad["setPayee"]["userErrors"]
    assert (error["code"], error["field"]) == ("PAYEE_ACCOUNT_NUMBER_INVALID", "accountNumber")
    assert "8–32" in error["messageZh"]
    assert blank["setPayee"]["userErrors"][0]["code"] == "PAYEE_BANK_REQUIRED"
    assert (await api.operator(token, PAYEE))["payee"] is None

    # when an account's admin tries to set it
    admin = Principal(Role.ACCOUNT_ADMIN, account_pk, "user:1")
    with pytest.raises(RuleViolation) as refused:
        await payee_service.set_payee(
            services.db, admin, name="Me", bank="Bank", account_number="12345678", now=clock.now()
        )
    # then it is refused
    assert refused.value.code == "FORBIDDEN"

    # when the operator sets it with grouped digits
    ok = await api.operator(
        token,
        SET_PAYEE,
        {"n": " 示例云影像科技有限公司 ", "b": "招商银行上海分行", "a": "6222-0200 1234 5678 901"},
    )
    # then it is stored trimmed, the number as digits, and everyone signed in reads it
    expected = {"name": "示例云影像科技有限公司", "bank": "招商银行上海分行"}
    assert ok["setPayee"]["payee"] == {**expected, "accountNumber": "6222020012345678901"}
    read = (await api.operator(token, PAYEE))["payee"]
    assert read["accountNumber"] == "6222020012345678901"
    assert (await payee_service.get_payee(services.db)) is not None
    # but not a gateway (R-GEN-8)
    response = await api.client.post(
        "/graphql",
        content=(body := b'{"query": "{ payee { name } }"}'),
        headers=gateway.headers(body, clock.now()),
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # and every attempt is in the audit log with its outcome
    records = (await api.operator(token, AUDIT))["auditLog"]["edges"]
    results = sorted(r["node"]["result"] for r in records)
    assert results == ["PAYEE_ACCOUNT_NUMBER_INVALID", "PAYEE_BANK_REQUIRED", "ok"]
