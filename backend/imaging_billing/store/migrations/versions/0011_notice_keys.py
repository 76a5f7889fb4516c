"""once-only notices: a key per notice that fires once per thing; the service state
last announced

A nullable column and a unique index on (key, target). Notices recorded before this
revision have no key; NULLs never collide, so nothing existing changes. Services
bought before it have no announced state and are never announced by the sweep.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 11:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True)
        )
        batch_op.create_index("uq_notice_key_target", ["key", "target"], unique=True)
    with op.batch_alter_table("service_contract", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("announced_state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("service_contract", schema=None) as batch_op:
        batch_op.drop_column("announced_state")
    with op.batch_alter_table("notice", schema=None) as batch_op:
        batch_op.drop_index("uq_notice_key_target")
        batch_op.drop_column("key")
