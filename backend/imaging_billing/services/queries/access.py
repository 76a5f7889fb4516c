"""People, the audit log, invitations and operator tokens, as a principal may read them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.errors import RuleViolation
from ...store import access, audit, people
from .. import people as people_cases
from ..principals import Role
from ..reader import Reader
from . import Page


async def _users_page(
    conn: AsyncConnection, account_id: int, after_id: int | None, limit: int
) -> Page[Row[Any]]:
    rows = await access.page_users(conn, account_id, after_id=after_id, limit=limit)
    return Page(rows, await access.count_users(conn, account_id))


async def users_page(
    reader: Reader, account_id: int, *, after_id: int | None, limit: int
) -> Page[Row[Any]]:
    """People of the account: for operators and the account's administrators."""
    me = reader.principal
    me.require_account(account_id)
    if not (me.is_operator or me.role is Role.ACCOUNT_ADMIN):
        raise RuleViolation("FORBIDDEN")
    return await reader.run(_users_page, account_id, after_id, limit)


def audit_scope(reader: Reader, account_id: int | None) -> int | None:
    """Operators: every record or one account's; an account's administrator: theirs."""
    me = reader.principal
    if me.is_operator:
        return account_id
    if me.role is not Role.ACCOUNT_ADMIN or me.account_id is None:
        raise RuleViolation("FORBIDDEN")
    if account_id is not None and account_id != me.account_id:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    return me.account_id


async def _audit_page(
    conn: AsyncConnection,
    *,
    account_id: int | None,
    principal: str | None,
    operation: str | None,
    since: datetime | None,
    until: datetime | None,
    after_id: int | None,
    offset: int,
    limit: int,
    search: str | None,
) -> Page[Row[Any]]:
    rows = await audit.page_records(
        conn,
        account_id=account_id,
        principal=principal,
        operation=operation,
        since=since,
        until=until,
        search=search,
        after_id=after_id,
        offset=offset,
        limit=limit,
    )
    total = await audit.count_records(
        conn,
        account_id=account_id,
        principal=principal,
        operation=operation,
        since=since,
        until=until,
        search=search,
    )
    return Page(rows, total)


async def audit_page(
    reader: Reader,
    *,
    account_id: int | None,
    principal: str | None,
    operation: str | None,
    since: datetime | None,
    until: datetime | None,
    after_id: int | None,
    offset: int,
    limit: int,
    search: str | None,
) -> Page[Row[Any]]:
    """Newest first; `search`: words, each found in the operation, principal, result or
    arguments."""
    return await reader.run(
        _audit_page,
        account_id=audit_scope(reader, account_id),
        principal=principal,
        operation=operation,
        since=since,
        until=until,
        after_id=after_id,
        offset=offset,
        limit=limit,
        search=search,
    )


async def _invitations_page(
    conn: AsyncConnection,
    account_id: int | None,
    everyone: bool,
    now: datetime,
    after_id: int | None,
    limit: int,
) -> Page[Row[Any]]:
    rows = await people.page_pending_invitations(
        conn, account_id=account_id, everyone=everyone, now=now, after_id=after_id, limit=limit
    )
    total = await people.count_pending_invitations(
        conn, account_id=account_id, everyone=everyone, now=now
    )
    return Page(rows, total)


async def invitations_page(
    reader: Reader, account_id: int | None, *, now: datetime, after_id: int | None, limit: int
) -> Page[Row[Any]]:
    """Pending invitations: operators all or one account's; an administrator theirs."""
    scope, everyone = people_cases.invitation_scope(reader.principal, account_id)
    return await reader.run(_invitations_page, scope, everyone, now, after_id, limit)


async def _tokens_page(conn: AsyncConnection, after_id: int | None, limit: int) -> Page[Row[Any]]:
    rows = await people.page_tokens(conn, after_id=after_id, limit=limit)
    return Page(rows, await people.count_tokens(conn))


async def operator_tokens_page(
    reader: Reader, *, after_id: int | None, limit: int
) -> Page[Row[Any]]:
    """Operators: every operator API token, revoked ones too."""
    reader.principal.require_operator()
    return await reader.run(_tokens_page, after_id, limit)
