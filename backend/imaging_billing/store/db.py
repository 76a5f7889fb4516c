"""Engines and transactions for SQLite (default) and PostgreSQL.

SQLite: WAL, synchronous=FULL (an acknowledged upload survives power loss),
busy_timeout and foreign keys on every connection. Write transactions begin
IMMEDIATE so concurrent writers queue on the lock instead of failing with
"database is locked" when a deferred reader upgrades. Reads use a second engine
with plain deferred BEGIN, so they never wait for writers under WAL.

PostgreSQL: one engine; the services lock the account row (`lock_account`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool


def _sqlite_engine(url: str, begin: str) -> AsyncEngine:
    # Every transaction ends in COMMIT or ROLLBACK through `begin()`, so the pool's
    # rollback on check-in would only cost one more round trip to the driver thread.
    engine = create_async_engine(url, pool_size=8, max_overflow=8, pool_reset_on_return=None)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """Hands out read and write transactions on the configured backend."""

    def __init__(self, url: str, *, pool: bool = True) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        if self.dialect == "sqlite":
            self.write_engine = _sqlite_engine(url, "BEGIN IMMEDIATE")
            self.read_engine = _sqlite_engine(url, "BEGIN")
        else:
            kwargs: dict[str, Any] = {} if pool else {"poolclass": NullPool}
            self.write_engine = create_async_engine(url, **kwargs)
            self.read_engine = self.write_engine

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One atomic use case: committed on success, rolled back on any exception."""
        async with self.write_engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.read_engine.begin() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
