"""Batched look-ups by key: one statement for a whole page's worth of keys.

What per-request DataLoaders call (api/loaders.py, through services/queries/): a page of
50 exams asks for their lots and institutions once each, not 50 times.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from .access_tables import user
from .commerce_tables import ai_licence, licence, purchase_order
from .tables import account, agreement, exam, exam_lot, institution


async def _by_id(
    conn: AsyncConnection, table: sa.Table, keys: Sequence[int]
) -> dict[int, Row[Any]]:
    if not keys:
        return {}
    stmt = sa.select(table).where(table.c.id.in_(sorted(set(keys))))
    return {row.id: row for row in (await conn.execute(stmt)).all()}


async def _grouped(
    conn: AsyncConnection, table: sa.Table, column: str, keys: Sequence[int]
) -> dict[int, list[Row[Any]]]:
    """Rows of `table` whose `column` is one of `keys`, grouped by it, each group by id."""
    found: dict[int, list[Row[Any]]] = {key: [] for key in keys}
    if not keys:
        return found
    owner = table.c[column]
    stmt = sa.select(table).where(owner.in_(sorted(set(keys)))).order_by(table.c.id)
    for row in (await conn.execute(stmt)).all():
        found[getattr(row, column)].append(row)
    return found


async def accounts_by_id(conn: AsyncConnection, keys: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by_id(conn, account, keys)


async def institutions_by_id(conn: AsyncConnection, keys: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by_id(conn, institution, keys)


async def lots_by_id(conn: AsyncConnection, keys: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by_id(conn, exam_lot, keys)


async def exams_by_id(conn: AsyncConnection, keys: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by_id(conn, exam, keys)


async def orders_by_id(conn: AsyncConnection, keys: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by_id(conn, purchase_order, keys)


async def users_by_id(conn: AsyncConnection, keys: Sequence[int]) -> dict[int, Row[Any]]:
    return await _by_id(conn, user, keys)


async def lots_of_accounts(
    conn: AsyncConnection, account_ids: Sequence[int]
) -> dict[int, list[Row[Any]]]:
    """Every lot of each account, by purchase (lots are few: 10,000 exams each)."""
    return await _grouped(conn, exam_lot, "account_id", account_ids)


async def ai_licences_of_institutions(
    conn: AsyncConnection, institution_ids: Sequence[int]
) -> dict[int, list[Row[Any]]]:
    return await _grouped(conn, ai_licence, "institution_id", institution_ids)


async def licences_of_institutions(
    conn: AsyncConnection, institution_ids: Sequence[int]
) -> dict[int, list[Row[Any]]]:
    return await _grouped(conn, licence, "institution_id", institution_ids)


async def latest_agreements(
    conn: AsyncConnection, account_ids: Sequence[int]
) -> dict[int, Row[Any]]:
    """Each account's agreement in force: the one recorded last (R-GEN-2)."""
    if not account_ids:
        return {}
    stmt = (
        sa.select(agreement)
        .where(agreement.c.account_id.in_(sorted(set(account_ids))))
        .order_by(agreement.c.recorded_at, agreement.c.id)
    )
    # Ordered oldest first, so the last one seen per account is the latest.
    return {row.account_id: row for row in (await conn.execute(stmt)).all()}
