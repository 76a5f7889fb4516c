"""Issue 9 §6: refusals name the rule they enforce. Quantities that break R-EXAM-1,
R-AI-1, R-SVC-3 (and R-LIC-1) were answered `R_ORD_2_QUANTITY`; a blank contract
reference on a lot credit was "a correction needs a reason"; a blank payment reference
was "a contract reference is required"; `dailyUsage(days: -5)` spoke of `first`."""

from __future__ import annotations

from typing import Any

import pytest
from strawberry import relay

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.errors import MESSAGES, RuleViolation
from imaging_billing.services import payments

from ..api.test_commerce_api import PLACE, QUOTE, given_priced_catalog, pay_by_callback
from ..factories import create_account, create_institution, create_operator_token
from ..support import START, Api

STATE = """query($id: ID!) { account(id: $id) {
  orders(first: 5) { totalCount edges { node { state } } }
  examFigures { bought } lots(first: 5) { totalCount } } }"""
OFFLINE = """mutation($acc: ID!, $lines: [OrderLineInput!]!) { recordOfflineOrder(accountId: $acc,
  lines: $lines, contractRef: "CT-9") { order { id } userErrors { code field } } }"""


class World:
    def __init__(self, services: Services, api: Api) -> None:
        self.services = services
        self.api = api

    async def setup(self) -> World:
        self.token = await create_operator_token(self.services)
        await given_priced_catalog(self.api, self.token)
        account = await create_account(self.services)
        self.account = str(encode("Account", account))
        self.institution = (await create_institution(self.services, account)).id
        return self

    async def op(self, query: str, **variables: Any) -> dict[str, Any]:
        return await self.api.operator(self.token, query, variables)

    async def state(self) -> dict[str, Any]:
        return await self.op(STATE, id=self.account)


@pytest.fixture
async def world(services: Services, api: Api) -> World:
    return await World(services, api).setup()


def codes(errors: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["code"], e["field"]) for e in errors]


QUANTITIES = [
    ({"product": "EXAM_VOLUME", "quantity": 0}, "R_EXAM_1_UNIT"),  # the probe: 0 exams
    ({"product": "EXAM_VOLUME", "quantity": -10_000}, "R_EXAM_1_UNIT"),
    ({"product": "EXAM_ANNUAL", "quantity": 0, "years": 2}, "R_EXAM_1_UNIT"),
    ({"product": "AI_PACK_GLAUCOMA", "quantity": 0}, "R_AI_1_UNIT"),
    ({"product": "AI_PACK_GLAUCOMA", "quantity": -1_000}, "R_AI_1_UNIT"),
    ({"product": "SERVICE_DELIVERY", "quantity": 0, "INST": True}, "R_SVC_3_QUANTITY"),
    ({"product": "SERVICE_DELIVERY", "quantity": -1, "INST": True}, "R_SVC_3_QUANTITY"),
    # one row per service bought: a million deliveries in a line is refused, not written
    ({"product": "SERVICE_DELIVERY", "quantity": 1_000_000, "INST": True}, "R_SVC_3_QUANTITY"),
    (
        {"product": "SERVICE_MAINTENANCE", "quantity": 0, "years": 1, "INST": True},
        "R_SVC_3_QUANTITY",
    ),
    ({"product": "LICENCE_BASE_SUITE", "quantity": 0, "INST": True}, "R_LIC_1_QUANTITY"),
    ({"product": "LICENCE_BASE_SUITE", "quantity": -1, "INST": True}, "R_LIC_1_QUANTITY"),
]


def line_of(world: World, template: dict[str, Any]) -> dict[str, Any]:
    line = {k: v for k, v in template.items() if k != "INST"}
    if template.get("INST"):
        line["institutionId"] = world.institution
    return line


@pytest.mark.parametrize(("template", "code"), QUANTITIES)
async def test_a_quantity_is_refused_with_the_rule_it_breaks(
    world: World, template: dict[str, Any], code: str
) -> None:
    # given an account with an agreement, a priced catalog, and a bad quantity
    line = line_of(world, template)
    before = await world.state()
    # when it is quoted and ordered
    quoted = (await world.op(QUOTE, lines=[line]))["quote"]
    placed = (await world.op(PLACE, acc=world.account, lines=[line], terms=True))["placeOrder"]
    # then both name the product's rule on the line's quantity, with both messages
    assert codes(quoted["userErrors"]) == [(code, "lines[0].quantity")]
    assert quoted["totalFen"] is None
    assert codes(placed["userErrors"]) == [(code, "lines[0].quantity")]
    assert placed["userErrors"][0]["messageEn"] == MESSAGES[code][1]
    assert placed["userErrors"][0]["messageZh"] == MESSAGES[code][0]
    # and no order was written
    assert placed["order"] is None
    assert await world.state() == before


