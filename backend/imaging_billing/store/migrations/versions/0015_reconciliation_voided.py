"""a reconciliation run's voided studies: a column of their own

Runs held the listed studies the ledger holds voided inside `unexpected`, as an object
{"unlisted": [...], "voided": [...]}; they move to `voided` and `unexpected` becomes the
plain list again. Runs without voided studies hold lists already and get "[]".

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 15:50:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_run = sa.table(
    "exam_reconciliation",
    sa.column("id", sa.Integer()),
    sa.column("unexpected", sa.Text()),
    sa.column("voided", sa.Text()),
)


def upgrade() -> None:
    with op.batch_alter_table("exam_reconciliation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("voided", sa.Text(), nullable=False, server_default="[]"))
    bind = op.get_bind()
    # Only runs that found voided studies hold the object form, a few per gateway.
    held = bind.execute(
        sa.select(_run.c.id, _run.c.unexpected).where(_run.c.unexpected.like("{%"))
    ).all()
    for run_id, text in held:
        found = json.loads(text)
        bind.execute(
            _run.update()
            .where(_run.c.id == run_id)
            .values(unexpected=json.dumps(found["unlisted"]), voided=json.dumps(found["voided"]))
        )


def downgrade() -> None:
    bind = op.get_bind()
    held = bind.execute(
        sa.select(_run.c.id, _run.c.unexpected, _run.c.voided).where(_run.c.voided != "[]")
    ).all()
    for run_id, unexpected, voided in held:
        folded = {"unlisted": json.loads(unexpected), "voided": json.loads(voided)}
        bind.execute(_run.update().where(_run.c.id == run_id).values(unexpected=json.dumps(folded)))
    with op.batch_alter_table("exam_reconciliation", schema=None) as batch_op:
        batch_op.drop_column("voided")
