"""The guide's three online flows and the offline flow, through GraphQL alone:
quote → order with terms → pay (signed callback or transfer) → entitlements visible."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.api.payments_http import callback_signature
from imaging_billing.services.clock import ManualClock

from ..factories import create_account, create_institution, create_operator_token
from ..support import Api

SECRET = "test-callback-secret"

PRICES = {
    "EXAM_VOLUME": 150,
    "EXAM_ANNUAL": 12,
    "AI_PACK_GLAUCOMA": 200,
    "AI_LICENCE_GLAUCOMA": 20_000_000,
    "LICENCE_BASE_SUITE": 5_000_000,
    "LICENCE_MPR": 1_500_000,
    "LICENCE_FUSION": 2_000_000,
    "SERVICE_DELIVERY": 800_000,
    "SERVICE_MAINTENANCE": 2_000_000,
    "SERVICE_CUSTOM_DEV": 5_000_000,
}

SET_PRICE = """mutation($p: String!, $f: Fen!) {
  setPrice(product: $p, unitPriceFen: $f) { price { id } userErrors { code } } }"""
QUOTE = """query($lines: [OrderLineInput!]!) { quote(lines: $lines) {
  totalFen lines { product amountFen unitPriceFen } userErrors { code field } } }"""
PLACE = """mutation($acc: ID!, $lines: [OrderLineInput!]!, $terms: Boolean!, $key: String) {
  placeOrder(accountId: $acc, lines: $lines, acceptTerms: $terms, idempotencyKey: $key) {
    order { id state totalFen lines { product amountFen remark } }
    userErrors { code field messageEn messageZh } } }"""
ACCOUNT = """query($id: ID!) { account(id: $id) {
  examFigures { available bought }
  orders(first: 10) { totalCount edges { node { id state } } }
} }"""


async def given_priced_catalog(api: Api, token: str) -> None:
    for product, fen in PRICES.items():
        out = await api.operator(token, SET_PRICE, {"p": product, "f": fen})
        assert out["setPrice"]["userErrors"] == []


async def pay_by_callback(
    api: Api, clock: ManualClock, order_id: str, amount: int, payment_id: str
) -> Any:
    body = json.dumps({"paymentId": payment_id, "orderId": order_id, "amountFen": amount}).encode()
    ts = str(int(clock.now().timestamp() * 1000))
    headers = {
        "content-type": "application/json",
        "x-payment-timestamp": ts,
        "x-payment-signature": callback_signature(SECRET, ts, body),
    }
    return await api.client.post("/payments/callback", content=body, headers=headers)


async def test_resources_flow_quote_order_pay_by_callback_and_see_the_lot(
    services: Services, api: Api, clock: ManualClock
) -> None:
    """R-ORD-1 resources flow; R-EXAM-1 pricing (ANNUAL: quantity × price × years)."""
    # given a priced catalog and an account with an agreement
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    account = str(encode("Account", await create_account(services)))
    lines = [{"product": "EXAM_ANNUAL", "quantity": 100_000, "years": 15}]
    # when the basket is quoted
    quote = (await api.operator(token, QUOTE, {"lines": lines}))["quote"]
    # then the guide's formula prices it
    assert quote["totalFen"] == 100_000 * 12 * 15
    # when the order is placed with the terms accepted and paid by the provider
    placed = await api.operator(token, PLACE, {"acc": account, "lines": lines, "terms": True})
    order = placed["placeOrder"]["order"]
    assert order["state"] == "PENDING_PAYMENT"
    assert order["totalFen"] == quote["totalFen"]
    paid = await pay_by_callback(api, clock, order["id"], order["totalFen"], "pay-1")
    # then the order is fulfilled and the lot is there at once (R-GEN-4)
    assert paid.status_code == 200, paid.text
    assert paid.json() == {"ok": True, "orderState": "FULFILLED", "replayed": False}
    shown = (await api.operator(token, ACCOUNT, {"id": account}))["account"]
    assert shown["examFigures"] == {"available": 100_000, "bought": 100_000}
    # and the same payment reported again changes nothing
    again = await pay_by_callback(api, clock, order["id"], order["totalFen"], "pay-1")
    assert again.json()["replayed"] is True
    shown = (await api.operator(token, ACCOUNT, {"id": account}))["account"]
    assert shown["examFigures"]["bought"] == 100_000


async def test_callback_with_a_wrong_or_stale_signature_changes_nothing(
    services: Services, api: Api, clock: ManualClock
) -> None:
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    account = str(encode("Account", await create_account(services)))
    lines = [{"product": "EXAM_VOLUME", "quantity": 10_000}]
    placed = await api.operator(token, PLACE, {"acc": account, "lines": lines, "terms": True})
    order = placed["placeOrder"]["order"]
    body = json.dumps({"paymentId": "p", "orderId": order["id"], "amountFen": 1_500_000}).encode()
    ts = str(int(clock.now().timestamp() * 1000))
    wrong = {"x-payment-timestamp": ts, "x-payment-signature": "ab" * 32}
    assert (
        await api.client.post("/payments/callback", content=body, headers=wrong)
    ).status_code == 401
    old = str(int((clock.now() - timedelta(minutes=6)).timestamp() * 1000))
    stale = {
        "x-payment-timestamp": old,
        "x-payment-signature": callback_signature(SECRET, old, body),
    }
    assert (
        await api.client.post("/payments/callback", content=body, headers=stale)
    ).status_code == 401
    short = await pay_by_callback(api, clock, order["id"], 1, "p2")
    assert short.status_code == 409
    assert short.json()["errors"][0]["extensions"]["code"] == "PAYMENT_AMOUNT_MISMATCH"
    shown = (await api.operator(token, ACCOUNT, {"id": account}))["account"]
    assert shown["orders"]["edges"][0]["node"]["state"] == "PENDING_PAYMENT"
    assert shown["examFigures"]["bought"] == 0


async def test_software_flow_enables_features_and_refuses_what_breaks_r_lic_4(
    services: Services, api: Api, clock: ManualClock
) -> None:
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    account_pk = await create_account(services)
    account = str(encode("Account", account_pk))
    gateway = await create_institution(services, account_pk)
    option_only = [{"product": "LICENCE_MPR", "quantity": 1, "institutionId": gateway.id}]
    refused = await api.operator(
        token, PLACE, {"acc": account, "lines": option_only, "terms": True}
    )
    assert refused["placeOrder"]["userErrors"][0]["code"] == "R_LIC_4_BASE_REQUIRED"
    lines = [
        {"product": "LICENCE_BASE_SUITE", "quantity": 1, "institutionId": gateway.id},
        {"product": "LICENCE_MPR", "quantity": 1, "institutionId": gateway.id},
    ]
    placed = await api.operator(token, PLACE, {"acc": account, "lines": lines, "terms": True})
    order = placed["placeOrder"]["order"]
    assert order["totalFen"] == 6_500_000
    # a second order for the same licence while the first awaits payment is refused
    twice = await api.operator(token, PLACE, {"acc": account, "lines": lines[:1], "terms": True})
    assert twice["placeOrder"]["userErrors"][0]["code"] == "R_LIC_4_ALREADY_HELD"
    paid = await api.operator(
        token,
        """mutation($o: ID!, $f: Fen!) { confirmTransfer(orderId: $o, reference: "BANK-1",
           amountFen: $f) { order { state } userErrors { code } } }""",
        {"o": order["id"], "f": order["totalFen"]},
    )
    assert paid["confirmTransfer"]["order"]["state"] == "FULFILLED"
    features = await api.gateway(
        gateway,
        """query($i: ID!) { node(id: $i) { ... on Institution { features
           mpr: featureEnabled(feature: MPR) fusion: featureEnabled(feature: FUSION) } } }""",
        {"i": gateway.id},
    )
    node = features["node"]
    assert set(node["features"]) == {"BASE_SUITE", "MPR"}
    assert node["mpr"] is True
    assert node["fusion"] is False
    # R-GEN-5: a paid order cannot be cancelled
    cancel = await api.operator(
        token,
        "mutation($o: ID!) { cancelOrder(orderId: $o) { order { state } userErrors { code } } }",
        {"o": order["id"]},
    )
    assert cancel["cancelOrder"]["userErrors"][0]["code"] == "R_GEN_5_NO_REFUND"


async def test_services_flow_and_order_refusals(
    services: Services, api: Api, clock: ManualClock
) -> None:
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    account_pk = await create_account(services)
    account = str(encode("Account", account_pk))
    gateway = await create_institution(services, account_pk, name="County Hospital")
    lines = [
        {
            "product": "SERVICE_DELIVERY",
            "quantity": 1,
            "institutionId": gateway.id,
            "variant": "REMOTE",
        },
        {
            "product": "SERVICE_MAINTENANCE",
            "quantity": 1,
            "years": 3,
            "institutionId": gateway.id,
            "variant": "LOCAL",
        },
    ]
    no_terms = await api.operator(token, PLACE, {"acc": account, "lines": lines, "terms": False})
    assert no_terms["placeOrder"]["userErrors"][0]["code"] == "R_ORD_2_TERMS"
    placed = await api.operator(token, PLACE, {"acc": account, "lines": lines, "terms": True})
    order = placed["placeOrder"]["order"]
    assert order["totalFen"] == 800_000 + 2_000_000 * 3
    assert "County Hospital" in order["lines"][0]["remark"]
    assert gateway.id in order["lines"][0]["remark"]
    resp = await pay_by_callback(api, clock, order["id"], order["totalFen"], "svc-1")
    assert resp.json()["orderState"] == "FULFILLED"
    listed = await api.operator(
        token,
        """query($i: ID!) { node(id: $i) { ... on Institution {
           services(first: 10) { edges { node { kind state years } } } } } }""",
        {"i": gateway.id},
    )
    kinds = {e["node"]["kind"]: e["node"] for e in listed["node"]["services"]["edges"]}
    assert kinds["DELIVERY"]["state"] == "PURCHASED"
    assert kinds["MAINTENANCE"]["state"] == "ACTIVE"
    assert kinds["MAINTENANCE"]["years"] == 3


async def test_offline_flow_records_an_ai_licence_which_cannot_be_ordered_online(
    services: Services, api: Api, clock: ManualClock
) -> None:
    """R-AI-4 / R-ORD-3."""
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    account_pk = await create_account(services)
    account = str(encode("Account", account_pk))
    gateway = await create_institution(services, account_pk)
    lines = [{"product": "AI_LICENCE_GLAUCOMA", "quantity": 1, "institutionId": gateway.id}]
    online = await api.operator(token, PLACE, {"acc": account, "lines": lines, "terms": True})
    assert online["placeOrder"]["userErrors"][0]["code"] == "R_AI_4_OFFLINE_ONLY"
    offline = await api.operator(
        token,
        """mutation($acc: ID!, $lines: [OrderLineInput!]!) {
          recordOfflineOrder(accountId: $acc, lines: $lines, contractRef: "HT-2026-07") {
            order { state channel contractRef } userErrors { code } } }""",
        {"acc": account, "lines": lines},
    )
    assert offline["recordOfflineOrder"]["order"] == {
        "state": "FULFILLED",
        "channel": "OFFLINE",
        "contractRef": "HT-2026-07",
    }
    # the licence covers reads without any pack
    read = await api.gateway(
        gateway,
        """mutation($i: ID!) { recordAiRead(institutionId: $i, product: GLAUCOMA,
           studyInstanceUid: "1.2.3", idempotencyKey: "r1") { status userErrors { code } } }""",
        {"i": gateway.id},
    )
    assert read["recordAiRead"]["status"] == "ACCEPTED"


async def test_no_agreement_no_order(services: Services, api: Api) -> None:
    """R-GEN-2."""
    token = await create_operator_token(services)
    await given_priced_catalog(api, token)
    account = str(encode("Account", await create_account(services, agreement=False)))
    lines = [{"product": "EXAM_VOLUME", "quantity": 10_000}]
    out = await api.operator(token, PLACE, {"acc": account, "lines": lines, "terms": True})
    assert out["placeOrder"]["userErrors"][0]["code"] == "R_GEN_2_NO_AGREEMENT"
    assert out["placeOrder"]["order"] is None