async def test_an_offline_ai_licence_of_zero_is_refused_as_r_lic_1(world: World) -> None:
    # given an operator recording an offline one-time AI licence with quantity 0
    line = {"product": "AI_LICENCE_GLAUCOMA", "quantity": 0, "institutionId": world.institution}
    before = await world.state()
    # when it is recorded
    out = (await world.op(OFFLINE, acc=world.account, lines=[line]))["recordOfflineOrder"]
    # then it is refused with the one-per-institution rule, and nothing is written
    assert codes(out["userErrors"]) == [("R_LIC_1_QUANTITY", "lines[0].quantity")]
    assert out["order"] is None
    assert await world.state() == before


async def test_a_blank_contract_reference_on_a_lot_credit_asks_for_the_contract(
    world: World,
) -> None:
    # given an operator crediting a lot with a blank contract reference
    credit = """mutation($a: ID!) { creditExamLot(accountId: $a, mode: VOLUME, quantity: 10000,
      contractRef: "   ") { lot { id } userErrors { code field messageEn } } }"""
    before = await world.state()
    # when it is sent
    out = (await world.op(credit, a=world.account))["creditExamLot"]
    # then the refusal asks for the contract reference, not for a reason; no lot exists
    assert codes(out["userErrors"]) == [("R_GEN_5_CONTRACT_REQUIRED", "contractRef")]
    assert out["userErrors"][0]["messageEn"] == "A contract reference is required"
    assert out["lot"] is None
    assert await world.state() == before


async def given_pending_order(world: World) -> dict[str, Any]:
    lines = [{"product": "EXAM_VOLUME", "quantity": 10_000}]
    placed = await world.op(PLACE, acc=world.account, lines=lines, terms=True)
    order: dict[str, Any] = placed["placeOrder"]["order"]
    assert order["state"] == "PENDING_PAYMENT"
    return order


async def test_a_blank_transfer_reference_is_a_payment_reference_refusal(world: World) -> None:
    # given an order awaiting payment
    order = await given_pending_order(world)
    transfer = """mutation($o: ID!, $f: Fen!) { confirmTransfer(orderId: $o, reference: " ",
      amountFen: $f) { order { state } userErrors { code field messageEn messageZh } } }"""
    # when an operator confirms a transfer with a blank reference
    out = (await world.op(transfer, o=order["id"], f=order["totalFen"]))["confirmTransfer"]
    # then PAYMENT_REFERENCE_REQUIRED on `reference` (not a contract reference)
    assert codes(out["userErrors"]) == [("PAYMENT_REFERENCE_REQUIRED", "reference")]
    assert out["userErrors"][0]["messageEn"] == MESSAGES["PAYMENT_REFERENCE_REQUIRED"][1]
    assert out["order"] is None
    # and the order still waits
    state = await world.state()
    assert state["account"]["orders"]["edges"][0]["node"]["state"] == "PENDING_PAYMENT"


async def test_a_blank_provider_payment_id_is_a_payment_reference_refusal(
    world: World, services: Services
) -> None:
    # given an order awaiting payment
    order = await given_pending_order(world)
    order_pk = int(relay.GlobalID.from_id(order["id"]).node_id)
    # when the provider's (signed) callback names a blank payment id
    response = await pay_by_callback(world.api, services.clock, order["id"], order["totalFen"], " ")
    # then it is refused with the payment reference's code, and the order still waits
    assert 400 <= response.status_code < 500
    assert "PAYMENT_REFERENCE_REQUIRED" in response.text
    assert "R_GEN_5_CONTRACT_REQUIRED" not in response.text
    state = await world.state()
    assert state["account"]["orders"]["edges"][0]["node"]["state"] == "PENDING_PAYMENT"
    # and the use case itself says the same, on `paymentId`
    with pytest.raises(RuleViolation) as refused:
        await payments.provider_callback(
            services.db, payment_id="", order_id=order_pk, amount_fen=1, now=START
        )
    assert (refused.value.code, refused.value.field) == ("PAYMENT_REFERENCE_REQUIRED", "paymentId")


@pytest.mark.parametrize("days", [-5, 0, 367])
async def test_daily_usage_days_out_of_range_speaks_of_days(world: World, days: int) -> None:
    # given an account's usage chart asked for `days` days
    query = "query($a: ID!, $d: Int!) { account(id: $a) { dailyUsage(days: $d) { exams } } }"
    body = {"query": query, "variables": {"a": world.account, "d": days}}
    # when it is asked
    response = await world.api.client.post(
        "/graphql",
        json=body,
        headers={"authorization": f"Bearer {world.token}", "accept-language": "en"},
    )
    # then the refusal is about days, in both languages, and not about `first`
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "USAGE_DAYS"
    assert error["extensions"]["field"] == "days"
    assert error["extensions"]["messageEn"] == "`days` must be between 1 and 366"
    assert "366" in error["extensions"]["messageZh"]
    assert "first" not in response.text
