"""Fulfilment: a paid order's lines become resources at once, in the payment's
transaction (R-GEN-4). Exam lots settle arrears first (R-ARR-4)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.catalog import PRODUCTS, Family, ServiceVariant
from ..domain.exams import LotMode, lot_terms
from ..domain.ledger import Cause
from ..domain.orders import OrderState
from ..store import orders
from ..store.records import OrderLineRecord, OrderRecord
from . import ai, entitlements, settlement


class _Common(TypedDict):
    """What every resource a line becomes is credited with."""

    account_id: int
    now: datetime
    order_id: int | None


async def fulfil(conn: AsyncConnection, order: OrderRecord, *, now: datetime, actor: str) -> None:
    for line in await orders.order_lines(conn, order.id):
        await _fulfil_line(conn, order, line, now=now, actor=actor)
    await orders.update_order(conn, order.id, state=OrderState.FULFILLED.value, fulfilled_at=now)


async def _fulfil_line(
    conn: AsyncConnection,
    order: OrderRecord,
    line: OrderLineRecord,
    *,
    now: datetime,
    actor: str,
) -> None:
    product = PRODUCTS[line.product]
    common: _Common = {"account_id": order.account_id, "now": now, "order_id": order.id}
    if product.family is Family.EXAM:
        mode = LotMode.ANNUAL if product.per_year else LotMode.VOLUME
        await settlement.credit_exam_lot(
            conn,
            terms=lot_terms(mode, line.quantity, line.years),
            actor=actor,
            cause=Cause.ORDER,
            contract_ref=order.contract_ref,
            **common,
        )
    elif product.family is Family.AI_PACK:
        assert product.ai_product is not None
        await ai.credit_ai_pack(
            conn, product=product.ai_product, quantity=line.quantity, actor=actor, **common
        )
    elif product.family is Family.AI_LICENCE:
        assert product.ai_product is not None
        assert line.institution_id is not None  # per institution: checked when ordered
        await ai.grant_ai_licence(
            conn, institution_id=line.institution_id, product=product.ai_product, **common
        )
    elif product.family is Family.LICENCE:
        assert product.feature is not None
        assert line.institution_id is not None  # per institution: checked when ordered
        await entitlements.enable_licence(
            conn, institution_id=line.institution_id, feature=product.feature, **common
        )
    else:
        assert product.service is not None
        for _ in range(line.quantity):  # R-SVC-1: each service bought is used on its own
            await entitlements.open_service(
                conn,
                institution_id=line.institution_id,
                institution_name=line.institution_name,
                kind=product.service,
                variant=ServiceVariant(line.variant) if line.variant else None,
                years=line.years,
                starts_on=line.starts_on,
                **common,
            )
