"""Steps that credit exam lots and settle arrears into them, oldest upload first (R-ARR-4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.errors import RuleViolation
from ...domain.exams import LotTerms, lot_expires_at, settle, storage_ends_at
from ...domain.ledger import Cause, LedgerType, entry
from ...store import accounts, exams, ledger, lots
from ...store.records import AccountRecord, ArrearsExamRecord
from .arrears import apply_arrears_change


@dataclass(frozen=True)
class Credit:
    lot_id: int
    settled: int


async def credit_lot(
    conn: AsyncConnection,
    *,
    account_id: int,
    terms: LotTerms,
    now: datetime,
    actor: str,
    cause: Cause,
    contract_ref: str | None = None,
    order_id: int | None = None,
) -> Credit:
    """Credit a lot at once (R-GEN-4) and settle what arrears it can."""
    account = await accounts.lock_account(conn, account_id)
    if account is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    lot_id = await lots.insert_lot(
        conn,
        account_id=account_id,
        mode=terms.mode.value,
        quantity=terms.quantity,
        storage_years=terms.storage_years,
        purchased_at=now,
        expires_at=lot_expires_at(now),
        contract_ref=contract_ref,
        order_id=order_id,
        created_by=actor,
    )
    purchase = entry(
        LedgerType.PURCHASE,
        account_id=account_id,
        quantity=terms.quantity,
        now=now,
        cause=cause,
        actor=actor,
        lot_id=lot_id,
        order_id=order_id,
        contract_ref=contract_ref,
    )
    await ledger.append(conn, [purchase])
    settled = await settle_into_lot(
        conn,
        account,
        lot_id=lot_id,
        storage_years=terms.storage_years,
        available=terms.quantity,
        now=now,
        actor=actor,
        last_lot_quantity=terms.quantity,
        low_balance_noticed=False,
    )
    return Credit(lot_id=lot_id, settled=settled)


async def settle_into_lot(
    conn: AsyncConnection,
    account: AccountRecord,
    *,
    lot_id: int,
    storage_years: int,
    available: int,
    now: datetime,
    actor: str,
    **account_values: object,
) -> int:
    """R-ARR-4: cover the oldest arrears exams from `available` credit of the lot.

    The caller holds the account lock (`account` is the locked row)."""
    owed = await exams.oldest_arrears(conn, account.id, settle(account.arrears_count, available))
    await _cover(
        conn,
        owed,
        account_id=account.id,
        lot_id=lot_id,
        storage_years=storage_years,
        now=now,
        actor=actor,
    )
    await apply_arrears_change(conn, account, -len(owed), now, **account_values)
    return len(owed)


async def _cover(
    conn: AsyncConnection,
    owed: Sequence[ArrearsExamRecord],
    *,
    account_id: int,
    lot_id: int,
    storage_years: int,
    now: datetime,
    actor: str,
) -> None:
    """Attach settled arrears exams to the lot; storage counts from upload (R-EXAM-5)."""
    if not owed:
        return
    await exams.cover(
        conn,
        [
            {
                "exam_id": row.id,
                "lot_id": lot_id,
                "covered_at": now,
                "storage_ends_at": storage_ends_at(row.uploaded_at, storage_years),
            }
            for row in owed
        ],
    )
    await ledger.append(
        conn,
        [
            entry(
                LedgerType.SETTLEMENT,
                account_id=account_id,
                quantity=-1,
                now=now,
                cause=Cause.EXAM,
                actor=actor,
                lot_id=lot_id,
                exam_id=row.id,
            )
            for row in owed
        ],
    )
    await lots.add_used(conn, {lot_id: len(owed)})
