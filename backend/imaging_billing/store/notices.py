"""Notice repository (R-ARR-2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import notice


async def append(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await conn.execute(notice.insert(), list(rows))


async def page_notices(
    conn: AsyncConnection,
    account_id: int,
    *,
    after_id: int | None,
    limit: int,
    kinds: Sequence[str] | None = None,
) -> list[Row[Any]]:
    """Newest first."""
    where = [notice.c.account_id == account_id]
    if kinds:
        where.append(notice.c.kind.in_(list(kinds)))
    if after_id is not None:
        where.append(notice.c.id < after_id)
    stmt = sa.select(notice).where(*where).order_by(notice.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).all())


async def count_notices(
    conn: AsyncConnection, account_id: int, kinds: Sequence[str] | None = None
) -> int:
    where = [notice.c.account_id == account_id]
    if kinds:
        where.append(notice.c.kind.in_(list(kinds)))
    stmt = sa.select(sa.func.count()).select_from(notice).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def get_notice(conn: AsyncConnection, notice_id: int) -> Row[Any] | None:
    return (await conn.execute(sa.select(notice).where(notice.c.id == notice_id))).first()
