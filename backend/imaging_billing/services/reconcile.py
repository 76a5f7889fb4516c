"""Reconciliation (R-GEN-7): every cached counter against the append-only ledger,
and the daily exam counters against the exams they count.

Returns the discrepancies found; an empty list means the figures shown are
exactly what the ledger says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.errors import RuleViolation
from ..store import accounts, daily_counts, exams, ledger, lots
from ..store.db import Database

RECONCILE_PAGE = 200


@dataclass(frozen=True)
class Discrepancy:
    subject: str  # "account:1", "lot:7", "daily_exam_count:1:2026-03-01"
    check: str
    expected: int
    actual: int


async def reconcile_account(conn: AsyncConnection, account_id: int) -> list[Discrepancy]:
    account = await accounts.get_account(conn, account_id)
    if account is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    by_lot = await ledger.sums_by_lot(conn, account_id)
    counts = await ledger.count_by_type(conn, account_id)
    expired = await ledger.expiry_by_lot(conn, account_id)
    covered = await exams.count_by_lot(conn, account_id)
    found: list[Discrepancy] = []

    def check(subject: str, name: str, expected: int, actual: int) -> None:
        if expected != actual:
            found.append(Discrepancy(subject, name, expected, actual))

    for lot in await lots.account_lots(conn, account_id):
        subject = f"lot:{lot.id}"
        check(
            subject,
            "remainder = ledger",
            by_lot.get(lot.id, 0),
            lot.quantity - lot.used - lot.forfeited,
        )
        check(subject, "used = exams covered", covered.get(lot.id, 0), lot.used)
        check(subject, "forfeited = expiry entries", expired.get(lot.id, 0), lot.forfeited)
        check(subject, "used <= quantity", 1, int(0 <= lot.used <= lot.quantity))
    subject = f"account:{account_id}"
    ledger_arrears = by_lot.get(None, 0) - counts.get("SETTLEMENT", 0)
    check(subject, "arrears = ledger", ledger_arrears, account.arrears_count)
    check(subject, "arrears = exams uncovered", covered.get(None, 0), account.arrears_count)
    check(
        subject,
        "arrears clock set iff arrears",
        int(account.arrears_count > 0),
        int(account.arrears_since is not None),
    )
    await _check_daily_counts(conn, account_id, check)
    return found


async def _check_daily_counts(
    conn: AsyncConnection, account_id: int, check: Callable[[str, str, int, int], None]
) -> None:
    """Each day's counters against the exams recorded, recorded in arrears and voided
    that day; a day with a row but no exams is checked too (expected all zero)."""
    counted = await daily_counts.account_days(conn, account_id)
    expected = {
        day: row
        for (_, day), row in (await daily_counts.count_from_exams(conn, account_id)).items()
    }
    none = daily_counts.DailyCountRecord(account_id, date.min)
    for day in sorted(counted.keys() | expected.keys()):
        subject = f"daily_exam_count:{account_id}:{day.isoformat()}"
        want, have = expected.get(day, none), counted.get(day, none)
        check(subject, "uploads = exams recorded", want.uploads, have.uploads)
        check(subject, "arrears = exams recorded in arrears", want.arrears, have.arrears)
        check(subject, "voids = exams voided", want.voids, have.voids)


async def reconcile_every_account(
    db: Database, progress: Callable[[int, int], None] = lambda done, total: None
) -> dict[int, list[Discrepancy]]:
    """R-GEN-7 for every account, one short read transaction each (a long reconciliation
    holds nothing up); only the accounts with discrepancies are returned."""
    async with db.read() as conn:
        total = await accounts.count_accounts(conn)
    found: dict[int, list[Discrepancy]] = {}
    after: int | None = None
    done = 0
    while True:
        async with db.read() as conn:
            page = await accounts.page_accounts(conn, after_id=after, limit=RECONCILE_PAGE)
        for row in page:
            async with db.read() as conn:
                discrepancies = await reconcile_account(conn, row.id)
            if discrepancies:
                found[row.id] = discrepancies
            done += 1
            progress(done, total)
        if len(page) < RECONCILE_PAGE:
            return found
        after = page[-1].id
