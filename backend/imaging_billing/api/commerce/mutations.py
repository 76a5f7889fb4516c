"""Commerce mutations: prices, orders, payment confirmation, offline purchases, adjustments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from ...services import lots, ordering, payments, pricing
from .. import ids
from ..accounts.mutations import account_pk
from ..context import Info
from ..errors import UserError, attempt
from ..exams.types import ExamLot
from ..scalars import Fen
from .types import Order, OrderLineInput, PriceEntry, requests


def order_pk(value: strawberry.ID) -> int:
    return ids.decode(value, "Order", missing="ORDER_NOT_FOUND", field="orderId")


@strawberry.type
class OrderPayload:
    order: Order | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PaymentPayload:
    order: Order | None = None
    replayed: bool = strawberry.field(default=False, description="Already recorded: unchanged.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetPricePayload:
    price: PriceEntry | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AdjustExamLotPayload:
    lot: ExamLot | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CommerceMutation:
    @strawberry.mutation(description="Operators: a unit price from `effectiveFrom` (default now).")
    async def set_price(
        self,
        info: Info,
        product: str,
        unit_price_fen: Annotated[int, strawberry.argument(graphql_type=Fen)],
        effective_from: datetime | None = None,
    ) -> SetPricePayload:
        c = info.context
        row, errors = await attempt(
            info.context.lang,
            pricing.set_price(
                c.db,
                c.principal,
                product=product,
                unit_price_fen=unit_price_fen,
                effective_from=effective_from,
                now=c.now(),
            ),
        )
        return SetPricePayload(price=row and PriceEntry.from_row(row), user_errors=errors)

    @strawberry.mutation(description="R-ORD-1: an online order awaiting payment.")
    async def place_order(
        self,
        info: Info,
        account_id: strawberry.ID,
        lines: list[OrderLineInput],
        accept_terms: bool,
        idempotency_key: str | None = None,
    ) -> OrderPayload:
        c = info.context

        async def run() -> Order:
            row = await ordering.place_order(
                c.db,
                c.principal,
                account_id=account_pk(account_id),
                lines=requests(lines),
                accept_terms=accept_terms,
                idempotency_key=idempotency_key,
                now=c.now(),
            )
            return Order.from_row(row)

        order, errors = await attempt(info.context.lang, run())
        return OrderPayload(order=order, user_errors=errors)

    @strawberry.mutation(description="R-GEN-5: only before payment.")
    async def cancel_order(self, info: Info, order_id: strawberry.ID) -> OrderPayload:
        c = info.context

        async def run() -> Order:
            row = await ordering.cancel_order(
                c.db, c.principal, order_id=order_pk(order_id), now=c.now()
            )
            return Order.from_row(row)

        order, errors = await attempt(info.context.lang, run())
        return OrderPayload(order=order, user_errors=errors)

    @strawberry.mutation(description="Operators: a bank transfer received; fulfils the order.")
    async def confirm_transfer(
        self,
        info: Info,
        order_id: strawberry.ID,
        reference: str,
        amount_fen: Annotated[int, strawberry.argument(graphql_type=Fen)],
    ) -> PaymentPayload:
        c = info.context

        async def run() -> PaymentPayload:
            result = await payments.confirm_transfer(
                c.db,
                c.principal,
                order_id=order_pk(order_id),
                reference=reference,
                amount_fen=amount_fen,
                now=c.now(),
            )
            return PaymentPayload(order=Order.from_row(result.order), replayed=result.replayed)

        payload, errors = await attempt(info.context.lang, run())
        return payload or PaymentPayload(user_errors=errors)

    @strawberry.mutation(description="R-ORD-3: operators record an offline purchase, paid.")
    async def record_offline_order(
        self,
        info: Info,
        account_id: strawberry.ID,
        lines: list[OrderLineInput],
        contract_ref: str,
        idempotency_key: str | None = None,
    ) -> OrderPayload:
        c = info.context

        async def run() -> Order:
            row = await ordering.record_offline_order(
                c.db,
                c.principal,
                account_id=account_pk(account_id),
                lines=requests(lines),
                contract_ref=contract_ref,
                idempotency_key=idempotency_key,
                now=c.now(),
            )
            return Order.from_row(row)

        order, errors = await attempt(info.context.lang, run())
        return OrderPayload(order=order, user_errors=errors)

    @strawberry.mutation(description="R-GEN-5: an audited correction of an unexpired lot.")
    async def adjust_exam_lot(
        self,
        info: Info,
        lot_id: strawberry.ID,
        delta: int,
        reason: str,
        contract_ref: str,
        idempotency_key: str | None = None,
    ) -> AdjustExamLotPayload:
        c = info.context

        async def run() -> ExamLot:
            row = await lots.adjust_exam_lot(
                c.db,
                c.principal,
                lot_id=ids.decode(lot_id, "ExamLot", missing="LOT_NOT_FOUND", field="lotId"),
                delta=delta,
                reason=reason,
                contract_ref=contract_ref,
                idempotency_key=idempotency_key,
                now=c.now(),
            )
            return ExamLot.from_row(row, c.now())

        lot, errors = await attempt(info.context.lang, run())
        return AdjustExamLotPayload(lot=lot, user_errors=errors)
