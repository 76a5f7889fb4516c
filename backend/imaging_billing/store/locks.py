"""Work that one instance at a time does (the expiry sweep, the notice scan).

PostgreSQL: a session advisory lock, tried, never waited for: an instance that finds it
held skips the round (the holder is doing that very work). It is released when the round
ends, or by the server when the holder's connection dies (a killed process holds
nothing). SQLite: one file, one process's write turn at a time already; always granted.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import sqlalchemy as sa

from .db import Database


def lock_key(name: str) -> int:
    """A stable 32-bit key per name (advisory locks take a bigint)."""
    return zlib.crc32(f"imaging-billing:{name}".encode())


@asynccontextmanager
async def only_one(db: Database, name: str) -> AsyncIterator[bool]:
    """Yields True when this instance holds `name` for the block, False when another does."""
    if db.is_sqlite:
        yield True
        return
    key = lock_key(name)
    async with db.write_engine.connect() as conn:
        held = await conn.scalar(sa.select(sa.func.pg_try_advisory_lock(key)))
        await conn.commit()
        try:
            yield bool(held)
        finally:
            if held:
                await conn.scalar(sa.select(sa.func.pg_advisory_unlock(key)))
                await conn.commit()
