"""Audit log repository: append and read only (no update, no delete but retention)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .access_tables import audit_record
from .fetch import fetch_all
from .records import AuditEntryRecord

_INSERT = audit_record.insert()  # built once: appended to with every mutation


# Optional columns: one executemany needs the same keys in every row of a group commit.
_OPTIONAL = {"correlation_id": None}


async def append(conn: AsyncConnection, rows: Sequence[Mapping[str, object]]) -> None:
    if rows:
        await conn.execute(_INSERT, [{**_OPTIONAL, **row} for row in rows])


# Free-text search looks at what a person reads in the log, nothing else.
_SEARCHED = (
    audit_record.c.operation,
    audit_record.c.principal,
    audit_record.c.result,
)


def _like(words: str) -> str:
    """A LIKE pattern matching `words` literally (`%`, `_` and `\\` escaped)."""
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search(search: str) -> list[sa.ColumnElement[bool]]:
    """Every word must appear in one of the searched columns (case-insensitive). The
    arguments are stored as ASCII JSON, so a word is looked for there as JSON writes it."""
    found = []
    for word in search.split():
        word = word.lower()
        matches = [sa.func.lower(c).like(_like(word), escape="\\") for c in _SEARCHED]
        in_json = json.dumps(word)[1:-1]
        matches.append(sa.func.lower(audit_record.c.arguments).like(_like(in_json), escape="\\"))
        found.append(sa.or_(*matches))
    return found


def _where(
    account_id: int | None,
    principal: str | None,
    operation: str | None,
    since: datetime | None,
    until: datetime | None,
    search: str | None = None,
) -> list[sa.ColumnElement[bool]]:
    where = _search(search) if search else []
    if account_id is not None:
        where.append(audit_record.c.account_id == account_id)
    if principal:
        where.append(audit_record.c.principal == principal)
    if operation:
        where.append(audit_record.c.operation == operation)
    if since is not None:
        where.append(audit_record.c.occurred_at >= since)
    if until is not None:
        where.append(audit_record.c.occurred_at < until)
    return where


async def page_records(
    conn: AsyncConnection,
    *,
    account_id: int | None,
    principal: str | None,
    operation: str | None,
    since: datetime | None,
    until: datetime | None,
    after_id: int | None,
    limit: int,
    search: str | None = None,
    offset: int = 0,
) -> list[AuditEntryRecord]:
    """Newest first; `offset` only for a jump to a numbered page."""
    where = _where(account_id, principal, operation, since, until, search)
    if after_id is not None:
        where.append(audit_record.c.id < after_id)
    stmt = sa.select(audit_record).where(*where).order_by(audit_record.c.id.desc()).limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return await fetch_all(conn, AuditEntryRecord, stmt)


async def count_records(
    conn: AsyncConnection,
    *,
    account_id: int | None,
    principal: str | None,
    operation: str | None,
    since: datetime | None,
    until: datetime | None,
    search: str | None = None,
) -> int:
    where = _where(account_id, principal, operation, since, until, search)
    stmt = sa.select(sa.func.count()).select_from(audit_record).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def prune(conn: AsyncConnection, before: datetime) -> int:
    """Retention: records older than the configured period go; nothing else ever does."""
    result = await conn.execute(audit_record.delete().where(audit_record.c.occurred_at < before))
    return int(result.rowcount or 0)
