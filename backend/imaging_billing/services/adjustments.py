"""Operator adjustments (R-GEN-5): corrections after payment, never edits.

An adjustment changes an unexpired lot's size through an ADJUSTMENT ledger entry
carrying the reason and the contract reference; a positive one settles arrears
first, like any new credit (R-ARR-4)."""

from __future__ import annotations

from datetime import datetime

from ..domain.errors import RuleViolation
from ..domain.ledger import Cause, LedgerType, entry
from ..store import accounts, ledger, lots
from ..store.db import Database
from ..store.records import LotRecord
from . import idempotency
from .accounts import check_text
from .principals import Principal
from .settlement import settle_into_lot
from .voiding import check_reason


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

        async def effect() -> dict[str, int]:
            account = await accounts.lock_account(conn, found.account_id)
            lot = await lots.get_lot(conn, lot_id)
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
                actor=principal.actor,
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
                    actor=principal.actor,
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
