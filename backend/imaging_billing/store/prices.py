"""Price list repository: history kept, the newest effective price applies (R-GEN-3)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .commerce_tables import price
from .fetch import fetch_all
from .records import PriceRecord


async def insert_price(conn: AsyncConnection, **values: object) -> int:
    stmt = price.insert().values(**values).returning(price.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def prices_at(conn: AsyncConnection, at: datetime) -> dict[str, int]:
    """Each product's unit price in force at `at`."""
    ranked = (
        sa.select(
            price.c.product,
            price.c.unit_price_fen,
            sa.func.row_number()
            .over(
                partition_by=price.c.product,
                order_by=(price.c.effective_from.desc(), price.c.id.desc()),
            )
            .label("rank"),
        )
        .where(price.c.effective_from <= at)
        .subquery()
    )
    stmt = sa.select(ranked.c.product, ranked.c.unit_price_fen).where(ranked.c.rank == 1)
    return {row[0]: int(row[1]) for row in (await conn.execute(stmt)).all()}


async def price_history(
    conn: AsyncConnection, *, product: str | None, after_id: int | None, limit: int
) -> list[PriceRecord]:
    stmt = sa.select(price).order_by(price.c.id.desc()).limit(limit)
    if product is not None:
        stmt = stmt.where(price.c.product == product)
    if after_id is not None:
        stmt = stmt.where(price.c.id < after_id)
    return await fetch_all(conn, PriceRecord, stmt)


async def count_prices(conn: AsyncConnection, product: str | None) -> int:
    stmt = sa.select(sa.func.count()).select_from(price)
    if product is not None:
        stmt = stmt.where(price.c.product == product)
    return int((await conn.execute(stmt)).scalar_one())
