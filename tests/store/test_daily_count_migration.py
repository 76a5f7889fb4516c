"""Migration 0007 counts the exams recorded before it into the daily counters, per
account and Asia/Shanghai day, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command

from imaging_billing.store import daily_counts
from imaging_billing.store.db import Database
from imaging_billing.store.migrate import alembic_config, upgrade
from imaging_billing.store.tables import account, exam, exam_lot, institution, ledger_entry
from imaging_billing.store.usage_tables import daily_exam_count


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


# 23:59:59.9996 in Shanghai on 1 March: SQLite's date() would round it into 2 March.
LAST_MOMENT_1_MARCH = datetime(2026, 3, 1, 15, 59, 59, 999_600, tzinfo=UTC)


async def test_exams_recorded_before_the_counters_are_counted_per_shanghai_day(
    database_url: str,
) -> None:
    # given a database at 0006 with exams around Shanghai midnight (16:00 UTC): covered,
    # in arrears then settled, in arrears and voided two days later, voided the same day
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0006")
    db = Database(database_url)
    async with db.write() as conn:
        a, b = await _accounts(conn)
        site_a, site_b = await _institution(conn, a), await _institution(conn, b)
        lot = await _lot(conn, a)
        await _exam(conn, a, site_a, "1", LAST_MOMENT_1_MARCH, lot_id=lot)
        settled = await _exam(conn, a, site_a, "2", utc(1, 16), lot_id=lot)  # 00:00, 2 March
        voided = await _exam(conn, a, site_a, "3", utc(1, 17), voided_at=utc(3, 2))
        await _exam(conn, a, site_a, "4", utc(1, 9), lot_id=lot, voided_at=utc(1, 10))
        await _exam(conn, b, site_b, "5", utc(2, 1), lot_id=None)
        for exam_id, account_id in ((settled, a), (voided, a)):
            await _arrears_entry(conn, account_id, exam_id, utc(1, 16))
    await db.dispose()
    # when it migrates
    await asyncio.to_thread(upgrade, database_url)
    # then each account's days hold the exams recorded, recorded in arrears, voided
    db = Database(database_url)
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(daily_exam_count))).all()
        recounted = await daily_counts.count_from_exams(conn)
    await db.dispose()
    migrated = {(r.account_id, r.day): (r.uploads, r.arrears, r.voids) for r in rows}
    assert migrated == {
        (a, date(2026, 3, 1)): (2, 0, 1),
        (a, date(2026, 3, 2)): (2, 2, 0),
        (a, date(2026, 3, 3)): (0, 0, 1),
        (b, date(2026, 3, 2)): (1, 0, 0),
    }
    # and the repository's own count from the exams (reconciliation's) agrees
    assert {k: (r.uploads, r.arrears, r.voids) for k, r in recounted.items()} == migrated


async def _accounts(conn: Any) -> tuple[int, int]:
    ids = []
    for name in ("A", "B"):
        stmt = account.insert().values(name=name, created_at=utc(1, 0)).returning(account.c.id)
        ids.append(int((await conn.execute(stmt)).scalar_one()))
    return ids[0], ids[1]


async def _institution(conn: Any, account_id: int) -> int:
    stmt = (
        institution.insert()
        .values(account_id=account_id, name="Site", created_at=utc(1, 0), token_key="k")
        .returning(institution.c.id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def _lot(conn: Any, account_id: int) -> int:
    stmt = (
        exam_lot.insert()
        .values(
            account_id=account_id,
            mode="VOLUME",
            quantity=10_000,
            storage_years=15,
            purchased_at=utc(1, 0),
            expires_at=datetime(2027, 3, 1, tzinfo=UTC),
            created_by="t",
        )
        .returning(exam_lot.c.id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def _exam(
    conn: Any,
    account_id: int,
    institution_id: int,
    uid: str,
    recorded_at: datetime,
    *,
    lot_id: int | None = None,
    voided_at: datetime | None = None,
) -> int:
    stmt = (
        exam.insert()
        .values(
            account_id=account_id,
            institution_id=institution_id,
            study_uid=f"1.2.{uid}",
            uploaded_at=recorded_at,
            recorded_at=recorded_at,
            lot_id=lot_id,
            voided_at=voided_at,
            void_reason="wrong" if voided_at else None,
        )
        .returning(exam.c.id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def _arrears_entry(conn: Any, account_id: int, exam_id: int, at: datetime) -> None:
    await conn.execute(
        ledger_entry.insert().values(
            account_id=account_id,
            type="ARREARS",
            exam_id=exam_id,
            quantity=1,
            occurred_at=at,
            cause="EXAM",
            actor="institution:1",
        )
    )
