"""Price list and quotes (R-GEN-3, R-ORD-4)."""

from __future__ import annotations

from datetime import datetime

from ..domain.clock import local_date
from ..domain.errors import RuleViolation
from ..domain.money import MAX_FEN
from ..domain.orders import LineRequest, Quote, check_line_count, product_of, quote
from ..store import prices
from ..store.db import Database
from ..store.records import PriceRecord
from .principals import Principal


async def set_price(
    db: Database,
    principal: Principal,
    *,
    product: str,
    unit_price_fen: int,
    effective_from: datetime | None,
    now: datetime,
) -> PriceRecord:
    """A new price from `effective_from` (default now); orders keep the price they got."""
    principal.require_operator()
    product_of(product, "product")
    if not 0 <= unit_price_fen <= MAX_FEN:
        raise RuleViolation("R_GEN_3_AMOUNT", "unitPriceFen")
    start = effective_from or now
    if start < now:
        raise RuleViolation("PRICE_EFFECTIVE_PAST", "effectiveFrom")
    async with db.write() as conn:
        price_id = await prices.insert_price(
            conn,
            product=product,
            unit_price_fen=unit_price_fen,
            effective_from=start,
            set_by=principal.actor,
            created_at=now,
        )
        rows = await prices.price_history(conn, product=product, after_id=price_id + 1, limit=1)
    return rows[0]


async def price_list(db: Database, now: datetime) -> dict[str, int]:
    async with db.read() as conn:
        return await prices.prices_at(conn, now)


async def quote_lines(
    db: Database,
    principal: Principal,
    *,
    lines: list[LineRequest],
    now: datetime,
    offline: bool = False,
) -> Quote:
    """Any signed-in person may price a basket; nothing is written. Offline-only
    products (R-AI-4) are priced only for operators, who record such purchases."""
    if offline:
        principal.require_operator()
    check_line_count(lines)
    price_map = await price_list(db, now)
    return quote(lines, price_map, online=not offline, today=local_date(now), for_quote=True)
