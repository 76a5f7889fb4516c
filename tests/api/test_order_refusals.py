"""Every refusal of ordering (R-ORD-2, R-GEN-2, R-LIC-4, R-AI-1, R-AI-4, R-SVC-3/4,
R-EXAM-1, R-GEN-5) names its rule and field, and leaves nothing written."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode

from ..factories import create_account, create_institution, create_operator_token
from ..support import Api
from .test_commerce_api import PLACE, given_priced_catalog

COUNTS = """query($id: ID!) { account(id: $id) {
  orders(first: 1) { totalCount } examFigures { bought } } }"""


async def given_world(services: Services, api: Api) -> dict[str, Any]:
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    account_pk = await create_account(services)
    gateway = await create_institution(services, account_pk)
    return {"token": token, "acc": str(encode("Account", account_pk)), "inst": gateway.id}


@pytest.mark.parametrize(
    ("line", "code", "field"),
    [
        ({"product": "EXAM_VOLUME", "quantity": 15_000}, "R_EXAM_1_UNIT", "lines[0].quantity"),
        ({"product": "EXAM_ANNUAL", "quantity": 10_000}, "R_EXAM_1_YEARS", "lines[0].years"),
        (
            {"product": "EXAM_ANNUAL", "quantity": 10_000, "years": 0},
            "R_EXAM_1_YEARS",
            "lines[0].years",
        ),
        ({"product": "AI_PACK_GLAUCOMA", "quantity": 1_500}, "R_AI_1_UNIT", "lines[0].quantity"),
        ({"product": "AI_PACK_GLAUCOMA", "quantity": 0}, "R_AI_1_UNIT", "lines[0].quantity"),
        ({"product": "NO_SUCH_THING", "quantity": 1}, "PRODUCT_UNKNOWN", "lines[0].product"),
        (
            {"product": "SERVICE_MAINTENANCE", "quantity": 1, "INST": True},
            "R_SVC_3_YEARS",
            "lines[0].years",
        ),
        (
            {
                "product": "SERVICE_MAINTENANCE",
                "quantity": 1,
                "years": 2,
                "INST": True,
                "startsOn": "2027-03-02",
            },
            "R_SVC_3_START",
            "lines[0].startsOn",
        ),
        (
            {"product": "SERVICE_DELIVERY", "quantity": 1},
            "R_SVC_4_REMARK",
            "lines[0].institutionId",
        ),
        (
            {"product": "LICENCE_BASE_SUITE", "quantity": 1},
            "R_ORD_2_INSTITUTION",
            "lines[0].institutionId",
        ),
        (
            {"product": "LICENCE_BASE_SUITE", "quantity": 2, "INST": True},
            "R_LIC_1_QUANTITY",
            "lines[0].quantity",
        ),
        (
            {"product": "AI_LICENCE_PNEUMONIA", "quantity": 1, "INST": True},
            "R_AI_4_OFFLINE_ONLY",
            "lines[0].product",
        ),
    ],
)
async def test_an_order_line_off_the_rules_is_refused_and_nothing_is_written(
    services: Services, api: Api, line: dict[str, Any], code: str, field: str
) -> None:
    # given a priced catalog, an account with an agreement and one institution
    world = await given_world(services, api)
    line = dict(line)
    if line.pop("INST", False):
        line["institutionId"] = world["inst"]
    before = await api.operator(world["token"], COUNTS, {"id": world["acc"]})
    # when the line is ordered with the terms accepted
    out = await api.operator(
        world["token"], PLACE, {"acc": world["acc"], "lines": [line], "terms": True}
    )
    # then the rule and the field are named, in both languages, and nothing is written
    errors = out["placeOrder"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [(code, field)]
    assert errors[0]["messageEn"]
    assert errors[0]["messageZh"]
    assert out["placeOrder"]["order"] is None
    assert await api.operator(world["token"], COUNTS, {"id": world["acc"]}) == before


async def test_an_empty_order_and_another_accounts_institution_are_refused(
    services: Services, api: Api
) -> None:
    world = await given_world(services, api)
    other = await create_institution(services, await create_account(services, name="Other"))
    empty = await api.operator(
        world["token"], PLACE, {"acc": world["acc"], "lines": [], "terms": True}
    )
    assert empty["placeOrder"]["userErrors"][0]["code"] == "ORDER_EMPTY"
    foreign = [{"product": "LICENCE_BASE_SUITE", "quantity": 1, "institutionId": other.id}]
    out = await api.operator(
        world["token"], PLACE, {"acc": world["acc"], "lines": foreign, "terms": True}
    )
    assert out["placeOrder"]["userErrors"][0] == {
        "code": "INSTITUTION_NOT_FOUND",
        "field": "lines[0].institutionId",
        "messageEn": "No such institution",
        "messageZh": "未找到该机构",
    }


async def test_a_cancelled_order_cannot_be_paid_and_a_paid_one_not_cancelled(
    services: Services, api: Api
) -> None:
    """R-GEN-5: cancel only before payment; no refunds."""
    world = await given_world(services, api)
    lines = [{"product": "EXAM_VOLUME", "quantity": 10_000}]
    first = (
        await api.operator(
            world["token"], PLACE, {"acc": world["acc"], "lines": lines, "terms": True}
        )
    )["placeOrder"]["order"]
    cancel = (
        "mutation($o: ID!) { cancelOrder(orderId: $o) { order { state } userErrors { code } } }"
    )
    pay = """mutation($o: ID!, $f: Fen!, $r: String!) { confirmTransfer(orderId: $o, reference: $r,
      amountFen: $f) { order { state } replayed userErrors { code } } }"""
    assert (await api.operator(world["token"], cancel, {"o": first["id"]}))["cancelOrder"]["order"][
        "state"
    ] == "CANCELLED"
    late = await api.operator(
        world["token"], pay, {"o": first["id"], "f": first["totalFen"], "r": "B1"}
    )
    assert late["confirmTransfer"]["userErrors"][0]["code"] == "ORDER_NOT_PAYABLE"
    second = (
        await api.operator(
            world["token"], PLACE, {"acc": world["acc"], "lines": lines, "terms": True}
        )
    )["placeOrder"]["order"]
    paid = await api.operator(
        world["token"], pay, {"o": second["id"], "f": second["totalFen"], "r": "B2"}
    )
    assert paid["confirmTransfer"]["order"]["state"] == "FULFILLED"
    again = await api.operator(
        world["token"], pay, {"o": second["id"], "f": second["totalFen"], "r": "B2"}
    )
    assert again["confirmTransfer"]["replayed"] is True
    refused = await api.operator(world["token"], cancel, {"o": second["id"]})
    assert refused["cancelOrder"]["userErrors"][0]["code"] == "R_GEN_5_NO_REFUND"
    figures = await api.operator(world["token"], COUNTS, {"id": world["acc"]})
    assert figures["account"]["examFigures"]["bought"] == 10_000


async def test_a_new_price_applies_from_its_time_and_orders_keep_theirs(
    services: Services, api: Api
) -> None:
    """R-GEN-3: an order line keeps the unit price in force when it was placed."""
    world = await given_world(services, api)
    lines = [{"product": "EXAM_VOLUME", "quantity": 10_000}]
    placed = (
        await api.operator(
            world["token"], PLACE, {"acc": world["acc"], "lines": lines, "terms": True}
        )
    )["placeOrder"]["order"]
    later = (services.clock.now() + timedelta(hours=1)).isoformat()
    await api.operator(
        world["token"],
        """mutation($t: DateTime) { setPrice(product: "EXAM_VOLUME", unitPriceFen: 200,
           effectiveFrom: $t) { userErrors { code } } }""",
        {"t": later},
    )
    quote = """query { quote(lines: [{product: "EXAM_VOLUME", quantity: 10000}]) { totalFen } }"""
    assert (await api.operator(world["token"], quote))["quote"]["totalFen"] == 1_500_000
    services.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    assert (await api.operator(world["token"], quote))["quote"]["totalFen"] == 2_000_000
    assert placed["totalFen"] == 1_500_000
    assert placed["lines"][0]["amountFen"] == 1_500_000
