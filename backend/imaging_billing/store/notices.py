"""Notice repository (R-ARR-2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .db import account_changed
from .fetch import fetch_all, fetch_one
from .records import NoticeRecord
from .tables import notice


async def append(conn: AsyncConnection, rows: Sequence[Mapping[str, object]]) -> list[NoticeRecord]:
    """The notices as written, in the order of `rows`; a keyed row whose key was
    written before (for its target) is left out."""
    if not rows:
        return []
    if all(row.get("key") is None for row in rows):
        stmt = notice.insert().returning(*notice.c, sort_by_parameter_order=True)
        written = await fetch_all(conn, NoticeRecord, stmt, list(rows))
    else:
        written = await _append_keyed(conn, rows)
    for row in written:
        account_changed(conn, row.account_id)
    return written


async def _append_keyed(
    conn: AsyncConnection, rows: Sequence[Mapping[str, object]]
) -> list[NoticeRecord]:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    written: list[NoticeRecord] = []
    for row in rows:  # keyed notices are rare (an expiry, a crossing): one at a time
        keyed = (
            dialect.insert(notice)
            .values(**row)
            .on_conflict_do_nothing(index_elements=[notice.c.key, notice.c.target])
            .returning(*notice.c)
        )
        written += await fetch_all(conn, NoticeRecord, keyed)
    return written


async def page_notices(
    conn: AsyncConnection,
    account_id: int,
    *,
    after_id: int | None,
    limit: int,
    kinds: Sequence[str] | None = None,
) -> list[NoticeRecord]:
    """Newest first."""
    where = [notice.c.account_id == account_id]
    if kinds:
        where.append(notice.c.kind.in_(list(kinds)))
    if after_id is not None:
        where.append(notice.c.id < after_id)
    stmt = sa.select(notice).where(*where).order_by(notice.c.id.desc()).limit(limit)
    return await fetch_all(conn, NoticeRecord, stmt)


async def count_notices(
    conn: AsyncConnection, account_id: int, kinds: Sequence[str] | None = None
) -> int:
    where = [notice.c.account_id == account_id]
    if kinds:
        where.append(notice.c.kind.in_(list(kinds)))
    stmt = sa.select(sa.func.count()).select_from(notice).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def get_notice(conn: AsyncConnection, notice_id: int) -> NoticeRecord | None:
    return await fetch_one(conn, NoticeRecord, sa.select(notice).where(notice.c.id == notice_id))
