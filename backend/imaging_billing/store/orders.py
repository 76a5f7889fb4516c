"""Order, order line and payment repository."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .commerce_tables import order_line, order_number_day, payment, purchase_order
from .fetch import fetch_all, fetch_one
from .records import OrderLineRecord, OrderRecord, PaymentRecord


async def next_in_day(conn: AsyncConnection, day: str) -> int:
    """The next order sequence of `day`, in the caller's transaction.

    One statement inserts the day's row or bumps it and returns the new value. On
    PostgreSQL the row stays locked until the transaction ends, so concurrent orders
    of one day queue here (and two first orders of a day meet on the primary key, the
    second then bumping the first's row); on SQLite write transactions already run one
    at a time. A refused order rolls its bump back: numbers do not skip."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(order_number_day).values(day=day, last=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[order_number_day.c.day],
        set_={"last": order_number_day.c.last + 1},
    ).returning(order_number_day.c.last)
    return int((await conn.execute(stmt)).scalar_one())


async def insert_order(
    conn: AsyncConnection, order: Mapping[str, object], lines: Sequence[Mapping[str, object]]
) -> int:
    stmt = purchase_order.insert().values(**order).returning(purchase_order.c.id)
    order_id = int((await conn.execute(stmt)).scalar_one())
    await conn.execute(order_line.insert(), [{**line, "order_id": order_id} for line in lines])
    return order_id


async def get_order(
    conn: AsyncConnection, order_id: int, *, lock: bool = False
) -> OrderRecord | None:
    stmt = sa.select(purchase_order).where(purchase_order.c.id == order_id)
    if lock:
        stmt = stmt.with_for_update()
    return await fetch_one(conn, OrderRecord, stmt)


async def order_lines(conn: AsyncConnection, order_id: int) -> list[OrderLineRecord]:
    stmt = sa.select(order_line).where(order_line.c.order_id == order_id).order_by(order_line.c.id)
    return await fetch_all(conn, OrderLineRecord, stmt)


async def update_order(conn: AsyncConnection, order_id: int, **values: object) -> None:
    await conn.execute(
        purchase_order.update().where(purchase_order.c.id == order_id).values(**values)
    )


def _order_filter(
    account_id: int | None, states: Sequence[str] | None
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if account_id is not None:
        where.append(purchase_order.c.account_id == account_id)
    if states:
        where.append(purchase_order.c.state.in_(list(states)))
    return where


async def page_orders(
    conn: AsyncConnection,
    *,
    account_id: int | None,
    states: Sequence[str] | None,
    after_id: int | None,
    limit: int,
) -> list[OrderRecord]:
    """Newest first."""
    where = _order_filter(account_id, states)
    if after_id is not None:
        where.append(purchase_order.c.id < after_id)
    stmt = sa.select(purchase_order).where(*where).order_by(purchase_order.c.id.desc()).limit(limit)
    return await fetch_all(conn, OrderRecord, stmt)


async def count_orders(
    conn: AsyncConnection, *, account_id: int | None, states: Sequence[str] | None
) -> int:
    where = _order_filter(account_id, states)
    stmt = sa.select(sa.func.count()).select_from(purchase_order).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def pending_licence_products(
    conn: AsyncConnection, institution_ids: Iterable[int]
) -> dict[int, set[str]]:
    """Licence products of orders still awaiting payment, per institution."""
    ids = list(set(institution_ids))
    if not ids:
        return {}
    stmt = (
        sa.select(order_line.c.institution_id, order_line.c.product)
        .join(purchase_order, purchase_order.c.id == order_line.c.order_id)
        .where(
            purchase_order.c.state == "PENDING_PAYMENT",
            order_line.c.institution_id.in_(ids),
            order_line.c.product.like("LICENCE_%"),
        )
    )
    found: dict[int, set[str]] = {}
    for institution_id, product in (await conn.execute(stmt)).all():
        found.setdefault(institution_id, set()).add(product)
    return found


async def find_payment(conn: AsyncConnection, reference: str) -> PaymentRecord | None:
    stmt = sa.select(payment).where(payment.c.reference == reference)
    return await fetch_one(conn, PaymentRecord, stmt)


async def insert_payment(conn: AsyncConnection, **values: object) -> int:
    stmt = payment.insert().values(**values).returning(payment.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def order_payments(conn: AsyncConnection, order_id: int) -> list[PaymentRecord]:
    stmt = sa.select(payment).where(payment.c.order_id == order_id).order_by(payment.c.id)
    return await fetch_all(conn, PaymentRecord, stmt)
