"""Migration 0015 moves the voided studies a reconciliation run held inside
`unexpected` (the object form) into a column of their own, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command

from imaging_billing.store import reconciliations
from imaging_billing.store.db import Database
from imaging_billing.store.migrate import alembic_config, upgrade
from imaging_billing.store.tables import account, institution
from imaging_billing.store.types import UTCDateTime

T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)

# The table as 0014 left it: no `voided` column.
_old_run = sa.table(
    "exam_reconciliation",
    sa.column("account_id", sa.Integer()),
    sa.column("institution_id", sa.Integer()),
    sa.column("ran_at", UTCDateTime()),
    sa.column("starts_at", UTCDateTime()),
    sa.column("ends_at", UTCDateTime()),
    sa.column("sent", sa.Integer()),
    sa.column("matched", sa.Integer()),
    sa.column("missing_count", sa.Integer()),
    sa.column("unexpected_count", sa.Integer()),
    sa.column("missing", sa.Text()),
    sa.column("unexpected", sa.Text()),
)


async def test_voided_studies_move_out_of_unexpected_into_their_column(
    database_url: str,
) -> None:
    # given a database at 0014 with a run in the object form (two unlisted, one voided)
    # and an older run in the list form
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0014")
    db = Database(database_url)
    async with db.write() as conn:
        account_id, site = await _site(conn)
        await _run(
            conn, account_id, site, T0, {"unlisted": ["1.2.3", "1.2.4"], "voided": ["1.2.5"]}
        )
        await _run(conn, account_id, site, T0.replace(hour=7), ["1.2.7"])
    await db.dispose()
    # when it migrates
    await asyncio.to_thread(upgrade, database_url)
    # then the repository reads each run's unexpected and voided studies apart
    db = Database(database_url)
    async with db.read() as conn:
        runs = await reconciliations.runs_of_institution(conn, site, 10)
    await db.dispose()
    read = [(json.loads(r.unexpected), json.loads(r.voided)) for r in runs]
    assert read == [(["1.2.3", "1.2.4"], ["1.2.5"]), (["1.2.7"], [])]
    # and going down folds them back into the object form, so 0014's code still reads them
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0014")
    db = Database(database_url)
    async with db.read() as conn:
        stmt = sa.select(_old_run.c.unexpected).order_by(_old_run.c.ran_at.desc())
        folded = [json.loads(text) for text in (await conn.execute(stmt)).scalars()]
    await db.dispose()
    assert folded == [{"unlisted": ["1.2.3", "1.2.4"], "voided": ["1.2.5"]}, ["1.2.7"]]


async def _site(conn: Any) -> tuple[int, int]:
    stmt = account.insert().values(name="A", created_at=T0).returning(account.c.id)
    account_id = int((await conn.execute(stmt)).scalar_one())
    stmt = (
        institution.insert()
        .values(account_id=account_id, name="Site", created_at=T0, token_key="k")
        .returning(institution.c.id)
    )
    return account_id, int((await conn.execute(stmt)).scalar_one())


async def _run(conn: Any, account_id: int, site: int, at: datetime, unexpected: object) -> None:
    unlisted = unexpected["unlisted"] if isinstance(unexpected, dict) else unexpected
    await conn.execute(
        _old_run.insert().values(
            account_id=account_id,
            institution_id=site,
            ran_at=at,
            starts_at=at.replace(hour=0),
            ends_at=at,
            sent=3,
            matched=0,
            missing_count=0,
            unexpected_count=len(unlisted),
            missing="[]",
            unexpected=json.dumps(unexpected),
        )
    )
