"""The operator's use cases on exam lots: credit one paid offline (R-GEN-4) and adjust
one after payment (R-GEN-5). New credit settles arrears first (R-ARR-4).

An adjustment changes an unexpired lot's size through an ADJUSTMENT ledger entry
carrying the reason and the contract reference; it is a correction, never an edit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.errors import RuleViolation
from ..domain.exams import LotMode, lot_terms
from ..domain.ledger import Cause, LedgerType, entry
from ..store import accounts, ledger, lots
from ..store.db import Database
from ..store.records import LotRecord
from . import idempotency
from .checks import check_reason, check_text
from .principals import Principal
from .steps.lots import credit_lot, settle_into_lot


@dataclass(frozen=True)
class CreditResult:
    lot: LotRecord
    settled: int  # arrears exams the new lot covered


async def credit_exam_lot(
    db: Database,
    principal: Principal,
    *,
    account_id: int,
    mode: LotMode,
    quantity: int,
    years: int | None,
    contract_ref: str | None,
    idempotency_key: str | None,
    now: datetime,
) -> CreditResult:
    """The operator's record of a paid lot (offline purchase); settles arrears first."""
    principal.require_operator()
    terms = lot_terms(mode, quantity, years)
    if contract_ref is not None:
        contract_ref = check_text(contract_ref, "contractRef", code="R_GEN_5_CONTRACT_REQUIRED")

    async with db.write() as conn:

        async def effect() -> idempotency.Response:
            credit = await credit_lot(
                conn,
                account_id=account_id,
                terms=terms,
                now=now,
                actor=principal.actor,
                cause=Cause.OPERATOR,
                contract_ref=contract_ref,
            )
            return {"lot": credit.lot_id, "settled": credit.settled}

        payload = [account_id, mode.value, quantity, terms.storage_years, contract_ref]
        response = await idempotency.once(
            conn,
            scope=principal.actor,
            key=idempotency_key,
            operation="creditExamLot",
            payload=payload,
            now=now,
            effect=effect,
        )
        lot = await lots.get_lot(conn, response["lot"])
    assert lot is not None
    return CreditResult(lot, response["settled"])


async def adjust_exam_lot(
    db: Database,
    principal: Principal,
    *,
    lot_id: int,
    delta: int,
    reason: str,
    contract_ref: str,
    idempotency_key: str | None,
    now: datetime,
) -> LotRecord:
    principal.require_operator()
    reason = check_reason(reason)
    contract_ref = check_text(contract_ref, "contractRef", code="R_GEN_5_CONTRACT_REQUIRED")
    async with db.write() as conn:
        found = await lots.get_lot(conn, lot_id)
        if found is None:
            raise RuleViolation("LOT_NOT_FOUND", "lotId")

        async def effect() -> idempotency.Response:
            await _adjust(
                conn,
                lot_id=lot_id,
                account_id=found.account_id,
                delta=delta,
                reason=reason,
                contract_ref=contract_ref,
                actor=principal.actor,
                now=now,
            )
            return {"lot": lot_id}

        await idempotency.once(
            conn,
            scope=principal.actor,
            key=idempotency_key,
            operation="adjustExamLot",
            payload=[lot_id, delta, reason, contract_ref],
            now=now,
            effect=effect,
        )
        row = await lots.get_lot(conn, lot_id)
    assert row is not None
    return row


async def _adjust(
    conn: AsyncConnection,
    *,
    lot_id: int,
    account_id: int,
    delta: int,
    reason: str,
    contract_ref: str,
    actor: str,
    now: datetime,
) -> None:
    account = await accounts.lock_account(conn, account_id)
    lot = await lots.get_lot(conn, lot_id)  # read again under the account lock
    assert lot is not None
    assert account is not None
    if delta == 0 or now >= lot.expires_at or lot.quantity + delta < lot.used:
        raise RuleViolation("ADJUSTMENT_INVALID", "delta")
    await lots.set_quantity(conn, lot_id, lot.quantity + delta)
    adjustment = entry(
        LedgerType.ADJUSTMENT,
        account_id=lot.account_id,
        quantity=delta,
        now=now,
        cause=Cause.OPERATOR,
        actor=actor,
        lot_id=lot_id,
        reason=reason,
        contract_ref=contract_ref,
    )
    await ledger.append(conn, [adjustment])
    if delta > 0:
        await settle_into_lot(
            conn,
            account,
            lot_id=lot_id,
            storage_years=lot.storage_years,
            available=lot.quantity + delta - lot.used,
            now=now,
            actor=actor,
        )
