"""The operator's void of a wrongly reported exam (audited, with a reason).

A covered exam's credit goes back to its lot; when that lot has already expired
the credit is forfeited at once (a VOID then an EXPIRY entry, or, before the
sweep has run, left for the sweep to forfeit). A voided arrears exam leaves arrears.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.clock import local_date
from ..domain.errors import RuleViolation
from ..domain.ledger import Cause, LedgerType, entry
from ..store import accounts, daily_counts, exams, ledger, lots
from ..store.db import Database
from ..store.records import ExamRecord
from . import idempotency
from .checks import check_reason
from .principals import Principal
from .steps.arrears import apply_arrears_change
from .steps.lots import settle_into_lot


async def void_exam(
    db: Database,
    principal: Principal,
    *,
    exam_id: int,
    reason: str,
    idempotency_key: str | None,
    now: datetime,
) -> ExamRecord:
    principal.require_operator()
    async with db.write() as conn:

        async def effect() -> idempotency.Response:
            voided = await _void(
                conn, exam_id=exam_id, reason=reason, actor=principal.actor, now=now
            )
            return {"exam": voided}

        await idempotency.once(
            conn,
            scope=principal.actor,
            key=idempotency_key,
            operation="voidExam",
            payload=[exam_id, reason],
            now=now,
            effect=effect,
        )
        row = await exams.get_exam(conn, exam_id)
    assert row is not None
    return row


async def _void(
    conn: AsyncConnection, *, exam_id: int, reason: str, actor: str, now: datetime
) -> int:
    reason = check_reason(reason)
    row = await exams.get_exam(conn, exam_id)
    if row is None:
        raise RuleViolation("EXAM_NOT_FOUND", "examId")
    account = await accounts.lock_account(conn, row.account_id)
    row = await exams.get_exam(conn, exam_id)  # re-read under the account lock
    assert row is not None
    assert account is not None
    if row.voided_at is not None:
        raise RuleViolation("EXAM_ALREADY_VOIDED", "examId")
    await exams.mark_voided(conn, exam_id, voided_at=now, void_reason=reason)
    voided = daily_counts.DailyCountRecord(row.account_id, local_date(now), voids=1)
    await daily_counts.add(conn, [voided])
    void_entry = partial(
        entry,
        account_id=row.account_id,
        now=now,
        cause=Cause.OPERATOR,
        actor=actor,
        exam_id=exam_id,
        reason=reason,
    )
    if row.lot_id is None:
        await ledger.append(conn, [void_entry(LedgerType.VOID, quantity=-1)])
        await apply_arrears_change(conn, account, -1, now)
        return exam_id
    entries = [void_entry(LedgerType.VOID, quantity=1, lot_id=row.lot_id)]
    await lots.add_used(conn, {row.lot_id: -1})
    lot = await lots.get_lot(conn, row.lot_id)
    assert lot is not None
    if lot.swept_at is not None:
        # The lot's remainder was already forfeited: the returned credit follows it.
        entries.append(void_entry(LedgerType.EXPIRY, quantity=-1, lot_id=row.lot_id))
        await lots.add_forfeited(conn, row.lot_id, 1)
    await ledger.append(conn, entries)
    if now < lot.expires_at and account.arrears_count > 0:
        # R-ARR-4: credit given back covers the oldest arrears exam before it is available.
        await settle_into_lot(
            conn,
            account,
            lot_id=lot.id,
            storage_years=lot.storage_years,
            available=1,
            now=now,
            actor=actor,
        )
    return exam_id
