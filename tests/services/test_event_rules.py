"""The rules of the event catalogue (issue 12): a notice that fires once per thing (a
lot's or pack's expiry, a crossing of a threshold) fires once however often its cause
is written, and re-arms on recovery; a notice is written in its cause's transaction or
not at all; an upload pays for the outbox only when a notice is due; states that time
brings to a service are announced once by the sweep."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from imaging_billing.api.context import Services
from imaging_billing.domain.catalog import ServiceKind, ServiceVariant
from imaging_billing.domain.clock import SHANGHAI
from imaging_billing.domain.notices import NoticeKind, notice_rows, once_key
from imaging_billing.services import sweep as sweep_module
from imaging_billing.services.accounts import set_low_balance_threshold
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Role
from imaging_billing.services.steps import entitlements as entitlement_steps
from imaging_billing.services.steps.outbox import record_notices
from imaging_billing.services.steps.snapshot import global_id
from imaging_billing.services.steps.uploads import UploadItem, record_uploads
from imaging_billing.services.sweep import run_sweep
from imaging_billing.store import lots as lots_store
from imaging_billing.store.mail_tables import mail_delivery
from imaging_billing.store.tables import exam_lot, ledger_entry
from imaging_billing.store.webhook_tables import webhook_event

from ..factories import create_account, create_institution, credit_lot
from ..support import START, Gateway
from ..support.receiver import receiving
from .test_event_catalogue import OPERATOR, credit_pack, endpoint, notices_of, read
from .test_mail import add_person


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


async def pack_read_down_to_150(services: Services) -> tuple[int, Gateway]:
    """An account whose one pack of 1,000 AI reads has 150 left (its threshold: 100)."""
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    await credit_pack(services, account_id)
    await read(services, account_id, gateway.institution_pk, 850, "1")
    return account_id, gateway


async def test_ai_credit_running_low_is_told_once_per_crossing_and_re_arms_after_a_purchase(
    services: Services, clock: ManualClock
) -> None:
    # given a pack of 1,000 AI reads (threshold 100, R-ARR-2 decision carried over)
    # when reads take it to 150, then through the threshold, then further down
    account_id, gateway = await pack_read_down_to_150(services)
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


async def test_an_expiry_that_takes_ai_credit_under_the_threshold_is_told_once(
    services: Services, clock: ManualClock
) -> None:
    # given a pack of 1,000 AI reads with 150 left: above its threshold of 100
    await pack_read_down_to_150(services)
    assert await notices_of(services, "AI_PACK_LOW") == []
    # when the pack expires and the sweep forfeits the 150 (R-AI-1), twice over
    clock.advance(timedelta(days=367))
    await run_sweep(services.db, clock.now())
    await run_sweep(services.db, clock.now())
    # then the credit is low (none left), told once per platform with the expiry
    low = await notices_of(services, "AI_PACK_LOW")
    assert sorted((str(n["target"]), n["remaining"]) for n in low) == [
        ("BUSINESS", 0),
        ("MANAGEMENT", 0),
    ]
    assert len(await notices_of(services, "AI_PACK_EXPIRED")) == 2


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
    # then the operators get one mail naming the forfeit in Chinese and English (and
    # one telling them no AI credit is left: tests above)
    async with services.db.read() as conn:
        rows = (await conn.execute(sa.select(mail_delivery.c.subject, mail_delivery.c.body))).all()
    expired = [row for row in rows if "forfeited" in row[0]]
    assert len(rows) == 2
    assert len(expired) == 1
    subject, body = expired[0]
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


async def test_states_that_time_brings_to_a_service_are_announced_once_by_the_sweep(
    services: Services, clock: ManualClock
) -> None:
    # given the operators listening, a delivery never started, and a year of
    # maintenance starting in ten days
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    async with receiving() as receiver:
        await endpoint(services, receiver.url, None)
    start = (clock.now() + timedelta(days=10)).astimezone(SHANGHAI).date()
    delivery = await open_service(services, account_id, gateway.institution_pk, None, None)
    upkeep = await open_service(
        services, account_id, gateway.institution_pk, ServiceKind.MAINTENANCE, start
    )
    # when the sweep runs now, after the start day, twice a year on, and after the end
    told: list[list[tuple[int, str | None, str]]] = []
    for days in (0, 11, 366, 366, 400 + 366):
        clock.set(START + timedelta(days=days))
        await run_sweep(services.db, clock.now())
        told.append(await state_events(services))
    # then each change is told once, from the state last told
    d = global_id("Service", delivery)
    u = global_id("Service", upkeep)
    assert told[0] == []
    assert told[1] == [(u, "SCHEDULED", "ACTIVE")]
    assert told[2] == told[3] == [(u, "SCHEDULED", "ACTIVE"), (d, "PURCHASED", "EXPIRED")]
    assert told[4] == told[3] + [(u, "ACTIVE", "ENDED")]


async def open_service(
    services: Services,
    account_id: int,
    institution_id: int,
    kind: ServiceKind | None,
    starts_on: date | None,
) -> int:
    async with services.db.write() as conn:
        return await entitlement_steps.open_service(
            conn,
            account_id=account_id,
            institution_id=institution_id,
            institution_name=None,
            kind=kind or ServiceKind.DELIVERY,
            variant=None if kind else ServiceVariant.REMOTE,
            years=1 if kind else None,
            starts_on=starts_on,
            now=services.clock.now(),
            order_id=None,
        )


async def state_events(services: Services) -> list[tuple[str, str | None, str]]:
    async with services.db.read() as conn:
        stmt = (
            sa.select(webhook_event.c.payload)
            .where(webhook_event.c.type == "service.state_changed")
            .order_by(webhook_event.c.id)
        )
        found = [json.loads(p)["data"] for p in (await conn.execute(stmt)).scalars()]
    return [(e["serviceId"], e["from"], e["to"]) for e in found]
