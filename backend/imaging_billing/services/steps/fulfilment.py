"""The step that turns a payment into resources (R-GEN-4): the payment is recorded,
the order becomes PAID, every line is credited at once and the order is FULFILLED,
all in the payment's own transaction. Each line is credited by its aggregate's step:
exam lots settle arrears first (R-ARR-4), then AI packs and licences, licences,
services."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.catalog import PRODUCTS, Family, ServiceVariant
from ...domain.exams import LotMode, lot_terms
from ...domain.ledger import Cause
from ...domain.orders import OrderState
from ...domain.webhooks import EventType
from ...store import orders
from ...store.records import OrderLineRecord, OrderRecord
from .ai import credit_ai_pack, grant_ai_licence
from .entitlements import enable_licence, open_service
from .lots import credit_lot
from .outbox import record_event, record_order_paid
from .snapshot import global_id


class _Common(TypedDict):
    """What every line's credit is given: whose, when, from which order."""

    account_id: int
    now: datetime
    order_id: int


class PaymentMethod(StrEnum):
    CALLBACK = "CALLBACK"
    TRANSFER = "TRANSFER"
    OFFLINE = "OFFLINE"


async def accept_payment(
    conn: AsyncConnection,
    order: OrderRecord,
    *,
    reference: str,
    method: PaymentMethod,
    amount_fen: int,
    actor: str,
    now: datetime,
) -> None:
    """Record the payment of `order` (locked, awaiting payment) and fulfil it."""
    await orders.insert_payment(
        conn,
        order_id=order.id,
        reference=reference,
        method=method.value,
        amount_fen=amount_fen,
        received_at=now,
        recorded_by=actor,
    )
    await orders.update_order(conn, order.id, state=OrderState.PAID.value, paid_at=now)
    lines = await orders.order_lines(conn, order.id)
    for line in lines:
        await _credit_line(conn, order, line, now=now, actor=actor)
    await orders.update_order(conn, order.id, state=OrderState.FULFILLED.value, fulfilled_at=now)
    data = {
        "number": order.number,
        "totalFen": order.total_fen,
        "amountFen": amount_fen,
        "method": method.value,
        "state": OrderState.FULFILLED.value,
    }
    await record_order_paid(
        conn, order_id=order.id, account_id=order.account_id, data=data, now=now
    )
    fulfilled: dict[str, object] = {
        "orderId": global_id("Order", order.id),
        "number": order.number,
        "fulfilledAt": now.isoformat(),
        "lines": [_line(line) for line in lines],
    }
    await record_event(
        conn, EventType.ORDER_FULFILLED, f"ful_{order.id}", order.account_id, fulfilled, now
    )


def _line(line: OrderLineRecord) -> dict[str, object]:
    """What one line credited, as `order.fulfilled` lists it."""
    institution = line.institution_id
    return {
        "product": line.product,
        "quantity": line.quantity,
        "years": line.years,
        "institutionId": None if institution is None else global_id("Institution", institution),
        "amountFen": line.amount_fen,
    }


async def _credit_line(
    conn: AsyncConnection, order: OrderRecord, line: OrderLineRecord, *, now: datetime, actor: str
) -> None:
    product = PRODUCTS[line.product]
    common = _Common(account_id=order.account_id, now=now, order_id=order.id)
    if product.family is Family.EXAM:
        mode = LotMode.ANNUAL if product.per_year else LotMode.VOLUME
        await credit_lot(
            conn,
            terms=lot_terms(mode, line.quantity, line.years),
            actor=actor,
            cause=Cause.ORDER,
            contract_ref=order.contract_ref,
            **common,
        )
    elif product.family is Family.AI_PACK:
        assert product.ai_product is not None
        await credit_ai_pack(
            conn, product=product.ai_product, quantity=line.quantity, actor=actor, **common
        )
    elif product.family is Family.AI_LICENCE:
        assert product.ai_product is not None
        assert line.institution_id is not None  # per-institution lines name one (R-ORD-2)
        await grant_ai_licence(
            conn, institution_id=line.institution_id, product=product.ai_product, **common
        )
    elif product.family is Family.LICENCE:
        assert product.feature is not None
        assert line.institution_id is not None
        await enable_licence(
            conn, institution_id=line.institution_id, feature=product.feature, **common
        )
    else:
        assert product.service is not None
        for _ in range(line.quantity):  # R-SVC-1: each service bought is used on its own
            await open_service(
                conn,
                institution_id=line.institution_id,
                institution_name=line.institution_name,
                kind=product.service,
                variant=ServiceVariant(line.variant) if line.variant else None,
                years=line.years,
                starts_on=line.starts_on,
                **common,
            )
