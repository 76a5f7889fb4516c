"""The commerce fields of `Account`, and the order lists they share with the root."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from ...domain.orders import OrderState
from ...services.queries import commerce as reads
from .. import connections as conn_
from ..connections import Connection
from ..context import Info
from .types import Order


@strawberry.type
class AccountCommerceFields:
    """Mixed into Account; `self.id` is its key."""

    if TYPE_CHECKING:
        id: int

    @strawberry.field(description="Orders of this account, newest first.")
    async def orders(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        states: list[OrderState] | None = None,
    ) -> Connection[Order]:
        size = conn_.page_size(first)
        page = await reads.orders_page(
            info.context.reader,
            self.id,
            states=[s.value for s in states] if states else None,
            after_id=conn_.after_pk(after),
            limit=size + 1,
        )
        return conn_.build(page.rows, size, page.total, Order.from_row)
