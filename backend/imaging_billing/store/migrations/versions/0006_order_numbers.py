"""order numbers, their per-day counter, and settings (the payee)

Existing orders are numbered by id within their Asia/Shanghai day, so the backfill
gives the same numbers wherever it runs.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 23:40:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
import sqlmodel
from alembic import op

import imaging_billing.store.types
from imaging_billing.domain.clock import local_date
from imaging_billing.domain.payee import order_number

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_orders = sa.table(
    "purchase_order",
    sa.column("id", sa.Integer()),
    sa.column("placed_at", imaging_billing.store.types.UTCDateTime(timezone=True)),
    sa.column("number", sa.String()),
)
_days = sa.table("order_number_day", sa.column("day", sa.String()), sa.column("last", sa.Integer()))


def upgrade() -> None:
    op.create_table(
        "order_number_day",
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "setting",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated_at", imaging_billing.store.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("updated_by", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("purchase_order", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("number", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True)
        )
    _backfill()
    with op.batch_alter_table("purchase_order", schema=None) as batch_op:
        batch_op.alter_column(
            "number", existing_type=sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False
        )
        batch_op.create_unique_constraint("uq_purchase_order_number", ["number"])


def _backfill() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_orders.c.id, _orders.c.placed_at).order_by(_orders.c.id))
    last: dict[str, int] = {}
    for order_id, placed_at in rows.all():
        day = local_date(_aware(placed_at))
        key = f"{day:%Y%m%d}"
        last[key] = last.get(key, 0) + 1
        bind.execute(
            _orders.update()
            .where(_orders.c.id == order_id)
            .values(number=order_number(day, last[key]))
        )
    if last:
        bind.execute(_days.insert(), [{"day": k, "last": v} for k, v in sorted(last.items())])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def downgrade() -> None:
    with op.batch_alter_table("purchase_order", schema=None) as batch_op:
        batch_op.drop_constraint("uq_purchase_order_number", type_="unique")
        batch_op.drop_column("number")
    op.drop_table("setting")
    op.drop_table("order_number_day")
