"""a licence's reads: the reads it covered, cached so the AI figures never count history

Filled in from the reads already recorded.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 16:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ai_licence", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reads", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE ai_licence SET reads ="
        " (SELECT count(*) FROM ai_read WHERE ai_read.licence_id = ai_licence.id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("ai_licence", schema=None) as batch_op:
        batch_op.drop_column("reads")
