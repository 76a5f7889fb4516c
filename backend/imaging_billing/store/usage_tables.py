"""Per-account daily exam counters: the overview's usage series and the run-out
forecast (R-EXAM-6, R-GEN-9) read these, O(days), instead of counting exams.

Each row is written in the transaction that records the exams it counts
(`store/daily_counts.py`); `services.reconcile` checks it against the exams.
"""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class DailyExamCount(SQLModel, table=True):
    """What happened to one account's exams on one Asia/Shanghai day (R-GEN-6): exams
    recorded (voided ones included), of those how many in arrears (R-ARR-1), and
    exams voided that day. Events, not states: a later settlement or void of an exam
    leaves the day it was recorded on as it was."""

    __tablename__ = "daily_exam_count"
    account_id: int = Field(foreign_key="account.id", primary_key=True)
    day: date = Field(primary_key=True)
    uploads: int = 0
    arrears: int = 0
    voids: int = 0


daily_exam_count = DailyExamCount.__table__  # type: ignore[attr-defined]
