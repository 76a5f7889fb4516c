"""Commerce queries: the catalog with prices in force, price history, quotes, orders."""

from __future__ import annotations

import strawberry

from ...domain.catalog import PRODUCTS
from ...domain.orders import Channel, OrderState
from ...services import pricing
from ...services.queries import commerce as reads
from .. import connections as conn_
from ..connections import Connection
from ..context import Info
from ..errors import attempt
from .types import (
    Order,
    OrderLineInput,
    PriceEntry,
    Product,
    QuoteLine,
    QuoteResult,
    requests,
)


@strawberry.type
class CommerceQuery:
    @strawberry.field(description="Every product with its unit and its price in force now.")
    async def catalog(self, info: Info) -> list[Product]:
        price_map = await pricing.price_list(info.context.db, info.context.now())
        return [
            Product(
                code=p.code,
                family=p.family.value,
                unit=p.unit,
                per_year=p.per_year,
                online=p.online,
                per_institution=p.per_institution,
                unit_price_fen=price_map.get(p.code),
            )
            for p in PRODUCTS.values()
        ]

    @strawberry.field(description="Operators: the price history, newest first.")
    async def price_history(
        self, info: Info, first: int, after: str | None = None, product: str | None = None
    ) -> Connection[PriceEntry]:
        info.context.principal.require_operator()
        size = conn_.page_size(first)
        page = await reads.prices_page(
            info.context.reader, product=product, after_id=conn_.after_pk(after), limit=size + 1
        )
        return conn_.build(page.rows, size, page.total, PriceEntry.from_row)

    @strawberry.field(
        description="R-ORD-4: price a basket by the guide's formulas. `channel: OFFLINE` "
        "(operators) also prices offline-only products."
    )
    async def quote(
        self, info: Info, lines: list[OrderLineInput], channel: Channel = Channel.ONLINE
    ) -> QuoteResult:
        c = info.context

        async def run() -> QuoteResult:
            found = await pricing.quote_lines(
                c.db,
                c.principal,
                lines=requests(lines),
                now=c.now(),
                offline=channel is Channel.OFFLINE,
            )
            return QuoteResult(
                lines=[
                    QuoteLine(
                        product=p.product.code,
                        quantity=p.request.quantity,
                        years=p.years,
                        unit_price_fen=p.unit_price_fen,
                        amount_fen=p.amount_fen,
                    )
                    for p in found.lines
                ],
                total_fen=found.total_fen,
            )

        result, errors = await attempt(info.context.lang, run())
        return result or QuoteResult(user_errors=errors)

    @strawberry.field(description="Operators: all orders; others: their account's.")
    async def orders(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        states: list[OrderState] | None = None,
    ) -> Connection[Order]:
        size = conn_.page_size(first)
        page = await reads.my_orders_page(
            info.context.reader,
            states=[s.value for s in states] if states else None,
            after_id=conn_.after_pk(after),
            limit=size + 1,
        )
        return conn_.build(page.rows, size, page.total, Order.from_row)
