"""Fulfilment: a paid order's lines become resources at once, in the payment's
transaction (R-GEN-4). Exam lots settle arrears first (R-ARR-4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.catalog import PRODUCTS, Family, ServiceVariant
from ..domain.exams import LotMode, lot_terms
from ..domain.ledger import Cause
from ..domain.orders import OrderState
from ..store import orders
from . import ai, entitlements, settlement


async def fulfil(conn: AsyncConnection, order: Any, *, now: datetime, actor: str) -> None:
    for line in await orders.order_lines(conn, order.id):
        await _fulfil_line(conn, order, line, now=now, actor=actor)
    await orders.update_order(conn, order.id, state=OrderState.FULFILLED.value, fulfilled_at=now)


async def _fulfil_line(
    conn: AsyncConnection, order: Any, line: Any, *, now: datetime, actor: str
) -> None:
    product = PRODUCTS[line.product]
    common = {"account_id": order.account_id, "now": now, "order_id": order.id}
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
        await ai.grant_ai_licence(
            conn, institution_id=line.institution_id, product=product.ai_product, **common
        )
    elif product.family is Family.LICENCE:
        assert product.feature is not None
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
