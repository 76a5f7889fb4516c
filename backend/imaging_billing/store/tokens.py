"""Operator API tokens (hashed)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .fetch import fetch_one
from .records import ApiTokenRecord
from .tables import api_token


async def insert_token(
    conn: AsyncConnection, *, name: str, token_hash: str, role: str, now: datetime
) -> int:
    stmt = (
        api_token.insert()
        .values(name=name, token_hash=token_hash, role=role, created_at=now)
        .returning(api_token.c.id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def by_hash(conn: AsyncConnection, token_hash: str) -> ApiTokenRecord | None:
    stmt = sa.select(api_token).where(
        api_token.c.token_hash == token_hash, api_token.c.revoked_at.is_(None)
    )
    return await fetch_one(conn, ApiTokenRecord, stmt)
