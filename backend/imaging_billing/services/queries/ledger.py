"""The ledger and notices of an account, as a principal may read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ...store import ledger, notices
from .. import reading
from ..reader import Reader
from . import Page


async def _entries_page(
    conn: AsyncConnection,
    account_id: int,
    *,
    after_id: int | None,
    offset: int,
    limit: int,
    types: list[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> Page[Row[Any]]:
    rows = await ledger.page_entries(
        conn,
        account_id,
        after_id=after_id,
        offset=offset,
        limit=limit,
        types=types,
        since=since,
        until=until,
    )
    total = await ledger.count_entries(conn, account_id, types=types, since=since, until=until)
    return Page(rows, total)


async def entries_page(
    reader: Reader,
    account_id: int,
    *,
    after_id: int | None,
    offset: int,
    limit: int,
    types: list[str] | None,
    since: datetime | None,
    until: datetime | None,
) -> Page[Row[Any]]:
    """R-GEN-7: newest first, of these types, in [since, until)."""
    reader.principal.require_account(account_id)
    return await reader.run(
        _entries_page,
        account_id,
        after_id=after_id,
        offset=offset,
        limit=limit,
        types=types,
        since=since,
        until=until,
    )


async def _notices_page(
    conn: AsyncConnection,
    account_id: int,
    after_id: int | None,
    limit: int,
    kinds: list[str] | None,
) -> Page[Row[Any]]:
    rows = await notices.page_notices(conn, account_id, after_id=after_id, limit=limit, kinds=kinds)
    return Page(rows, await notices.count_notices(conn, account_id, kinds))


async def notices_page(
    reader: Reader, account_id: int, *, after_id: int | None, limit: int, kinds: list[str] | None
) -> Page[Row[Any]]:
    """R-ARR-2: the account's notices, newest first."""
    reader.principal.require_account(account_id)
    return await reader.run(_notices_page, account_id, after_id, limit, kinds)


async def ledger_days(
    reader: Reader,
    account_id: int,
    *,
    types: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> list[reading.LedgerDay]:
    """The ledger summed per Asia/Shanghai day, newest first."""
    reader.principal.require_account(account_id)
    return await reader.run(
        reading.ledger_days, account_id, types=types, since=since, until=until, now=now
    )
