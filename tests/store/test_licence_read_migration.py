"""Migration 0016 counts the reads each AI licence covered before it into the licence's
`reads` counter, on SQLite and PostgreSQL; the AI figures then read the counter."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from imaging_billing.domain.catalog import AiProduct
from imaging_billing.services import ai
from imaging_billing.store import ai as store
from imaging_billing.store.db import Database
from imaging_billing.store.migrate import alembic_config, upgrade
from imaging_billing.store.tables import account, institution

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LICENCE = sa.text(
    "INSERT INTO ai_licence (account_id, institution_id, product, granted_at)"
    " VALUES (:a, :i, :p, :t) RETURNING id"
)
READ = sa.text(
    "INSERT INTO ai_read (account_id, institution_id, product, study_uid, idempotency_key,"
    " licence_id, read_at) VALUES (:a, :i, :p, :u, :u, :l, :t)"
)


async def test_reads_recorded_before_the_counters_are_counted_per_licence(
    database_url: str,
) -> None:
    # given a database one step before 0016: two licences, one with 3 reads, one with none
    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0016-1")
    db = Database(database_url)
    async with db.write() as conn:
        stmt = account.insert().values(name="A", created_at=NOW).returning(account.c.id)
        a = int((await conn.execute(stmt)).scalar_one())
        sites = []
        for name in ("North", "South"):
            stmt = (
                institution.insert()
                .values(account_id=a, name=name, created_at=NOW, token_key="k")
                .returning(institution.c.id)
            )
            sites.append(int((await conn.execute(stmt)).scalar_one()))
        licences = []
        for site in sites:
            values = {"a": a, "i": site, "p": "GLAUCOMA", "t": NOW}
            licences.append(int((await conn.execute(LICENCE, values)).scalar_one()))
        busy, idle = licences
        for n in range(3):
            values = {"a": a, "i": sites[0], "p": "GLAUCOMA", "u": f"1.2.{n}", "l": busy, "t": NOW}
            await conn.execute(READ, values)
    await db.dispose()
    # when it migrates
    await asyncio.to_thread(upgrade, database_url)
    # then each licence holds its count, and the figures add them up
    db = Database(database_url)
    async with db.read() as conn:
        counted = {row.id: row.reads for row in await store.account_licences(conn, a)}
        figures = await ai.ai_figures(conn, a, NOW)
        found = await ai.reconcile_ai(conn, a)
    await db.dispose()
    assert counted == {busy: 3, idle: 0}
    assert [(f.product, f.licence_reads) for f in figures.figures] == [(AiProduct.GLAUCOMA, 3)]
    assert found == []
