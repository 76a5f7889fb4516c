"""Ledger repository (R-GEN-7): append and read, never update or delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .daily_counts import local_day
from .fetch import fetch_all, fetch_one
from .records import LedgerEntryRecord, LedgerExportRecord
from .tables import exam, ledger_entry

_INSERT = ledger_entry.insert()  # built once: appended to in every upload's transaction


async def append(conn: AsyncConnection, entries: Sequence[Mapping[str, object]]) -> None:
    if entries:
        await conn.execute(_INSERT, list(entries))


def _filtered(
    account_id: int,
    types: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
    lot_id: int | None = None,
) -> list[sa.ColumnElement[bool]]:
    where = [ledger_entry.c.account_id == account_id]
    if types:
        where.append(ledger_entry.c.type.in_(list(types)))
    if since is not None:
        where.append(ledger_entry.c.occurred_at >= since)
    if until is not None:
        where.append(ledger_entry.c.occurred_at < until)
    if lot_id is not None:
        where.append(ledger_entry.c.lot_id == lot_id)
    return where


async def page_entries(
    conn: AsyncConnection,
    account_id: int,
    *,
    after_id: int | None,
    limit: int,
    types: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lot_id: int | None = None,
    offset: int = 0,
) -> list[LedgerEntryRecord]:
    """Newest first; `offset` only for a jump to a numbered page (api/connections.py)."""
    where = _filtered(account_id, types, since, until, lot_id)
    if after_id is not None:
        where.append(ledger_entry.c.id < after_id)
    stmt = sa.select(ledger_entry).where(*where).order_by(ledger_entry.c.id.desc()).limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return await fetch_all(conn, LedgerEntryRecord, stmt)


async def export_batch(
    conn: AsyncConnection,
    account_id: int,
    *,
    before_id: int | None,
    limit: int,
    types: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> list[LedgerExportRecord]:
    """One keyset batch of a CSV export, newest first, with the exam's Study UID."""
    where = _filtered(account_id, types, since, until)
    if before_id is not None:
        where.append(ledger_entry.c.id < before_id)
    stmt = (
        sa.select(ledger_entry, exam.c.study_uid)
        .select_from(ledger_entry.outerjoin(exam, exam.c.id == ledger_entry.c.exam_id))
        .where(*where)
        .order_by(ledger_entry.c.id.desc())
        .limit(limit)
    )
    return await fetch_all(conn, LedgerExportRecord, stmt)


async def day_sums(
    conn: AsyncConnection,
    account_id: int,
    *,
    types: Sequence[str] | None,
    since: datetime,
    until: datetime,
) -> list[tuple[date, str, int, int]]:
    """(Shanghai day, type, entries, signed quantity), newest day first."""
    day = local_day(conn, ledger_entry.c.occurred_at).label("day")
    stmt = (
        sa.select(day, ledger_entry.c.type, sa.func.count(), sa.func.sum(ledger_entry.c.quantity))
        .where(*_filtered(account_id, types, since, until))
        .group_by(day, ledger_entry.c.type)
        .order_by(day.desc(), ledger_entry.c.type)
    )
    found = []
    for value, type_, count, total in (await conn.execute(stmt)).all():
        when = value if isinstance(value, date) else date.fromisoformat(str(value))
        found.append((when, str(type_), int(count), int(total)))
    return found


async def count_entries(
    conn: AsyncConnection,
    account_id: int,
    *,
    types: Sequence[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lot_id: int | None = None,
) -> int:
    where = _filtered(account_id, types, since, until, lot_id)
    stmt = sa.select(sa.func.count()).select_from(ledger_entry).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def sums_by_lot(conn: AsyncConnection, account_id: int) -> dict[int | None, int]:
    """Signed quantity per lot; under None, the arrears movements (entries without a lot)."""
    stmt = (
        sa.select(ledger_entry.c.lot_id, sa.func.sum(ledger_entry.c.quantity))
        .where(ledger_entry.c.account_id == account_id)
        .group_by(ledger_entry.c.lot_id)
    )
    return {row[0]: int(row[1]) for row in (await conn.execute(stmt)).all()}


async def count_by_type(conn: AsyncConnection, account_id: int) -> dict[str, int]:
    stmt = (
        sa.select(ledger_entry.c.type, sa.func.count())
        .where(ledger_entry.c.account_id == account_id)
        .group_by(ledger_entry.c.type)
    )
    return {row[0]: int(row[1]) for row in (await conn.execute(stmt)).all()}


async def expiry_by_lot(conn: AsyncConnection, account_id: int) -> dict[int, int]:
    stmt = (
        sa.select(ledger_entry.c.lot_id, sa.func.sum(ledger_entry.c.quantity))
        .where(ledger_entry.c.account_id == account_id, ledger_entry.c.type == "EXPIRY")
        .group_by(ledger_entry.c.lot_id)
    )
    return {int(row[0]): -int(row[1]) for row in (await conn.execute(stmt)).all()}


async def get_entry(conn: AsyncConnection, entry_id: int) -> LedgerEntryRecord | None:
    stmt = sa.select(ledger_entry).where(ledger_entry.c.id == entry_id)
    return await fetch_one(conn, LedgerEntryRecord, stmt)
