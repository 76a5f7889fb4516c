"""Daily exam counters (store/usage_tables.py): written beside the exams they count,
read by the overview in O(days); counted again from the exams for reconciliation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .fetch import fetch_all
from .tables import exam, ledger_entry
from .usage_tables import daily_exam_count as counts

_COUNTERS = ("uploads", "arrears", "voids")


@dataclass(frozen=True, slots=True)
class DailyCountRecord:
    """One account's exams on one Asia/Shanghai day: recorded (voided ones included),
    of those recorded in arrears (R-ARR-1), and voided that day."""

    account_id: int
    day: date
    uploads: int = 0
    arrears: int = 0
    voids: int = 0

    def plus(self, other: DailyCountRecord) -> DailyCountRecord:
        return DailyCountRecord(
            self.account_id,
            self.day,
            self.uploads + other.uploads,
            self.arrears + other.arrears,
            self.voids + other.voids,
        )


def _upsert(stmt: sqlite.Insert | postgresql.Insert) -> sqlite.Insert | postgresql.Insert:
    """INSERT ... ON CONFLICT (account_id, day) DO UPDATE adding to the counters: one
    statement whether or not the day has a row yet (SQLite >= 3.24 and PostgreSQL)."""
    added = {name: counts.c[name] + stmt.excluded[name] for name in _COUNTERS}
    return stmt.on_conflict_do_update(
        index_elements=[counts.c.account_id, counts.c.day], set_=added
    )


# Built once per dialect (see accounts._LOCK_ACCOUNT): every upload transaction runs one.
_UPSERT = {
    "sqlite": _upsert(sqlite.insert(counts)),
    "postgresql": _upsert(postgresql.insert(counts)),
}
_UPLOADS = (
    sa.select(counts.c.day, counts.c.uploads)
    .where(
        counts.c.account_id == sa.bindparam("account_id"),
        counts.c.day >= sa.bindparam("first"),
        counts.c.day <= sa.bindparam("last"),
    )
    .order_by(counts.c.day)
)


async def add(conn: AsyncConnection, rows: Iterable[DailyCountRecord]) -> None:
    """Add to the counters of each (account, day); call inside the transaction that
    records or voids the exams counted, with one row per (account, day)."""
    params = [_params(row) for row in rows]
    if params:
        await conn.execute(_UPSERT[conn.dialect.name], params)


async def uploads_per_day(
    conn: AsyncConnection, account_id: int, first: date, last: date
) -> dict[date, int]:
    """Exams recorded per day from `first` to `last`, both included: days of the
    primary key, however many exams the account has."""
    params = {"account_id": account_id, "first": first, "last": last}
    return {day: int(n) for day, n in (await conn.execute(_UPLOADS, params)).all()}


async def account_days(conn: AsyncConnection, account_id: int) -> dict[date, DailyCountRecord]:
    """Every counter row of the account, by day."""
    stmt = sa.select(counts).where(counts.c.account_id == account_id)
    return {row.day: row for row in await fetch_all(conn, DailyCountRecord, stmt)}


def local_day(conn: AsyncConnection, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[date]:
    """The Asia/Shanghai calendar day of a stored UTC time (R-GEN-6)."""
    if conn.dialect.name == "sqlite":
        # Stored as naive UTC text; China has had no daylight saving since 1991. Whole
        # seconds only: SQLite rounds 23:59:59.9995 and later up into the next day.
        return sa.func.date(sa.func.substr(column, 1, 19), "+8 hours", type_=sa.Date)
    return sa.func.date(sa.func.timezone("Asia/Shanghai", column), type_=sa.Date)


async def count_from_exams(
    conn: AsyncConnection, account_id: int | None = None
) -> dict[tuple[int, date], DailyCountRecord]:
    """What the counters should hold, counted from the exams (all accounts without
    `account_id`): recorded per day, recorded in arrears (an exam with an ARREARS
    ledger entry, R-ARR-1) per day recorded, voided per day voided. O(exams): for
    reconciliation and rebuilding, never for a page."""
    recorded = local_day(conn, exam.c.recorded_at)
    voided = local_day(conn, exam.c.voided_at)
    # A semi-join through the ledger's (account, time) index: ledger_entry has no index
    # on exam_id, and a join planned on fresh statistics becomes a nested loop.
    arrears_entries = sa.select(ledger_entry.c.exam_id).where(ledger_entry.c.type == "ARREARS")
    if account_id is not None:
        arrears_entries = arrears_entries.where(ledger_entry.c.account_id == account_id)
    queries: dict[str, tuple[sa.ColumnElement[date], list[sa.ColumnElement[bool]]]] = {
        "uploads": (recorded, []),
        "arrears": (recorded, [exam.c.id.in_(arrears_entries)]),
        "voids": (voided, [exam.c.voided_at.is_not(None)]),
    }
    found: dict[tuple[int, date], DailyCountRecord] = {}
    for name, (day, where) in queries.items():
        if account_id is not None:
            where = [*where, exam.c.account_id == account_id]
        stmt = (
            sa.select(exam.c.account_id, day.label("day"), sa.func.count())
            .select_from(exam)
            .where(*where)
            .group_by(exam.c.account_id, day)
        )
        for account, when, n in (await conn.execute(stmt)).all():
            add_on = DailyCountRecord(account, when, **{name: int(n)})
            key = (account, when)
            found[key] = found[key].plus(add_on) if key in found else add_on
    return found


async def rebuild(conn: AsyncConnection) -> int:
    """Replace every counter with what the exams say (after exams were written
    without the services, as the benchmark's seed does). Returns the rows written."""
    rows = list((await count_from_exams(conn)).values())
    await conn.execute(counts.delete())
    if rows:
        await conn.execute(counts.insert(), [_params(row) for row in rows])
    return len(rows)


def _params(row: DailyCountRecord) -> dict[str, object]:
    return {"account_id": row.account_id, "day": row.day} | {
        name: getattr(row, name) for name in _COUNTERS
    }
