"""Ledger repository (R-GEN-7): append and read, never update or delete."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import ledger_entry

_INSERT = ledger_entry.insert()  # built once: appended to in every upload's transaction


async def append(conn: AsyncConnection, entries: Sequence[dict[str, Any]]) -> None:
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
) -> list[Row[Any]]:
    """Newest first."""
    where = _filtered(account_id, types, since, until, lot_id)
    if after_id is not None:
        where.append(ledger_entry.c.id < after_id)
    stmt = sa.select(ledger_entry).where(*where).order_by(ledger_entry.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).all())


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


async def get_entry(conn: AsyncConnection, entry_id: int) -> Row[Any] | None:
    stmt = sa.select(ledger_entry).where(ledger_entry.c.id == entry_id)
    return (await conn.execute(stmt)).first()
