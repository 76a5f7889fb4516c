"""Time-driven upkeep: forfeit expired lots (R-EXAM-2), notice suspensions (R-ARR-3)
and lots about to expire (R-ARR-2 decision).

Figures are right before this runs (they are derived at read time); the sweep
writes the EXPIRY entries and notices. On PostgreSQL one instance at a time runs a
round (an advisory lock, `store/locks.py`; the others skip theirs); each lot is swept
under its account's lock and only while still unswept all the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.exams import ARREARS_GRACE
from ..domain.ledger import Cause, LedgerType, entry
from ..domain.notices import EXPIRY_WARNINGS, NoticeKind, notice_rows, once_key
from ..store import accounts, ledger, lots
from ..store.db import Database
from ..store.locks import only_one
from .principals import Principal
from .steps.ai import sweep_ai_packs
from .steps.entitlements import announce_time_transitions
from .steps.outbox import record_notices

BATCH = 500


@dataclass(frozen=True)
class SweepReport:
    lots_expired: int
    exams_forfeited: int
    suspensions_noticed: int
    expiry_warnings: int
    ai_packs_expired: int = 0
    services_announced: int = 0
    skipped: bool = False  # another instance was running a round


async def expiry_sweep(db: Database, principal: Principal, now: datetime) -> SweepReport:
    """An operator runs the sweep at once (the server runs it every period anyway)."""
    principal.require_operator()
    return await run_sweep(db, now)


async def run_sweep(db: Database, now: datetime) -> SweepReport:
    """The periodic sweep (the server's and the CLI's); one transaction per batch of lots."""
    async with only_one(db, "sweep") as mine:
        if not mine:
            return SweepReport(0, 0, 0, 0, 0, skipped=True)
        return await _sweep_round(db, now)


async def _sweep_round(db: Database, now: datetime) -> SweepReport:
    expired = forfeited = 0
    while True:
        async with db.write() as conn:
            batch = await lots.expired_unswept(conn, now, BATCH)
            for lot in batch:
                forfeited += await _expire(conn, lot.id, lot.account_id, now)
        expired += len(batch)
        if len(batch) < BATCH:
            break
    async with db.write() as conn:
        suspended = await _notice_suspensions(conn, now)
        warned = await _warn_expiring(conn, now)
        packs = await sweep_ai_packs(conn, now)  # R-AI-1: packs expire like lots
        services = await announce_time_transitions(conn, now)
    return SweepReport(expired, forfeited, suspended, warned, packs, services)


async def _expire(conn: AsyncConnection, lot_id: int, account_id: int, now: datetime) -> int:
    await accounts.lock_account(conn, account_id)
    lot = await lots.get_lot(conn, lot_id)
    if lot is None or lot.swept_at is not None:
        return 0  # another instance swept it first
    remainder: int = lot.quantity - lot.used - lot.forfeited
    if remainder:
        await ledger.append(
            conn,
            [
                entry(
                    LedgerType.EXPIRY,
                    account_id=account_id,
                    lot_id=lot_id,
                    quantity=-remainder,
                    now=now,
                    cause=Cause.SWEEP,
                    actor="system:sweep",
                )
            ],
        )
    await lots.mark_swept(conn, lot_id, remainder, now)
    if remainder:
        # R-EXAM-2: the forfeit is told in the transaction of its EXPIRY entry, once per lot.
        detail = {
            "forfeited": remainder,
            "quantity": lot.quantity,
            "used": lot.used,
            "expiredAt": lot.expires_at.isoformat(),
        }
        kind = NoticeKind.LOT_EXPIRED
        rows = notice_rows(
            kind,
            account_id=account_id,
            now=now,
            lot_id=lot_id,
            detail=detail,
            key=once_key(kind, lot_id),
        )
        await record_notices(conn, rows, now)
    return remainder


async def _notice_suspensions(conn: AsyncConnection, now: datetime) -> int:
    ids = await accounts.suspended_unnoticed(conn, now - ARREARS_GRACE)
    for account_id in ids:
        rows = notice_rows(NoticeKind.UPLOADS_SUSPENDED, account_id=account_id, now=now)
        await record_notices(conn, rows, now)
        await accounts.update_account(conn, account_id, suspension_noticed=True)
    return len(ids)


async def _warn_expiring(conn: AsyncConnection, now: datetime) -> int:
    warned = 0
    # Nearest warning first: a lot first seen 5 days out gets the 7-day notice only.
    for kind, lead, column in reversed(EXPIRY_WARNINGS):
        due = await lots.expiring_unnoticed(
            conn, before=now + lead, now=now, column=column, limit=10_000
        )
        for lot in due:
            detail = {"expiresAt": lot.expires_at.isoformat(), "remaining": lot.quantity - lot.used}
            rows = notice_rows(
                kind, account_id=lot.account_id, now=now, lot_id=lot.id, detail=detail
            )
            await record_notices(conn, rows, now)
        flags = {c: True for _, lead_c, c in EXPIRY_WARNINGS if lead_c >= lead}
        await lots.set_flags(conn, [lot.id for lot in due], **flags)
        warned += len(due)
    return warned
