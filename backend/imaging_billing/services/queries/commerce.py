"""Orders, payments and prices as a principal may read them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.errors import RuleViolation
from ...store import lookups, orders, prices
from ..reader import Reader
from . import Page


async def orders_by_id(reader: Reader, keys: Sequence[int]) -> list[Row[Any] | None]:
    found = await reader.run(lookups.orders_by_id, keys)
    see = reader.principal.can_see_account
    return [
        row if (row := found.get(key)) is not None and see(row.account_id) else None for key in keys
    ]


async def _orders_page(
    conn: AsyncConnection,
    account_id: int | None,
    states: list[str] | None,
    after_id: int | None,
    limit: int,
) -> Page[Row[Any]]:
    rows = await orders.page_orders(
        conn, account_id=account_id, states=states, after_id=after_id, limit=limit
    )
    return Page(rows, await orders.count_orders(conn, account_id=account_id, states=states))


async def orders_page(
    reader: Reader,
    account_id: int | None,
    *,
    states: list[str] | None,
    after_id: int | None,
    limit: int,
) -> Page[Row[Any]]:
    """Newest first. `account_id` None: every account's, for operators only."""
    if account_id is None:
        reader.principal.require_operator()
    else:
        reader.principal.require_account(account_id)
    return await reader.run(_orders_page, account_id, states, after_id, limit)


async def my_orders_page(
    reader: Reader, *, states: list[str] | None, after_id: int | None, limit: int
) -> Page[Row[Any]]:
    """Operators: every order; people of an account: their account's."""
    principal = reader.principal
    if not principal.is_operator and principal.account_id is None:
        raise RuleViolation("FORBIDDEN")
    return await orders_page(
        reader, principal.account_id, states=states, after_id=after_id, limit=limit
    )


async def order_lines(reader: Reader, order: Row[Any]) -> list[Row[Any]]:
    reader.principal.require_account(order.account_id)
    return await reader.run(orders.order_lines, order.id)


async def order_payments(reader: Reader, order: Row[Any]) -> list[Row[Any]]:
    reader.principal.require_account(order.account_id)
    return await reader.run(orders.order_payments, order.id)


async def _prices_page(
    conn: AsyncConnection, product: str | None, after_id: int | None, limit: int
) -> Page[Row[Any]]:
    rows = await prices.price_history(conn, product=product, after_id=after_id, limit=limit)
    return Page(rows, await prices.count_prices(conn, product))


async def prices_page(
    reader: Reader, *, product: str | None, after_id: int | None, limit: int
) -> Page[Row[Any]]:
    """Operators: the price history, newest first."""
    reader.principal.require_operator()
    return await reader.run(_prices_page, product, after_id, limit)
