"""What readiness and the metrics scrape read: the schema's revision, accounts by arrears
clock."""

from __future__ import annotations

import functools
from datetime import datetime

import sqlalchemy as sa
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from .migrate import alembic_config
from .tables import account


@functools.cache
def head_revision() -> str | None:
    """The newest migration shipped with this code (read from the scripts once)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def schema_revision(conn: AsyncConnection) -> str | None:
    """The revision the database is at (raises before the first migration)."""
    result = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
    value = result.scalar_one_or_none()
    return None if value is None else str(value)


async def arrears_clocks(conn: AsyncConnection) -> list[tuple[datetime | None, int]]:
    """Accounts counted by `arrears_since`: one row for every account not in arrears,
    one for each that is (few, and each with its own time)."""
    stmt = sa.select(account.c.arrears_since, sa.func.count()).group_by(account.c.arrears_since)
    return [(row[0], int(row[1])) for row in (await conn.execute(stmt)).all()]
