"""Exam-lot repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.exams import Lot
from .fetch import fetch_all, fetch_one
from .records import LotRecord
from .tables import exam_lot

# Built once (see accounts._LOCK_ACCOUNT): the upload path runs these per transaction.
_USABLE = sa.select(exam_lot).where(
    exam_lot.c.account_id == sa.bindparam("account_id"),
    exam_lot.c.expires_at > sa.bindparam("now"),
    exam_lot.c.used < exam_lot.c.quantity,
)
_ADD_USED = (
    exam_lot.update()
    .where(exam_lot.c.id == sa.bindparam("lot_id"))
    .values(used=exam_lot.c.used + sa.bindparam("delta"))
)


def to_lot(row: LotRecord) -> Lot:
    return Lot(
        id=row.id,
        quantity=row.quantity,
        used=row.used,
        storage_years=row.storage_years,
        purchased_at=row.purchased_at,
        expires_at=row.expires_at,
    )


async def insert_lot(conn: AsyncConnection, **values: object) -> int:
    stmt = exam_lot.insert().values(**values).returning(exam_lot.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def get_lot(conn: AsyncConnection, lot_id: int) -> LotRecord | None:
    return await fetch_one(conn, LotRecord, sa.select(exam_lot).where(exam_lot.c.id == lot_id))


async def usable_lots(conn: AsyncConnection, account_id: int, now: datetime) -> list[Lot]:
    """Unexpired lots with a remainder, the only ones an upload can draw from."""
    rows = await fetch_all(conn, LotRecord, _USABLE, {"account_id": account_id, "now": now})
    return [to_lot(row) for row in rows]


async def account_lots(conn: AsyncConnection, account_id: int) -> list[LotRecord]:
    stmt = sa.select(exam_lot).where(exam_lot.c.account_id == account_id).order_by(exam_lot.c.id)
    return await fetch_all(conn, LotRecord, stmt)


async def page_lots(
    conn: AsyncConnection,
    account_id: int,
    *,
    after_id: int | None,
    limit: int,
    unexpired_at: datetime | None = None,
) -> list[LotRecord]:
    stmt = (
        sa.select(exam_lot)
        .where(exam_lot.c.account_id == account_id)
        .order_by(exam_lot.c.id)
        .limit(limit)
    )
    if after_id is not None:
        stmt = stmt.where(exam_lot.c.id > after_id)
    if unexpired_at is not None:
        stmt = stmt.where(exam_lot.c.expires_at > unexpired_at)
    return await fetch_all(conn, LotRecord, stmt)


async def add_used(conn: AsyncConnection, deltas: dict[int, int]) -> None:
    """Add to each lot's cached `used` counter in one executemany."""
    if not deltas:
        return
    await conn.execute(_ADD_USED, [{"lot_id": k, "delta": v} for k, v in deltas.items()])


async def expired_unswept(conn: AsyncConnection, now: datetime, limit: int) -> list[LotRecord]:
    stmt = (
        sa.select(exam_lot)
        .where(exam_lot.c.expires_at <= now, exam_lot.c.swept_at.is_(None))
        .order_by(exam_lot.c.account_id, exam_lot.c.id)
        .limit(limit)
    )
    return await fetch_all(conn, LotRecord, stmt)


async def mark_swept(conn: AsyncConnection, lot_id: int, forfeited: int, now: datetime) -> None:
    await conn.execute(
        exam_lot.update()
        .where(exam_lot.c.id == lot_id)
        .values(forfeited=exam_lot.c.forfeited + forfeited, swept_at=now)
    )


async def add_forfeited(conn: AsyncConnection, lot_id: int, quantity: int) -> None:
    await conn.execute(
        exam_lot.update()
        .where(exam_lot.c.id == lot_id)
        .values(forfeited=exam_lot.c.forfeited + quantity)
    )


async def expiring_unnoticed(
    conn: AsyncConnection, *, before: datetime, now: datetime, column: str, limit: int
) -> list[LotRecord]:
    """Unexpired lots with a remainder expiring before `before` whose notice is not yet sent."""
    flag = exam_lot.c[column]
    stmt = (
        sa.select(exam_lot)
        .where(
            exam_lot.c.expires_at > now,
            exam_lot.c.expires_at <= before,
            exam_lot.c.used < exam_lot.c.quantity,
            flag.is_(False),
        )
        .order_by(exam_lot.c.id)
        .limit(limit)
    )
    return await fetch_all(conn, LotRecord, stmt)


async def set_flags(conn: AsyncConnection, lot_ids: Sequence[int], **values: object) -> None:
    if lot_ids:
        await conn.execute(exam_lot.update().where(exam_lot.c.id.in_(lot_ids)).values(**values))


async def count_lots(
    conn: AsyncConnection, account_id: int, *, unexpired_at: datetime | None = None
) -> int:
    stmt = (
        sa.select(sa.func.count()).select_from(exam_lot).where(exam_lot.c.account_id == account_id)
    )
    if unexpired_at is not None:
        stmt = stmt.where(exam_lot.c.expires_at > unexpired_at)
    return int((await conn.execute(stmt)).scalar_one())


async def set_quantity(conn: AsyncConnection, lot_id: int, quantity: int) -> None:
    await conn.execute(exam_lot.update().where(exam_lot.c.id == lot_id).values(quantity=quantity))
