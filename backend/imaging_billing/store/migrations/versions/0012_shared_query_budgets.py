"""query cost budgets shared by every API instance (PostgreSQL)

A new table; nothing existing changes. SQLite keeps its buckets in the process.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "query_budget",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("available", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )


def downgrade() -> None:
    op.drop_table("query_budget")
