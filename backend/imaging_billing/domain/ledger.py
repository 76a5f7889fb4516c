"""Ledger vocabulary (R-GEN-7).

Sign convention: an entry with a lot moves that lot's remainder (PURCHASE +n,
CONSUMPTION -1, SETTLEMENT -1, EXPIRY -n, VOID +1, ADJUSTMENT ±n). An entry
without a lot moves the account's arrears (ARREARS +1, VOID -1). A SETTLEMENT
also takes one exam out of arrears.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class LedgerType(StrEnum):
    PURCHASE = "PURCHASE"
    CONSUMPTION = "CONSUMPTION"
    ARREARS = "ARREARS"
    SETTLEMENT = "SETTLEMENT"
    EXPIRY = "EXPIRY"
    VOID = "VOID"
    ADJUSTMENT = "ADJUSTMENT"


class Cause(StrEnum):
    EXAM = "EXAM"
    ORDER = "ORDER"
    OPERATOR = "OPERATOR"
    SWEEP = "SWEEP"


def entry(
    type_: LedgerType,
    *,
    account_id: int,
    quantity: int,
    now: datetime,
    cause: Cause,
    actor: str,
    lot_id: int | None = None,
    exam_id: int | None = None,
    reason: str | None = None,
    order_id: int | None = None,
    contract_ref: str | None = None,
) -> dict[str, object]:
    """One ledger row, as the store appends it."""
    return {
        "account_id": account_id,
        "type": type_.value,
        "lot_id": lot_id,
        "exam_id": exam_id,
        "quantity": quantity,
        "occurred_at": now,
        "cause": cause.value,
        "actor": actor,
        "reason": reason,
        "order_id": order_id,
        "contract_ref": contract_ref,
    }
