"""Webhooks through GraphQL (R-ARR-2 delivery decision): endpoints with a secret shown
once, deliveries per endpoint with their attempts, status codes, latency and next
retry, resending, test events, and paid orders, all sent to a real receiver on
loopback and verified with the reference library `standardwebhooks`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.domain.notices import NoticeTarget
from imaging_billing.domain.orders import LineRequest
from imaging_billing.domain.webhooks import RETRY_SCHEDULE
from imaging_billing.services import ordering, payments, pricing, webhooks
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.webhook_worker import WebhookWorker
from imaging_billing.services.webhooks import UrlPolicy

from ..factories import create_account, create_operator_token
from ..support import Api
from ..support.receiver import receiving, reference_clock, verify

CREATE = """mutation($input: WebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
  secret endpoint { id url target eventTypes enabled accountId }
  userErrors { code field messageEn messageZh } } }"""
DELIVERIES = """query($id: ID!) { webhookEndpoint(id: $id) {
  deliveries(first: 10) { totalCount edges { node {
    id eventType eventId status attemptCount nextAttemptAt lastStatusCode deliveredAt payload
    attempts { attemptedAt statusCode latencyMs error nextRetryAt } } } } } }"""
TEST_EVENT = """mutation($id: ID!) { sendTestWebhook(id: $id) {
  delivery { id status eventType nextAttemptAt } userErrors { code } } }"""
RESEND_FAILED = """mutation($id: ID!, $since: DateTime!) {
  resendFailedWebhookDeliveries(id: $id, since: $since) { count userErrors { code } } }"""
RESEND = """mutation($id: ID!) { resendWebhookDelivery(id: $id) {
  delivery { id status attemptCount } userErrors { code } } }"""
ROTATE = """mutation($id: ID!, $s: Int!) { rotateWebhookSecret(id: $id, overlapSeconds: $s) {
  secret endpoint { previousSecretValidUntil } userErrors { code field } } }"""
LIST = """query($t: NoticeTarget!, $a: ID) { webhookEndpoints(target: $t, accountId: $a) {
  id url description enabled } }"""


@pytest.fixture
async def worker(services: Services) -> AsyncIterator[WebhookWorker]:
    # Tests set WEBHOOK_ALLOW_PRIVATE's equivalent: the receiver is on loopback.
    services.webhook_policy = UrlPolicy(allow_private=True)
    built = WebhookWorker(
        services.db,
        services.clock,
        services.keys,
        policy=services.webhook_policy,
        jitter=lambda: 0.0,
    )
    yield built
    await built.close()


async def create(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = (await api.operator(token, CREATE, {"input": fields}))[
        "createWebhookEndpoint"
    ]
    return out


async def test_the_schedule_of_a_failing_receiver_is_visible_in_the_api(
    services: Services,
    api: Api,
    clock: ManualClock,
    worker: WebhookWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an operator's MANAGEMENT endpoint whose receiver answers 500 three times
    token = await create_operator_token(services)
    async with receiving([500, 500, 500]) as receiver:
        created = await create(api, token, target="MANAGEMENT", url=receiver.url)
        endpoint_id = created["endpoint"]["id"]
        # when a test event is sent and the clock moves to each retry
        queued = (await api.operator(token, TEST_EVENT, {"id": endpoint_id}))["sendTestWebhook"]
        assert queued["delivery"]["status"] == "PENDING"
        start = clock.now()
        await worker.run_once()
        halfway = await api.operator(token, DELIVERIES, {"id": endpoint_id})
        for wait in RETRY_SCHEDULE[1:4]:
            clock.advance(wait)
            await worker.run_once()
        done = await api.operator(token, DELIVERIES, {"id": endpoint_id})
    # then after the first attempt the API shows the 500 and the retry 5 s later
    [first] = [e["node"] for e in halfway["webhookEndpoint"]["deliveries"]["edges"]]
    assert first["status"] == "PENDING"
    assert first["lastStatusCode"] == 500
    assert first["nextAttemptAt"] == (start + timedelta(seconds=5)).isoformat()
    # and in the end four attempts with their codes, latency and next retry, delivered
    [node] = [e["node"] for e in done["webhookEndpoint"]["deliveries"]["edges"]]
    assert node["status"] == "DELIVERED"
    assert node["attemptCount"] == 4
    assert node["nextAttemptAt"] is None
    assert node["eventType"] == "TEST"
    assert [a["statusCode"] for a in node["attempts"]] == [500, 500, 500, 200]
    assert all(a["latencyMs"] >= 0 and a["error"] is None for a in node["attempts"])
    retries = [a["nextRetryAt"] for a in node["attempts"]]
    assert retries == [a["attemptedAt"] for a in node["attempts"][1:]] + [None]
    # and the receiver got the one message four times, signed with the shown secret
    assert len(receiver.received) == 4
    with reference_clock(monkeypatch, clock):
        event = verify(created["secret"], receiver.received[-1])
    assert event["id"] == node["eventId"] == receiver.received[0].headers["webhook-id"]
    assert json.loads(node["payload"]) == event


async def test_a_url_to_a_private_address_is_refused_in_both_languages(
    services: Services, api: Api
) -> None:
    # given the server's default policy (private addresses refused)
    token = await create_operator_token(services)
    # when an operator points an endpoint at the cloud metadata address, or at ftp
    private = await create(api, token, target="MANAGEMENT", url="http://169.254.169.254/")
    scheme = await create(api, token, target="MANAGEMENT", url="ftp://example.com/")
    # then both are refused naming the rule, with words in zh-CN and en, and no secret
    assert private["userErrors"][0]["code"] == "R_ARR_2_WEBHOOK_URL_PRIVATE"
    assert private["userErrors"][0]["field"] == "url"
    assert private["userErrors"][0]["messageZh"]
    assert private["userErrors"][0]["messageEn"]
    assert private["secret"] is None
    assert private["endpoint"] is None
    assert scheme["userErrors"][0]["code"] == "R_ARR_2_WEBHOOK_URL_SCHEME"
    listed = await api.operator(token, LIST, {"t": "MANAGEMENT"})
    assert listed["webhookEndpoints"] == []


async def test_resending_a_delivered_event_sends_the_same_message_again(
    services: Services, api: Api, worker: WebhookWorker
) -> None:
    # given a delivered test event
    token = await create_operator_token(services)
    async with receiving() as receiver:
        created = await create(api, token, target="MANAGEMENT", url=receiver.url)
        endpoint_id = created["endpoint"]["id"]
        delivery = (await api.operator(token, TEST_EVENT, {"id": endpoint_id}))["sendTestWebhook"][
            "delivery"
        ]
        await worker.run_once()
        # when it is resent and the worker runs
        again = (await api.operator(token, RESEND, {"id": delivery["id"]}))["resendWebhookDelivery"]
        await worker.run_once()
    # then it went back in the queue and the receiver got the same webhook-id twice
    assert again["delivery"] == {"id": delivery["id"], "status": "PENDING", "attemptCount": 0}
    assert [r.headers["webhook-id"] for r in receiver.received] == [
        receiver.received[0].headers["webhook-id"]
    ] * 2


async def test_a_rotated_secret_is_shown_once_and_both_sign_during_the_overlap(
    services: Services,
    api: Api,
    clock: ManualClock,
    worker: WebhookWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an endpoint
    token = await create_operator_token(services)
    async with receiving() as receiver:
        created = await create(api, token, target="MANAGEMENT", url=receiver.url)
        endpoint_id = created["endpoint"]["id"]
        # when its secret is rotated with a 10-minute overlap and a test event is sent
        rotated = (await api.operator(token, ROTATE, {"id": endpoint_id, "s": 600}))[
            "rotateWebhookSecret"
        ]
        too_long = (await api.operator(token, ROTATE, {"id": endpoint_id, "s": 8 * 86_400}))[
            "rotateWebhookSecret"
        ]
        await api.operator(token, TEST_EVENT, {"id": endpoint_id})
        await worker.run_once()
    # then the new secret was shown, the overlap's end is visible, and the reference
    # library accepts the message with either secret
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    until = rotated["endpoint"]["previousSecretValidUntil"]
    assert until == (clock.now() + timedelta(minutes=10)).isoformat()
    assert too_long["userErrors"] == [
        {"code": "R_ARR_2_WEBHOOK_OVERLAP", "field": "overlapSeconds"}
    ]
    [got] = receiver.received
    with reference_clock(monkeypatch, clock):
        assert verify(created["secret"], got)["type"] == "webhook.test"
        assert verify(rotated["secret"], got)["type"] == "webhook.test"


async def test_a_paid_order_reaches_the_account_endpoint_with_its_figures(
    services: Services,
    api: Api,
    clock: ManualClock,
    worker: WebhookWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an account with a BUSINESS endpoint for paid orders only, and a priced lot
    token = await create_operator_token(services)
    operator = Principal(Role.OPERATOR, 1, "operator")
    account_id = await create_account(services, name="Beta Hospital")
    account = str(encode("Account", account_id))
    await pricing.set_price(
        services.db,
        operator,
        product="EXAM_VOLUME",
        unit_price_fen=150,
        effective_from=None,
        now=clock.now(),
    )
    async with receiving() as receiver:
        created = await create(
            api,
            token,
            target="BUSINESS",
            accountId=account,
            url=receiver.url,
            eventTypes=["ORDER_PAID"],
        )
        assert created["endpoint"]["accountId"] == account
        # when an order for 10,000 exams is placed and its transfer confirmed
        order = await ordering.place_order(
            services.db,
            operator,
            account_id=account_id,
            lines=[LineRequest("EXAM_VOLUME", 10_000)],
            accept_terms=True,
            idempotency_key=None,
            now=clock.now(),
        )
        await payments.confirm_transfer(
            services.db,
            operator,
            order_id=order.id,
            reference="BANK-1",
            amount_fen=order.total_fen,
            now=clock.now(),
        )
        await worker.run_once()
    # then the account's receiver got order.paid with the order and the new figures
    [got] = receiver.received
    with reference_clock(monkeypatch, clock):
        event = verify(created["secret"], got)
    assert event["type"] == "order.paid"
    assert event["account"] == {"id": account, "name": "Beta Hospital"}
    assert event["data"]["orderId"] == str(encode("Order", order.id))
    assert event["data"]["totalFen"] == order.total_fen
    assert event["data"]["figures"]["available"] == 10_000


async def test_failed_deliveries_since_a_time_are_sent_again_after_an_outage(
    services: Services, api: Api, clock: ManualClock, worker: WebhookWorker
) -> None:
    # given an endpoint whose receiver was down for a whole retry schedule: two events
    # failed, one before the outage's start and one after
    token = await create_operator_token(services)
    down = [503] * (2 * len(RETRY_SCHEDULE))
    async with receiving(down) as receiver:
        created = await create(api, token, target="MANAGEMENT", url=receiver.url)
        endpoint_id = created["endpoint"]["id"]
        await api.operator(token, TEST_EVENT, {"id": endpoint_id})
        clock.advance(timedelta(hours=1))
        outage = clock.now()
        await api.operator(token, TEST_EVENT, {"id": endpoint_id})
        for wait in RETRY_SCHEDULE:
            clock.advance(wait)
            await worker.run_once()
        failed = await api.operator(token, DELIVERIES, {"id": endpoint_id})
        # when it is back and the failed deliveries since the outage are resent
        resent = (
            await api.operator(
                token, RESEND_FAILED, {"id": endpoint_id, "since": outage.isoformat()}
            )
        )["resendFailedWebhookDeliveries"]
        await worker.run_once()
        after = await api.operator(token, DELIVERIES, {"id": endpoint_id})
    # then one was queued again and delivered; the older one stays failed
    states = [e["node"]["status"] for e in failed["webhookEndpoint"]["deliveries"]["edges"]]
    assert states == ["FAILED", "FAILED"]
    assert resent == {"count": 1, "userErrors": []}
    states = [e["node"]["status"] for e in after["webhookEndpoint"]["deliveries"]["edges"]]
    assert states == ["DELIVERED", "FAILED"]
    assert len(receiver.received) == 2 * len(RETRY_SCHEDULE) + 1


async def test_the_server_sends_queued_deliveries_by_itself(
    services: Services, clock: ManualClock, tmp_path: Path
) -> None:
    # given a queued test event to a MANAGEMENT endpoint
    services.webhook_policy = UrlPolicy(allow_private=True)
    operator = Principal(Role.OPERATOR, 1, "operator")
    async with receiving() as receiver:
        created = await webhooks.create_endpoint(
            services.db,
            services.keys,
            operator,
            target=NoticeTarget.MANAGEMENT,
            account_id=None,
            url=receiver.url,
            policy=services.webhook_policy,
            now=clock.now(),
        )
        await webhooks.send_test_event(services.db, operator, created.endpoint.id, clock.now())
        settings = Settings(
            sweep_interval_seconds=0,
            webhook_interval_seconds=0.05,
            console_dir=tmp_path / "no-console",
            tune_gc=False,
        )
        app = create_app(settings, services)
        # when the server starts (its lifespan), with no request made
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(receiver.arrived.wait(), timeout=10)
    # then its worker delivered the event
    assert len(receiver.received) == 1
    assert json.loads(receiver.received[0].body)["type"] == "webhook.test"
