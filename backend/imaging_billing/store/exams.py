"""Exam repository: one row per uploaded study (R-EXAM-4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .fetch import fetch_all, fetch_one
from .records import ArrearsExamRecord, ExamRecord
from .tables import exam

# Built once (see accounts._LOCK_ACCOUNT): the upload path runs these per transaction.
_BY_UIDS = sa.select(exam).where(
    exam.c.account_id == sa.bindparam("account_id"),
    exam.c.study_uid.in_(sa.bindparam("uids", expanding=True)),
)
_INSERT = exam.insert().returning(*exam.c)


async def find_by_uids(
    conn: AsyncConnection, account_id: int, uids: Sequence[str]
) -> dict[str, ExamRecord]:
    if not uids:
        return {}
    params = {"account_id": account_id, "uids": list(uids)}
    return {row.study_uid: row for row in await fetch_all(conn, ExamRecord, _BY_UIDS, params)}


async def insert_exams(
    conn: AsyncConnection, rows: Sequence[Mapping[str, object]]
) -> list[ExamRecord]:
    """Insert many exams in one statement. Rows come back in no set order (asking for
    input order makes SQLAlchemy send one INSERT per row on SQLite)."""
    if not rows:
        return []
    return await fetch_all(conn, ExamRecord, _INSERT, list(rows))


async def get_exam(conn: AsyncConnection, exam_id: int) -> ExamRecord | None:
    return await fetch_one(conn, ExamRecord, sa.select(exam).where(exam.c.id == exam_id))


async def get_exams(conn: AsyncConnection, exam_ids: Sequence[int]) -> dict[int, ExamRecord]:
    if not exam_ids:
        return {}
    stmt = sa.select(exam).where(exam.c.id.in_(list(exam_ids)))
    return {row.id: row for row in await fetch_all(conn, ExamRecord, stmt)}


async def by_uid(conn: AsyncConnection, account_id: int, uid: str) -> ExamRecord | None:
    stmt = sa.select(exam).where(exam.c.account_id == account_id, exam.c.study_uid == uid)
    return await fetch_one(conn, ExamRecord, stmt)


async def oldest_arrears(
    conn: AsyncConnection, account_id: int, limit: int
) -> list[ArrearsExamRecord]:
    """Arrears exams (not covered, not voided), oldest upload first (R-ARR-4)."""
    stmt = (
        sa.select(exam.c.id, exam.c.uploaded_at)
        .where(
            exam.c.account_id == account_id,
            exam.c.lot_id.is_(None),
            exam.c.voided_at.is_(None),
        )
        .order_by(exam.c.uploaded_at, exam.c.id)
        .limit(limit)
    )
    return await fetch_all(conn, ArrearsExamRecord, stmt)


async def cover(conn: AsyncConnection, rows: Sequence[Mapping[str, object]]) -> None:
    """Attach arrears exams to the lot that settles them: keys exam_id, lot_id, covered_at,
    storage_ends_at."""
    if not rows:
        return
    stmt = (
        exam.update()
        .where(exam.c.id == sa.bindparam("exam_id"))
        .values(
            lot_id=sa.bindparam("lot_id"),
            covered_at=sa.bindparam("covered_at"),
            storage_ends_at=sa.bindparam("storage_ends_at"),
        )
    )
    await conn.execute(stmt, list(rows))


async def mark_voided(conn: AsyncConnection, exam_id: int, **values: object) -> None:
    await conn.execute(exam.update().where(exam.c.id == exam_id).values(**values))


@dataclass(frozen=True)
class ExamFilter:
    """What the exams list narrows to: [since, until) on the upload time, one institution."""

    institution_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def where(self, account_id: int) -> list[sa.ColumnElement[bool]]:
        where = [exam.c.account_id == account_id]
        if self.institution_id is not None:
            where.append(exam.c.institution_id == self.institution_id)
        if self.since is not None:
            where.append(exam.c.uploaded_at >= self.since)
        if self.until is not None:
            where.append(exam.c.uploaded_at < self.until)
        return where


EVERY_EXAM = ExamFilter()


async def page_exams(
    conn: AsyncConnection,
    account_id: int,
    *,
    after_id: int | None,
    limit: int,
    narrow: ExamFilter = EVERY_EXAM,
    offset: int = 0,
) -> list[ExamRecord]:
    """Newest first; `offset` only for a jump to a numbered page (api/connections.py)."""
    where = narrow.where(account_id)
    if after_id is not None:
        where.append(exam.c.id < after_id)
    stmt = sa.select(exam).where(*where).order_by(exam.c.id.desc()).limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return await fetch_all(conn, ExamRecord, stmt)


async def count_by_lot(conn: AsyncConnection, account_id: int) -> dict[int | None, int]:
    """Exams not voided, per covering lot (None: arrears)."""
    stmt = (
        sa.select(exam.c.lot_id, sa.func.count())
        .where(exam.c.account_id == account_id, exam.c.voided_at.is_(None))
        .group_by(exam.c.lot_id)
    )
    return {row[0]: int(row[1]) for row in (await conn.execute(stmt)).all()}


async def count_exams(
    conn: AsyncConnection, account_id: int, narrow: ExamFilter = EVERY_EXAM
) -> int:
    stmt = sa.select(sa.func.count()).select_from(exam).where(*narrow.where(account_id))
    return int((await conn.execute(stmt)).scalar_one())
