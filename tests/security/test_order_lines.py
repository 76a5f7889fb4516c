"""Issue 9 §1: a basket of 20,000 lines was priced on the event loop (2.6 s) and one of
3,000 lines was stored. An order or a quote has at most MAX_ORDER_LINES (50) lines: more
is refused as ORDER_TOO_MANY_LINES before any pricing work, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.orders import MAX_ORDER_LINES, LineRequest, quote
from imaging_billing.services import ordering, pricing
from imaging_billing.services.principals import Principal, Role

from ..api.test_commerce_api import PLACE, PRICES, QUOTE, given_priced_catalog
from ..factories import create_account, create_operator_token
from ..support import START, Api

OPERATOR = Principal(Role.OPERATOR, 0, "ops", kind="token")
LOT = {"product": "EXAM_VOLUME", "quantity": 10_000}
OFFLINE = """mutation($acc: ID!, $lines: [OrderLineInput!]!) { recordOfflineOrder(
  accountId: $acc, lines: $lines, contractRef: "CT-LINES") {
  order { id } userErrors { code field messageEn messageZh } } }"""
STATE = """query($id: ID!) { account(id: $id) {
  orders(first: 1) { totalCount } examFigures { bought } } }"""


async def given_account(services: Services, api: Api) -> tuple[str, str]:
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    return token, str(encode("Account", await create_account(services)))


def assert_too_many(errors: list[dict[str, Any]]) -> None:
    assert [(e["code"], e["field"]) for e in errors] == [("ORDER_TOO_MANY_LINES", "lines")]
    assert errors[0]["messageEn"] == "An order has at most 50 lines"
    assert errors[0]["messageZh"] == "一个订单最多 50 项商品"


async def test_a_quote_of_2000_lines_is_refused_by_the_cap(services: Services, api: Api) -> None:
    # given a priced catalog
    token, _ = await given_account(services, api)
    # when a basket of 2,000 lines is quoted (the longest list a request may carry)
    out = await api.operator(token, QUOTE, {"lines": [LOT] * 2_000})
    # then it is refused with the cap's code on `lines`, and nothing is priced
    quoted = out["quote"]
    assert quoted["totalFen"] is None
    assert quoted["lines"] == []
    assert [(e["code"], e["field"]) for e in quoted["userErrors"]] == [
        ("ORDER_TOO_MANY_LINES", "lines")
    ]


async def test_fifty_lines_are_priced_fifty_one_are_not(services: Services, api: Api) -> None:
    # given a priced catalog
    token, _ = await given_account(services, api)
    # when baskets of exactly the cap and one more are quoted
    at_cap = (await api.operator(token, QUOTE, {"lines": [LOT] * MAX_ORDER_LINES}))["quote"]
    over = (await api.operator(token, QUOTE, {"lines": [LOT] * (MAX_ORDER_LINES + 1)}))["quote"]
    # then the first is priced line by line, the second refused
    assert at_cap["userErrors"] == []
    assert len(at_cap["lines"]) == 50
    assert at_cap["totalFen"] == 50 * 10_000 * PRICES["EXAM_VOLUME"]
    assert over["totalFen"] is None
    assert [e["code"] for e in over["userErrors"]] == ["ORDER_TOO_MANY_LINES"]


@pytest.mark.parametrize("count", [51, 2_000])
async def test_place_order_with_too_many_lines_stores_nothing(
    services: Services, api: Api, count: int
) -> None:
    # given an account with an agreement and a priced catalog
    token, account = await given_account(services, api)
    before = await api.operator(token, STATE, {"id": account})
    # when an order of `count` lines is placed (the probe's 3,000 is refused as read)
    out = await api.operator(token, PLACE, {"acc": account, "lines": [LOT] * count, "terms": True})
    # then it is refused and no order exists
    assert out["placeOrder"]["order"] is None
    assert_too_many(out["placeOrder"]["userErrors"])
    assert await api.operator(token, STATE, {"id": account}) == before
    assert before["account"]["orders"]["totalCount"] == 0


async def test_an_offline_order_with_too_many_lines_credits_nothing(
    services: Services, api: Api
) -> None:
    # given an account with an agreement and a priced catalog
    token, account = await given_account(services, api)
    before = await api.operator(token, STATE, {"id": account})
    # when an operator records an offline purchase of 51 lots
    out = await api.operator(token, OFFLINE, {"acc": account, "lines": [LOT] * 51})
    # then it is refused: no order, no lot credited
    assert out["recordOfflineOrder"]["order"] is None
    assert_too_many(out["recordOfflineOrder"]["userErrors"])
    assert await api.operator(token, STATE, {"id": account}) == before


async def test_the_cap_comes_before_any_pricing_or_account_check(services: Services) -> None:
    # given an account without an agreement and lines of a product that has no price
    account = await create_account(services, agreement=False)
    lines = [LineRequest("AI_PACK_GLAUCOMA", 1_000)] * 51
    # when the use cases are called with them
    refusals = []
    for call in (
        pricing.quote_lines(services.db, OPERATOR, lines=lines, now=START),
        ordering.place_order(
            services.db,
            OPERATOR,
            account_id=account,
            lines=lines,
            accept_terms=True,
            idempotency_key=None,
            now=START,
        ),
        ordering.record_offline_order(
            services.db,
            OPERATOR,
            account_id=account,
            lines=lines,
            contract_ref="CT-1",
            idempotency_key=None,
            now=START,
        ),
    ):
        with pytest.raises(RuleViolation) as refused:
            await call
        refusals.append((refused.value.code, refused.value.field))
    # then each names the cap, not the missing price (PRICE_MISSING) or agreement
    assert refusals == [("ORDER_TOO_MANY_LINES", "lines")] * 3


def test_the_pure_pricing_refuses_too_many_lines_too() -> None:
    # given 51 lines and a price for them
    lines = [LineRequest("EXAM_VOLUME", 10_000)] * 51
    # when they are priced / then the cap refuses them
    with pytest.raises(RuleViolation) as refused:
        quote(lines, {"EXAM_VOLUME": 150}, online=True, today=START.date())
    assert (refused.value.code, refused.value.params) == ("ORDER_TOO_MANY_LINES", {"limit": 50})
    # and 50 are priced
    assert quote(lines[:50], {"EXAM_VOLUME": 150}, online=True, today=START.date()).total_fen == (
        50 * 10_000 * 150
    )


async def test_a_list_of_20000_lines_is_refused_before_any_coercion(
    services: Services, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's 20,000-line quote: refused as the request is read (400), so graphql-core
    never coerces the 20,000 inputs; the field's own cap (50) answers shorter lists."""
    token = await create_operator_token(services)
    coerced = 0
    import imaging_billing.api.execution as execution

    real = execution.execute

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal coerced
        coerced += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(execution, "execute", counting)
    lines = [{"product": "EXAM_VOLUME", "quantity": 10_000}] * 20_000
    response = await api.raw(QUOTE, {"lines": lines}, authorization=f"Bearer {token}")
    assert response.status_code == 400
    error = response.json()["errors"][0]["extensions"]
    assert error["code"] == "VARIABLES_LIST_TOO_LONG"
    assert "2000" in error["messageEn"].replace(",", "")
    assert coerced == 0
