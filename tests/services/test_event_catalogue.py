"""Every kind of the event catalogue (R-ARR-2 delivery decision, issue 12) reaches a
real receiver on loopback, verified with the reference library `standardwebhooks`;
the notices that fire once per thing (a lot's or pack's expiry, a crossing of a
threshold) fire once however often their cause is written, and re-arm on recovery."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from imaging_billing.api.context import Services
from imaging_billing.domain.ai import AiReadItem
from imaging_billing.domain.catalog import AiProduct, Feature, ServiceKind, ServiceVariant
from imaging_billing.domain.notices import NoticeKind, NoticeTarget, notice_rows, once_key
from imaging_billing.domain.orders import LineRequest
from imaging_billing.domain.webhooks import DISABLE_AFTER, EventType
from imaging_billing.services import entitlements, ordering, payments, pricing, webhooks
from imaging_billing.services import sweep as sweep_module
from imaging_billing.services.accounts import set_low_balance_threshold
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.steps import ai as ai_steps
from imaging_billing.services.steps import entitlements as entitlement_steps
from imaging_billing.services.steps.outbox import record_notices
from imaging_billing.services.steps.uploads import UploadItem, record_uploads
from imaging_billing.services.sweep import run_sweep
from imaging_billing.services.webhook_worker import WebhookWorker
from imaging_billing.store import lots as lots_store
from imaging_billing.store.mail_tables import mail_delivery
from imaging_billing.store.tables import exam_lot, ledger_entry, notice

from ..factories import create_account, create_institution, credit_lot
from ..support.receiver import receiving, reference_clock, verify
from .test_mail import add_person

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
    transitions = [
        (e["data"]["from"], e["data"]["to"]) for e in events if e["type"] == "service.state_changed"
    ]
    assert transitions == [("PURCHASED", "IN_PROGRESS"), ("IN_PROGRESS", "ACCEPTED")]
    lines = by_type["order.fulfilled"]["data"]["lines"]
    assert [(x["product"], x["quantity"]) for x in lines] == [("EXAM_VOLUME", 10_000)]
    assert by_type["webhook.endpoint_disabled"]["data"]["endpointTarget"] == "BUSINESS"


async def test_an_expired_lot_is_told_once_however_often_the_sweep_runs(
    services: Services, clock: ManualClock
) -> None:
    # given a lot with 10,000 exams, 1 used
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    lot_id = await credit_lot(services, account_id, quantity=10_000)
    async with services.db.write() as conn:
        item = UploadItem(gateway.institution_pk, "1.2.3", None)
        await record_uploads(conn, account_id, [item], clock.now())
    async with services.db.read() as conn:
        lot = await lots_store.get_lot(conn, lot_id)
    assert lot is not None
    # when the sweep runs at its expiry, and again later
    clock.set(lot.expires_at)
    await run_sweep(services.db, clock.now())
    clock.advance(timedelta(days=1))
    await run_sweep(services.db, clock.now())
    # then one notice per platform names the forfeit (R-EXAM-2)
    told = await notices_of(services, "LOT_EXPIRED")
    assert sorted(str(n["target"]) for n in told) == ["BUSINESS", "MANAGEMENT"]
    assert {n["forfeited"] for n in told} == {9_999}


async def test_a_keyed_notice_written_twice_is_stored_once(services: Services) -> None:
    # given a notice with a once-only key
    account_id = await create_account(services)
    now = services.clock.now()
    key = once_key(NoticeKind.LOT_EXPIRED, 42)
    rows = notice_rows(NoticeKind.LOT_EXPIRED, account_id=account_id, now=now, key=key)
    # when two transactions write it (as two instances sweeping at once would)
    async with services.db.write() as conn:
        first = await record_notices(conn, rows, now)
    async with services.db.write() as conn:
        second = await record_notices(conn, rows, now)
    # then it is stored, mailed and enqueued once
    assert (len(first), len(second)) == (2, 0)
    assert len(await notices_of(services, "LOT_EXPIRED")) == 2


async def test_ai_credit_running_low_is_told_once_per_crossing_and_re_arms_after_a_purchase(
    services: Services, clock: ManualClock
) -> None:
    # given a pack of 1,000 AI reads (threshold 100, R-ARR-2 decision carried over)
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    await credit_pack(services, account_id)
    # when reads take it to 150, then through the threshold, then further down
    await read(services, account_id, gateway.institution_pk, 850, "1")
    before = len(await notices_of(services, "AI_PACK_LOW"))
    await read(services, account_id, gateway.institution_pk, 60, "2")
    await read(services, account_id, gateway.institution_pk, 60, "3")
    once = await notices_of(services, "AI_PACK_LOW")
    # and after a new pack lifts it above the threshold, reads cross it again
    clock.advance(timedelta(days=1))
    await credit_pack(services, account_id)
    await read(services, account_id, gateway.institution_pk, 950, "4")
    again = await notices_of(services, "AI_PACK_LOW")
    # then one notice per platform per crossing, none above the threshold
    assert before == 0
    assert [n["remaining"] for n in once if n["target"] == "BUSINESS"] == [90]
    assert [n["remaining"] for n in again if n["target"] == "BUSINESS"] == [90, 80]


async def test_a_notice_for_people_is_mailed_with_its_figures_in_both_languages(
    services: Services, clock: ManualClock
) -> None:
    # given an operator to mail and a pack that expires with reads unused
    account_id = await create_account(services)
    await credit_pack(services, account_id)
    await add_person(services, "ops@platform.example.cn", Role.OPERATOR, None)
    # when the sweep forfeits the pack
    clock.advance(timedelta(days=367))
    await run_sweep(services.db, clock.now())
    # then the operators get one mail naming the forfeit in Chinese and English
    async with services.db.read() as conn:
        rows = (await conn.execute(sa.select(mail_delivery.c.subject, mail_delivery.c.body))).all()
    assert len(rows) == 1
    subject, body = rows[0]
    assert "AI 调阅包已到期，1000 次作废" in subject
    assert "an AI reading pack expired, 1000 reads forfeited" in subject
    assert "未用的 1000 次已作废" in body
    assert "the 1000 unused are forfeited" in body


class OutboxDown(Exception):
    pass


async def test_a_forfeit_whose_notice_cannot_be_written_is_not_written_either(
    services: Services, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an expired lot with its whole remainder, and an outbox that fails
    account_id = await create_account(services)
    lot_id = await credit_lot(services, account_id, quantity=10_000)
    async with services.db.read() as conn:
        lot = await lots_store.get_lot(conn, lot_id)
    assert lot is not None
    clock.set(lot.expires_at)

    async def failing(*_: object) -> list[object]:
        raise OutboxDown

    # when the sweep runs with the outbox down, then again with it back
    with monkeypatch.context() as patch:
        patch.setattr(sweep_module, "record_notices", failing)
        with pytest.raises(OutboxDown):
            await run_sweep(services.db, clock.now())
    expiries_while_down = await expiry_entries(services)
    await run_sweep(services.db, clock.now())
    # then the EXPIRY entry and its notice were written together, on the second run only
    assert expiries_while_down == []
    assert await expiry_entries(services) == [-10_000]
    assert len(await notices_of(services, "LOT_EXPIRED")) == 2


async def expiry_entries(services: Services) -> list[int]:
    async with services.db.read() as conn:
        stmt = sa.select(ledger_entry.c.quantity).where(ledger_entry.c.type == "EXPIRY")
        return [int(q) for q in (await conn.execute(stmt)).scalars()]


async def test_an_upload_touches_the_outbox_only_when_a_notice_is_due(
    services: Services, clock: ManualClock
) -> None:
    # given an account with one exam left and the operators listening
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    await credit_lot(services, account_id, quantity=10_000)
    await set_low_balance_threshold(services.db, OPERATOR, account_id=account_id, threshold=0)
    async with services.db.write() as conn:
        await conn.execute(
            sa.update(exam_lot).where(exam_lot.c.account_id == account_id).values(used=9_999)
        )
    outbox = re.compile(r"\b(notice|webhook_\w+|mail_delivery)\b")
    seen: list[str] = []

    def record(_c: object, _k: object, statement: str, *_: object) -> None:
        seen.append(statement)

    async def upload(uid: str) -> list[str]:
        seen.clear()
        engine = services.db.write_engine.sync_engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            async with services.db.write() as conn:
                item = UploadItem(gateway.institution_pk, uid, None)
                await record_uploads(conn, account_id, [item], clock.now())
        finally:
            event.remove(engine, "before_cursor_execute", record)
        return [s for s in seen if outbox.search(s)]

    async with receiving() as receiver:
        await endpoint(services, receiver.url, None)
        # when an upload takes the last exam (no notice due), then one finds none
        quiet = await upload("1.2.1")
        arrears = await upload("1.2.2")
    # then the first never touched the outbox, the second wrote its notice there
    assert quiet == []
    assert any("INSERT INTO notice" in s for s in arrears)
    assert any("INSERT INTO webhook_event" in s for s in arrears)
