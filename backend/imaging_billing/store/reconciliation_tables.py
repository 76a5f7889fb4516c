"""Exam reconciliation runs (检查数据对账): one row per call of a gateway, kept so
operators and the account's admins can see when the gateway and the ledger last agreed."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, table_of


def _ts() -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=False)


class ExamReconciliation(SQLModel, table=True):
    __tablename__ = "exam_reconciliation"
    __table_args__ = (sa.Index("ix_exam_reconciliation_institution", "institution_id", "ran_at"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    institution_id: int = Field(foreign_key="institution.id")
    ran_at: datetime = Field(sa_column=_ts())
    starts_at: datetime = Field(sa_column=_ts())
    ends_at: datetime = Field(sa_column=_ts())
    sent: int
    matched: int
    missing_count: int
    unexpected_count: int
    # The differences as JSON lists of Study Instance UIDs (at most 10,000 each: the
    # call's limit bounds `missing` and `voided`; `unexpected` is bounded by a day's
    # uploads in practice).
    missing: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    unexpected: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))
    voided: str = Field(sa_column=sa.Column(sa.Text(), nullable=False, server_default="[]"))


exam_reconciliation = table_of(ExamReconciliation)
