"""Orders (R-ORD-1..3, R-GEN-2, R-GEN-5): online orders awaiting payment, offline
purchases recorded already paid, and cancellation before payment."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.catalog import PRODUCTS, Family
from ..domain.clock import local_date
from ..domain.entitlements import service_remark
from ..domain.errors import RuleViolation
from ..domain.identity import public_id
from ..domain.orders import (
    Channel,
    LineRequest,
    OrderState,
    PricedLine,
    Quote,
    can_cancel,
    check_licences,
    check_line_count,
    quote,
    require_terms,
)
from ..domain.payee import order_number
from ..store import accounts, orders, prices
from ..store.db import Database
from ..store.records import OrderRecord
from . import idempotency
from .checks import check_text
from .entitlements import held_licences
from .principals import Principal
from .steps.fulfilment import PaymentMethod, accept_payment


async def place_order(
    db: Database,
    principal: Principal,
    *,
    account_id: int,
    lines: list[LineRequest],
    accept_terms: bool,
    idempotency_key: str | None,
    now: datetime,
) -> OrderRecord:
    """R-ORD-1: an online order, priced now, awaiting payment."""
    principal.require_account_admin(account_id)
    require_terms(accept_terms)
    check_line_count(lines)
    async with db.write() as conn:

        async def effect() -> idempotency.Response:
            priced = await _validated(conn, account_id, lines, online=True, now=now)
            order_id = await _insert(
                conn, account_id, priced, Channel.ONLINE, principal.actor, now, terms=True
            )
            return {"order": order_id}

        response = await idempotency.once(
            conn,
            scope=principal.actor,
            key=idempotency_key,
            operation="placeOrder",
            payload=[account_id, [line.__dict__ for line in lines]],
            now=now,
            effect=effect,
        )
        order = await orders.get_order(conn, response["order"])
    assert order is not None
    return order


async def record_offline_order(
    db: Database,
    principal: Principal,
    *,
    account_id: int,
    lines: list[LineRequest],
    contract_ref: str,
    idempotency_key: str | None,
    now: datetime,
) -> OrderRecord:
    """R-ORD-3: an operator records a purchase already paid offline; fulfilled at once."""
    principal.require_operator()
    contract_ref = check_text(contract_ref, "contractRef", code="R_GEN_5_CONTRACT_REQUIRED")
    check_line_count(lines)
    async with db.write() as conn:

        async def effect() -> idempotency.Response:
            priced = await _validated(conn, account_id, lines, online=False, now=now)
            order_id = await _insert(
                conn,
                account_id,
                priced,
                Channel.OFFLINE,
                principal.actor,
                now,
                contract_ref=contract_ref,
            )
            order = await orders.get_order(conn, order_id)
            assert order is not None
            await accept_payment(
                conn,
                order,
                reference=f"offline:{order_id}",
                method=PaymentMethod.OFFLINE,
                amount_fen=order.total_fen,
                actor=principal.actor,
                now=now,
            )
            return {"order": order_id}

        response = await idempotency.once(
            conn,
            scope=principal.actor,
            key=idempotency_key,
            operation="recordOfflineOrder",
            payload=[account_id, contract_ref, [line.__dict__ for line in lines]],
            now=now,
            effect=effect,
        )
        order = await orders.get_order(conn, response["order"])
    assert order is not None
    return order


async def cancel_order(
    db: Database, principal: Principal, *, order_id: int, now: datetime
) -> OrderRecord:
    """R-GEN-5: only an order not yet paid can be cancelled."""
    async with db.write() as conn:
        order = await orders.get_order(conn, order_id, lock=True)
        if order is None or not principal.can_see_account(order.account_id):
            raise RuleViolation("ORDER_NOT_FOUND", "orderId")
        principal.require_account_admin(order.account_id, missing="ORDER_NOT_FOUND")
        can_cancel(OrderState(order.state))
        await orders.update_order(
            conn, order_id, state=OrderState.CANCELLED.value, cancelled_at=now
        )
        order = await orders.get_order(conn, order_id)
    assert order is not None
    return order


async def _validated(
    conn: AsyncConnection, account_id: int, lines: list[LineRequest], *, online: bool, now: datetime
) -> Quote:
    """Every refusal of R-ORD-2, before anything is written."""
    if await accounts.lock_account(conn, account_id) is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    if await accounts.latest_agreement(conn, account_id) is None:
        raise RuleViolation("R_GEN_2_NO_AGREEMENT", "accountId")
    for index, line in enumerate(lines):
        if line.institution_id is None:
            continue
        institution = await accounts.get_institution(conn, line.institution_id)
        if institution is None or institution.account_id != account_id:
            raise RuleViolation("INSTITUTION_NOT_FOUND", f"lines[{index}].institutionId")
    priced = quote(lines, await prices.prices_at(conn, now), online=online, today=local_date(now))
    institution_ids = [line.institution_id for line in lines if line.institution_id]
    held = await held_licences(conn, institution_ids)
    features = {institution_id: set(h.features) for institution_id, h in held.items()}
    pending = await orders.pending_licence_products(conn, institution_ids)
    for institution_id, products in pending.items():
        features.setdefault(institution_id, set()).update(
            f for p in products if (f := PRODUCTS[p].feature) is not None
        )
    check_licences(lines, features)
    for index, line in enumerate(lines):
        product = PRODUCTS[line.product]
        if product.family is Family.AI_LICENCE and line.institution_id is not None:
            if product.ai_product in held[line.institution_id].ai_products:
                raise RuleViolation("R_AI_4_ALREADY_HELD", f"lines[{index}].product")
    return priced


async def _insert(
    conn: AsyncConnection,
    account_id: int,
    priced: Quote,
    channel: Channel,
    actor: str,
    now: datetime,
    *,
    terms: bool = False,
    contract_ref: str | None = None,
) -> int:
    names = await _institution_names(conn, priced)
    lines = [
        {
            "product": p.product.code,
            "quantity": p.request.quantity,
            "years": p.years,
            "institution_id": p.request.institution_id,
            "institution_name": names.get(p.request.institution_id)
            or (p.request.institution_name or "").strip()
            or None,
            "variant": p.request.variant.value if p.request.variant else None,
            "starts_on": p.request.starts_on,
            "remark": _remark(p, names),
            "unit_price_fen": p.unit_price_fen,
            "amount_fen": p.amount_fen,
        }
        for p in priced.lines
    ]
    day = local_date(now)  # R-GEN-6: the day people see
    sequence = await orders.next_in_day(conn, f"{day:%Y%m%d}")
    order = {
        "number": order_number(day, sequence),
        "account_id": account_id,
        "channel": channel.value,
        "state": OrderState.PENDING_PAYMENT.value,
        "total_fen": priced.total_fen,
        "placed_at": now,
        "placed_by": actor,
        "terms_accepted_at": now if terms else None,
        "contract_ref": contract_ref,
    }
    return await orders.insert_order(conn, order, lines)


async def _institution_names(conn: AsyncConnection, priced: Quote) -> dict[int | None, str]:
    names: dict[int | None, str] = {}
    for p in priced.lines:
        institution_id = p.request.institution_id
        if institution_id is not None and institution_id not in names:
            row = await accounts.get_institution(conn, institution_id)
            assert row is not None
            names[institution_id] = row.name
    return names


def _remark(p: PricedLine, names: dict[int | None, str]) -> str | None:
    """R-SVC-4: service lines name the institution (and its ID when on the platform)."""
    if p.product.family is not Family.SERVICE:
        return None
    institution_id = p.request.institution_id
    name = names.get(institution_id) or (p.request.institution_name or "").strip()
    shown = public_id("Institution", institution_id) if institution_id is not None else None
    return service_remark(name, shown)
