"""audit records keep the client's request id beside the server's

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("correlation_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_column("correlation_id")
