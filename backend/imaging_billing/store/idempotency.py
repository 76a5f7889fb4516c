"""Idempotency records: a key's first response, replayed to every retry."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .fetch import fetch_all, fetch_one
from .records import IdempotencyKeyRecord
from .tables import idempotency_record


async def find(conn: AsyncConnection, scope: str, key: str) -> IdempotencyKeyRecord | None:
    stmt = sa.select(idempotency_record).where(
        idempotency_record.c.scope == scope, idempotency_record.c.key == key
    )
    return await fetch_one(conn, IdempotencyKeyRecord, stmt)


async def find_many(
    conn: AsyncConnection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], IdempotencyKeyRecord]:
    pairs = list(pairs)
    if not pairs:
        return {}
    stmt = sa.select(idempotency_record).where(
        sa.tuple_(idempotency_record.c.scope, idempotency_record.c.key).in_(pairs)
    )
    return {(row.scope, row.key): row for row in await fetch_all(conn, IdempotencyKeyRecord, stmt)}


async def insert(
    conn: AsyncConnection,
    *,
    scope: str,
    key: str,
    operation: str,
    request_hash: str,
    response: str,
    now: datetime,
) -> None:
    await conn.execute(
        idempotency_record.insert().values(
            scope=scope,
            key=key,
            operation=operation,
            request_hash=request_hash,
            response=response,
            created_at=now,
        )
    )


async def lock_key(conn: AsyncConnection, scope: str, key: str) -> None:
    """Serialise twins of one key until commit, so the second finds the first's record.

    PostgreSQL: a transaction-scoped advisory lock on the key's hash (READ COMMITTED
    would otherwise let both miss the record and both run the effect). SQLite: the
    IMMEDIATE write transaction already serialises every writer.
    """
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": f"{scope}\x1f{key}"},
        )
