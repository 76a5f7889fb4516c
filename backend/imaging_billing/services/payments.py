"""Payment of online orders: an operator confirms a received transfer, or the payment
provider calls the signed callback. Either way the order is fulfilled in the same
transaction (R-GEN-4, `steps/fulfilment.py`), and one payment reference pays one
order once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.errors import RuleViolation
from ..domain.orders import OrderState
from ..store import orders
from ..store.db import Database
from ..store.records import OrderRecord
from .checks import check_text
from .principals import Principal
from .steps.fulfilment import PaymentMethod, accept_payment


@dataclass(frozen=True)
class PaymentResult:
    order: OrderRecord
    replayed: bool  # the same payment reported again: nothing changed


async def confirm_transfer(
    db: Database,
    principal: Principal,
    *,
    order_id: int,
    reference: str,
    amount_fen: int,
    now: datetime,
) -> PaymentResult:
    """An operator confirms a bank transfer received for an order."""
    principal.require_operator()
    reference = check_text(reference, "reference", code="PAYMENT_REFERENCE_REQUIRED")
    async with db.write() as conn:
        return await _pay(
            conn,
            order_id=order_id,
            reference=f"transfer:{reference}",
            method=PaymentMethod.TRANSFER,
            amount_fen=amount_fen,
            actor=principal.actor,
            now=now,
        )


async def provider_callback(
    db: Database, *, payment_id: str, order_id: int, amount_fen: int, now: datetime
) -> PaymentResult:
    """The payment provider's (already signature-checked) notification."""
    payment_id = check_text(payment_id, "paymentId", code="PAYMENT_REFERENCE_REQUIRED")
    async with db.write() as conn:
        return await _pay(
            conn,
            order_id=order_id,
            reference=f"provider:{payment_id}",
            method=PaymentMethod.CALLBACK,
            amount_fen=amount_fen,
            actor="system:payment-callback",
            now=now,
        )


async def _pay(
    conn: AsyncConnection,
    *,
    order_id: int,
    reference: str,
    method: PaymentMethod,
    amount_fen: int,
    actor: str,
    now: datetime,
) -> PaymentResult:
    order = await orders.get_order(conn, order_id, lock=True)
    if order is None:
        raise RuleViolation("ORDER_NOT_FOUND", "orderId")
    known = await orders.find_payment(conn, reference)
    if known is not None:
        if known.order_id != order_id or known.amount_fen != amount_fen:
            raise RuleViolation("PAYMENT_REFERENCE_REUSED", "reference")
        return PaymentResult(order, replayed=True)
    if order.state != OrderState.PENDING_PAYMENT.value:
        raise RuleViolation("ORDER_NOT_PAYABLE", "orderId")
    if amount_fen != order.total_fen:
        raise RuleViolation("PAYMENT_AMOUNT_MISMATCH", "amountFen")
    await accept_payment(
        conn, order, reference=reference, method=method, amount_fen=amount_fen, actor=actor, now=now
    )
    paid = await orders.get_order(conn, order_id)
    assert paid is not None
    return PaymentResult(paid, replayed=False)
