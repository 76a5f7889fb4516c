"""exam reconciliation runs, and exams by institution and upload time

A new table, and an index reconciliation reads an institution's window through;
nothing existing changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import imaging_billing.store.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, imaging_billing.store.types.UTCDateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "exam_reconciliation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("institution_id", sa.Integer(), nullable=False),
        _ts("ran_at"),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("missing_count", sa.Integer(), nullable=False),
        sa.Column("unexpected_count", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Text(), nullable=False),
        sa.Column("unexpected", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["institution_id"], ["institution.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_exam_reconciliation_institution",
        "exam_reconciliation",
        ["institution_id", "ran_at"],
        unique=False,
    )
    op.create_index(
        "ix_exam_institution_upload", "exam", ["institution_id", "uploaded_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_exam_institution_upload", table_name="exam")
    op.drop_index("ix_exam_reconciliation_institution", table_name="exam_reconciliation")
    op.drop_table("exam_reconciliation")
