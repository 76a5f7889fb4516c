"""AI packs, licences and figures as a principal may read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...store import ai as store
from ...store import lookups
from ...store.records import AiLicenceRecord, AiPackRecord
from .. import ai as cases
from ..reader import Reader
from ..reading import may_read
from . import Page


async def ai_figures(reader: Reader, account_id: int, now: datetime) -> cases.AiFiguresNow:
    """R-AI-5 per product with packs or licences (glaucoma always), right at `now`."""
    reader.principal.require_account(account_id)
    return await reader.run(cases.ai_figures, account_id, now)


async def _packs_page(
    conn: AsyncConnection,
    account_id: int,
    after_id: int | None,
    limit: int,
    unexpired_at: datetime | None,
    newest_first: bool,
) -> Page[AiPackRecord]:
    rows = await store.page_packs(
        conn,
        account_id,
        after_id=after_id,
        limit=limit,
        unexpired_at=unexpired_at,
        newest_first=newest_first,
    )
    return Page(rows, await store.count_packs(conn, account_id, unexpired_at=unexpired_at))


async def packs_page(
    reader: Reader,
    account_id: int,
    *,
    after_id: int | None,
    limit: int,
    unexpired_at: datetime | None = None,
    newest_first: bool = False,
) -> Page[AiPackRecord]:
    """R-AI-1: packs by purchase; newest first for the renewal record (R-AI-5)."""
    reader.principal.require_account(account_id)
    return await reader.run(_packs_page, account_id, after_id, limit, unexpired_at, newest_first)


async def account_licences(reader: Reader, account_id: int) -> list[AiLicenceRecord]:
    """R-AI-4: the licences of every institution of the account."""
    reader.principal.require_account(account_id)
    rows = await reader.run(store.account_licences, account_id)
    return [r for r in rows if _visible(reader, r)]


async def licences_of_institutions(
    reader: Reader, institution_ids: Sequence[int]
) -> list[list[AiLicenceRecord]]:
    """R-AI-4: the AI licences each institution holds."""
    found = await reader.run(lookups.ai_licences_of_institutions, institution_ids)
    return [[r for r in found[key] if _visible(reader, r)] for key in institution_ids]


def _visible(reader: Reader, row: AiLicenceRecord) -> bool:
    return may_read(
        reader.principal, "AiLicence", account_id=row.account_id, institution_id=row.institution_id
    )
