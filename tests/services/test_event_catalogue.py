"""Every kind of the event catalogue (R-ARR-2 delivery decision, issue 12) reaches a
real receiver on loopback, verified with the reference library `standardwebhooks`,
with the figures of its instant. Its rules are in test_event_rules.py."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.domain.ai import AiReadItem
from imaging_billing.domain.catalog import AiProduct, Feature, ServiceKind, ServiceVariant
from imaging_billing.domain.notices import NoticeTarget
from imaging_billing.domain.orders import LineRequest
from imaging_billing.domain.webhooks import DISABLE_AFTER, EventType
from imaging_billing.services import entitlements, ordering, payments, pricing, webhooks
from imaging_billing.services.accounts import set_low_balance_threshold
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.steps import ai as ai_steps
from imaging_billing.services.steps import entitlements as entitlement_steps
from imaging_billing.services.steps.uploads import UploadItem, record_uploads
from imaging_billing.services.sweep import run_sweep
from imaging_billing.services.webhook_worker import WebhookWorker
from imaging_billing.store import lots as lots_store
from imaging_billing.store.tables import notice

from ..factories import create_account, create_institution, credit_lot
from ..support.receiver import receiving, reference_clock, verify

OPERATOR = Principal(Role.OPERATOR, 1, "operator")
LOOPBACK = webhooks.UrlPolicy(allow_private=True)


def admin_of(account_id: int) -> Principal:
    return Principal(Role.ACCOUNT_ADMIN, 7, "admin", account_id=account_id, kind="user")


@pytest.fixture
async def worker(services: Services) -> WebhookWorker:
    return WebhookWorker(
        services.db, services.clock, services.keys, policy=LOOPBACK, jitter=lambda: 0.0
    )


async def endpoint(
    services: Services, url: str, account_id: int | None
) -> webhooks.EndpointWithSecret:
    return await webhooks.create_endpoint(
        services.db,
        services.keys,
        admin_of(account_id) if account_id else OPERATOR,
        target=NoticeTarget.BUSINESS if account_id else NoticeTarget.MANAGEMENT,
        account_id=account_id,
        url=url,
        policy=LOOPBACK,
        now=services.clock.now(),
    )


async def credit_pack(services: Services, account_id: int, quantity: int = 1_000) -> int:
    async with services.db.write() as conn:
        return await ai_steps.credit_ai_pack(
            conn,
            account_id=account_id,
            product=AiProduct.GLAUCOMA,
            quantity=quantity,
            now=services.clock.now(),
            actor="test",
            order_id=None,
        )


async def read(services: Services, account_id: int, institution_id: int, n: int, tag: str) -> None:
    items = [AiReadItem(AiProduct.GLAUCOMA, f"1.9.{tag}.{i}", f"{tag}-{i}") for i in range(n)]
    async with services.db.write() as conn:
        await ai_steps.record_ai_reads(
            conn,
            account_id=account_id,
            institution_id=institution_id,
            reads=items,
            now=services.clock.now(),
            actor="test",
        )


async def notices_of(services: Services, kind: str) -> list[dict[str, object]]:
    async with services.db.read() as conn:
        rows = await conn.execute(
            sa.select(notice.c.target, notice.c.detail).where(notice.c.kind == kind)
        )
        return [{"target": t, **json.loads(d)} for t, d in rows]


async def test_every_event_kind_reaches_a_receiver_verified_by_the_reference_library(
    services: Services,
    worker: WebhookWorker,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an account with a lot, a low-balance threshold just under it, an AI pack,
    # the operators' endpoint taking every event, and an account endpoint that never
    # answers 2xx
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    lot_id = await credit_lot(services, account_id, quantity=10_000)
    await credit_pack(services, account_id)
    await set_low_balance_threshold(services.db, OPERATOR, account_id=account_id, threshold=9_999)
    await pricing.set_price(
        services.db,
        OPERATOR,
        product="EXAM_VOLUME",
        unit_price_fen=150,
        effective_from=None,
        now=clock.now(),
    )

    async def upload(uid: str) -> None:
        async with services.db.write() as conn:
            item = UploadItem(gateway.institution_pk, uid, None)
            await record_uploads(conn, account_id, [item], clock.now())

    events: list[dict[str, Any]] = []
    async with receiving() as receiver, receiving([503] * 200) as broken:
        created = await endpoint(services, receiver.url, None)
        await endpoint(services, broken.url, account_id)

        async def deliver() -> None:
            # Each message is checked when it arrives: the reference library refuses
            # one whose timestamp is more than five minutes from its clock.
            await worker.run_once()
            with reference_clock(monkeypatch, clock):
                events.extend(
                    verify(created.secret, got) for got in receiver.received[len(events) :]
                )

        # when the account lives through everything: a test event; low balance on an
        # upload; AI reads down to the AI threshold; a licence; a service started and
        # accepted; its lot and pack 30 and 7 days from expiry, then expired with an
        # upload in arrears; the suspension a day later; a paid order settling the
        # arrears; and the broken endpoint disabled after days of failing
        await webhooks.send_test_event(services.db, OPERATOR, created.endpoint.id, clock.now())
        await upload("1.2.1")
        await read(services, account_id, gateway.institution_pk, 900, "1")
        async with services.db.write() as conn:
            await entitlement_steps.enable_licence(
                conn,
                account_id=account_id,
                institution_id=gateway.institution_pk,
                feature=Feature.BASE_SUITE,
                now=clock.now(),
                order_id=None,
            )
            service_id = await entitlement_steps.open_service(
                conn,
                account_id=account_id,
                institution_id=gateway.institution_pk,
                institution_name=None,
                kind=ServiceKind.DELIVERY,
                variant=ServiceVariant.REMOTE,
                years=None,
                starts_on=None,
                now=clock.now(),
                order_id=None,
            )
        await entitlements.start_service(
            services.db, OPERATOR, service_id=service_id, now=clock.now()
        )
        await entitlements.confirm_service_acceptance(
            services.db, admin_of(account_id), service_id=service_id, now=clock.now()
        )
        await deliver()  # the broken endpoint starts failing now
        async with services.db.read() as conn:
            lot = await lots_store.get_lot(conn, lot_id)
        assert lot is not None
        for before in (timedelta(days=29), timedelta(days=6), -timedelta(seconds=1)):
            clock.set(lot.expires_at - before)
            await run_sweep(services.db, clock.now())
        await upload("1.2.2")
        clock.advance(timedelta(hours=25))
        await run_sweep(services.db, clock.now())
        order = await ordering.place_order(
            services.db,
            OPERATOR,
            account_id=account_id,
            lines=[LineRequest("EXAM_VOLUME", 10_000)],
            accept_terms=True,
            idempotency_key=None,
            now=clock.now(),
        )
        await payments.confirm_transfer(
            services.db,
            OPERATOR,
            order_id=order.id,
            reference="BANK-7",
            amount_fen=order.total_fen,
            now=clock.now(),
        )
        assert clock.now() - lot.purchased_at > DISABLE_AFTER
        await deliver()  # the broken endpoint is disabled, the operators told
        await deliver()
    await worker.close()
    # then the receiver got every kind of the catalogue, each verified with the
    # endpoint's secret
    assert len(events) == len(receiver.received)
    kinds = Counter(e["type"] for e in events)
    assert set(kinds) == {t.value for t in EventType}
    assert kinds["service.state_changed"] == 2
    assert all(n == 1 for t, n in kinds.items() if t != "service.state_changed"), kinds
    assert all(e["version"] == 1 and e["occurredAt"].endswith("Z") for e in events)
    by_type = {e["type"]: e for e in events}
    assert by_type["account.low_balance"]["data"]["threshold"] == 9_999
    assert by_type["account.uploads_suspended"]["data"]["figures"]["status"] == "SUSPENDED"
    assert by_type["account.uploads_resumed"]["data"]["figures"]["arrears"] == 0
    assert by_type["lot.expiring_7d"]["data"]["remaining"] == 9_999
    # and each carries the figures of its instant
    expired = by_type["lot.expired"]
    assert (expired["data"]["forfeited"], expired["data"]["used"]) == (9_999, 1)
    assert expired["data"]["figures"]["expired"] == 9_999
    assert expired["account"]["name"]
    low = by_type["ai_pack.low"]["data"]
    assert (low["remaining"], low["threshold"], low["product"]) == (100, 100, "GLAUCOMA")
    assert by_type["ai_pack.expired"]["data"]["forfeited"] == 100
    assert by_type["licence.granted"]["data"]["feature"] == "BASE_SUITE"
    # (deliveries are concurrent: the receiver may hear the two in either order)
    transitions = {
        (e["data"]["from"], e["data"]["to"]) for e in events if e["type"] == "service.state_changed"
    }
    assert transitions == {("PURCHASED", "IN_PROGRESS"), ("IN_PROGRESS", "ACCEPTED")}
    lines = by_type["order.fulfilled"]["data"]["lines"]
    assert [(x["product"], x["quantity"]) for x in lines] == [("EXAM_VOLUME", 10_000)]
    assert by_type["webhook.endpoint_disabled"]["data"]["endpointTarget"] == "BUSINESS"
