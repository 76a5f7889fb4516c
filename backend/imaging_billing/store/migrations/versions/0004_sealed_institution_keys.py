"""sealed institution keys

The institution's signing key was stored in the clear (the SHA-256 of its token, which
is the HMAC key). The columns are renamed and widened for the sealed form
(security.KeyBox); existing rows are sealed at start-up by
services.institution_tokens.seal_legacy, because the server secret never reaches
migrations.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:40:00
"""

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import imaging_billing.store.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.alter_column(
            "token_hash",
            new_column_name="token_key",
            existing_type=sa.String(length=64),
            type_=sa.String(length=128),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "previous_token_hash",
            new_column_name="previous_token_key",
            existing_type=sa.String(length=64),
            type_=sa.String(length=128),
            existing_nullable=True,
        )


def downgrade() -> None:
    # Sealed keys cannot be unsealed here (the secret is not in the database): going back
    # revokes every institution token, and each must be rotated afterwards.
    institution = sa.table(
        "institution",
        sa.column("token_key", sa.String),
        sa.column("previous_token_key", sa.String),
        sa.column("token_revoked_at", imaging_billing.store.types.UTCDateTime(timezone=True)),
    )
    # A random key nobody holds, and revoked: never a value anyone could sign with.
    op.execute(
        institution.update()
        .where(institution.c.token_key.like("s1.%"))
        .values(token_key=secrets.token_hex(32), token_revoked_at=datetime.now(UTC))
    )
    op.execute(
        institution.update()
        .where(institution.c.previous_token_key.like("s1.%"))
        .values(previous_token_key=None)
    )
    with op.batch_alter_table("institution", schema=None) as batch_op:
        batch_op.alter_column(
            "previous_token_key",
            new_column_name="previous_token_hash",
            existing_type=sa.String(length=128),
            type_=sa.String(length=64),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "token_key",
            new_column_name="token_hash",
            existing_type=sa.String(length=128),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
