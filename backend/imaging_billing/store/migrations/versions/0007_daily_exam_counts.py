"""daily exam counters per account and Asia/Shanghai day, counted from existing exams

The overview's usage series and run-out forecast read these instead of counting the
exams of the whole history. The backfill counts exams recorded per day (voided ones
included), of those the ones recorded in arrears (an ARREARS ledger entry), and exams
voided per day, as `store/daily_counts.count_from_exams` does; written out here so
the migration keeps meaning what it meant when it was written.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_exam = sa.table(
    "exam",
    sa.column("id", sa.Integer()),
    sa.column("account_id", sa.Integer()),
    sa.column("recorded_at", sa.DateTime()),
    sa.column("voided_at", sa.DateTime()),
)
_ledger = sa.table(
    "ledger_entry", sa.column("exam_id", sa.Integer()), sa.column("type", sa.String())
)
_COUNTERS = ("uploads", "arrears", "voids")


def upgrade() -> None:
    table = op.create_table(
        "daily_exam_count",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("uploads", sa.Integer(), nullable=False),
        sa.Column("arrears", sa.Integer(), nullable=False),
        sa.Column("voids", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("account_id", "day"),
    )
    rows = _counted()
    if rows:
        op.bulk_insert(table, rows)


def _counted() -> list[dict[str, object]]:
    bind = op.get_bind()
    recorded = _local_day(bind.dialect.name, _exam.c.recorded_at)
    voided = _local_day(bind.dialect.name, _exam.c.voided_at)
    in_arrears = _exam.join(
        _ledger, (_ledger.c.exam_id == _exam.c.id) & (_ledger.c.type == "ARREARS")
    )
    sources: list[
        tuple[str, sa.FromClause, sa.ColumnElement[date], list[sa.ColumnElement[bool]]]
    ] = [
        ("uploads", _exam, recorded, []),
        ("arrears", in_arrears, recorded, []),
        ("voids", _exam, voided, [_exam.c.voided_at.is_not(None)]),
    ]
    found: dict[tuple[int, date], dict[str, object]] = {}
    for name, source, day, where in sources:
        stmt = (
            sa.select(_exam.c.account_id, day, sa.func.count())
            .select_from(source)
            .where(*where)
            .group_by(_exam.c.account_id, day)
        )
        for account_id, when, count in bind.execute(stmt).all():
            when = when if isinstance(when, date) else date.fromisoformat(str(when))
            row = found.setdefault(
                (account_id, when),
                {"account_id": account_id, "day": when} | dict.fromkeys(_COUNTERS, 0),
            )
            row[name] = int(count)
    return list(found.values())


def _local_day(dialect: str, column: sa.ColumnElement[datetime]) -> sa.ColumnElement[date]:
    """The Asia/Shanghai calendar day of a stored UTC time (R-GEN-6)."""
    if dialect == "sqlite":
        # Stored as naive UTC text; China has had no daylight saving since 1991. Whole
        # seconds only: SQLite rounds 23:59:59.9995 and later up into the next day.
        return sa.func.date(sa.func.substr(column, 1, 19), "+8 hours")
    return sa.func.date(sa.func.timezone("Asia/Shanghai", column))


def downgrade() -> None:
    op.drop_table("daily_exam_count")
