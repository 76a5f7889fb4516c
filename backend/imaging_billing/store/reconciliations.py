"""Exam reconciliation repository: the ledger's side of a window, and the runs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.reconciliation import Differences, Window
from .fetch import fetch_all, fetch_one
from .reconciliation_tables import exam_reconciliation
from .records import ExamReconciliationRecord
from .tables import exam


async def known_uids(
    conn: AsyncConnection, account_id: int, uids: Sequence[str]
) -> dict[str, bool]:
    """Which of these studies the account's ledger holds, each with whether it was voided
    (reporting a voided study again is a duplicate, so it is not the gateway's to re-report)."""
    if not uids:
        return {}
    stmt = sa.select(exam.c.study_uid, exam.c.voided_at.is_not(None)).where(
        exam.c.account_id == account_id, exam.c.study_uid.in_(list(uids))
    )
    return {uid: bool(voided) for uid, voided in (await conn.execute(stmt)).all()}


async def uids_in_window(conn: AsyncConnection, institution_id: int, window: Window) -> list[str]:
    """The institution's exams uploaded inside the window, voided ones left out."""
    stmt = sa.select(exam.c.study_uid).where(
        exam.c.institution_id == institution_id,
        exam.c.uploaded_at >= window.starts_at,
        exam.c.uploaded_at < window.ends_at,
        exam.c.voided_at.is_(None),
    )
    return list((await conn.execute(stmt)).scalars())


async def add_run(
    conn: AsyncConnection,
    *,
    account_id: int,
    institution_id: int,
    window: Window,
    differences: Differences,
    now: datetime,
) -> ExamReconciliationRecord:
    stmt = exam_reconciliation.insert().returning(*exam_reconciliation.c)
    row = await fetch_one(
        conn,
        ExamReconciliationRecord,
        stmt,
        {
            "account_id": account_id,
            "institution_id": institution_id,
            "ran_at": now,
            "starts_at": window.starts_at,
            "ends_at": window.ends_at,
            "sent": differences.sent,
            "matched": differences.matched,
            "missing_count": len(differences.missing),
            "unexpected_count": len(differences.unexpected),
            "missing": json.dumps(differences.missing),
            "unexpected": json.dumps(differences.unexpected),
            "voided": json.dumps(differences.voided),
        },
    )
    assert row is not None
    return row


async def runs_of_institution(
    conn: AsyncConnection, institution_id: int, limit: int
) -> list[ExamReconciliationRecord]:
    """The latest runs first."""
    stmt = (
        sa.select(exam_reconciliation)
        .where(exam_reconciliation.c.institution_id == institution_id)
        .order_by(exam_reconciliation.c.ran_at.desc(), exam_reconciliation.c.id.desc())
        .limit(limit)
    )
    return await fetch_all(conn, ExamReconciliationRecord, stmt)
