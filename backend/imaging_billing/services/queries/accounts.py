"""Accounts, institutions and agreements as a principal may read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.errors import RuleViolation
from ...store import accounts, lookups
from ...store.records import AccountRecord, AgreementRecord, InstitutionRecord
from ..reader import Reader
from ..reading import may_read
from ..reconcile import Discrepancy, reconcile_account
from . import Page


async def accounts_by_id(reader: Reader, keys: Sequence[int]) -> list[AccountRecord | None]:
    found = await reader.run(lookups.accounts_by_id, keys)
    see = reader.principal.can_see_account
    return [row if (row := found.get(key)) is not None and see(row.id) else None for key in keys]


async def revisions(reader: Reader, account_ids: Sequence[int]) -> dict[int, int]:
    """The revisions of those accounts the principal may see (store/accounts.lock_account)."""
    found = await reader.run(accounts.revisions, account_ids)
    see = reader.principal.can_see_account
    return {key: revision for key, revision in found.items() if see(key)}


async def institutions_by_id(reader: Reader, keys: Sequence[int]) -> list[InstitutionRecord | None]:
    found = await reader.run(lookups.institutions_by_id, keys)
    return [
        row
        if (row := found.get(key)) is not None
        and may_read(
            reader.principal, "Institution", account_id=row.account_id, institution_id=row.id
        )
        else None
        for key in keys
    ]


async def latest_agreements(
    reader: Reader, account_ids: Sequence[int]
) -> list[AgreementRecord | None]:
    """R-GEN-2: the agreement in force of each account (accounts already visible)."""
    found = await reader.run(lookups.latest_agreements, account_ids)
    return [found.get(key) for key in account_ids]


async def _accounts_page(
    conn: AsyncConnection,
    *,
    after_id: int | None,
    offset: int,
    limit: int,
    search: str | None,
    status: str | None,
    now: datetime,
    by_arrears: bool,
) -> Page[AccountRecord]:
    rows = await accounts.page_accounts(
        conn,
        after_id=after_id,
        offset=offset,
        limit=limit,
        search=search,
        status=status,
        now=now,
        by_arrears=by_arrears,
    )
    return Page(rows, await accounts.count_accounts(conn, search, status, now))


async def accounts_page(
    reader: Reader,
    *,
    after_id: int | None,
    offset: int,
    limit: int,
    search: str | None,
    status: str | None,
    now: datetime,
    by_arrears: bool,
) -> Page[AccountRecord]:
    """Operators: every account, by id or most arrears first."""
    reader.principal.require_operator()
    return await reader.run(
        _accounts_page,
        after_id=after_id,
        offset=offset,
        limit=limit,
        search=search,
        status=status,
        now=now,
        by_arrears=by_arrears,
    )


async def _institutions_page(
    conn: AsyncConnection, account_id: int, after_id: int | None, limit: int
) -> Page[InstitutionRecord]:
    rows = await accounts.page_institutions(conn, account_id, after_id=after_id, limit=limit)
    return Page(rows, await accounts.count_institutions(conn, account_id))


async def institutions_page(
    reader: Reader, account_id: int, *, after_id: int | None, limit: int
) -> Page[InstitutionRecord]:
    reader.principal.require_account(account_id)
    return await reader.run(_institutions_page, account_id, after_id, limit)


async def reconcile(reader: Reader, account_id: int) -> list[Discrepancy]:
    """Operators: R-GEN-7, the account's cached figures checked against its ledger."""
    reader.principal.require_operator()
    return await reader.run(reconcile_account, account_id)


async def visible_institution(reader: Reader, institution_id: int) -> InstitutionRecord:
    """An institution the principal may see, or INSTITUTION_NOT_FOUND."""
    (row,) = await institutions_by_id(reader, [institution_id])
    if row is None:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    return row
