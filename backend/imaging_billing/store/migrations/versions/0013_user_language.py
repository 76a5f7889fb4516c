"""a person's language: the console language they last chose, for their notice mails

A nullable column: people who never chose keep getting mails in both languages.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("language")
