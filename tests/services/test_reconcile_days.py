"""Reconciliation puts an exam on the Asia/Shanghai day it was recorded (R-GEN-6, R-GEN-7),
to the microsecond: the daily counters and the exams they count agree at midnight."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from imaging_billing.api.context import Services
from imaging_billing.services.reading import ledger_days
from imaging_billing.services.reconcile import reconcile_account
from imaging_billing.services.steps.uploads import UploadItem, UploadStatus, record_uploads

from ..factories import create_account, create_institution, credit_lot

# 23:59:59.999999 in Shanghai: a microsecond before the day ends.
LAST_MOMENT = datetime(2026, 3, 2, 16, 0, tzinfo=UTC) - timedelta(microseconds=1)
AFTER_MIDNIGHT = LAST_MOMENT + timedelta(seconds=1)


async def test_an_exam_recorded_a_microsecond_before_midnight_is_counted_that_day(
    services: Services,
) -> None:
    # given an account with credit
    account = await create_account(services)
    await credit_lot(services, account)
    site = (await create_institution(services, account)).institution_pk
    # when an upload is recorded in the day's last microsecond
    async with services.db.write() as conn:
        (outcome,) = await record_uploads(conn, account, [UploadItem(site, "1.2.3.4")], LAST_MOMENT)
    assert outcome.status is UploadStatus.ACCEPTED
    # then the day's counter and the exams recorded that day agree
    async with services.db.read() as conn:
        assert await reconcile_account(conn, account) == []


async def test_a_consumption_a_microsecond_before_midnight_is_summed_on_that_day(
    services: Services,
) -> None:
    # given a lot bought at noon and an upload in the day's last microsecond
    account = await create_account(services)
    await credit_lot(services, account)
    site = (await create_institution(services, account)).institution_pk
    async with services.db.write() as conn:
        await record_uploads(conn, account, [UploadItem(site, "1.2.3.5")], LAST_MOMENT)
    # when the ledger is summed per Shanghai day
    async with services.db.read() as conn:
        days = await ledger_days(
            conn, account, types=["CONSUMPTION"], since=None, until=None, now=AFTER_MIDNIGHT
        )
    # then the consumption is on 2 March, the day it happened (R-GEN-6)
    assert [(d.day.isoformat(), d.by_type) for d in days] == [
        ("2026-03-02", {"CONSUMPTION": (1, -1)})
    ]
