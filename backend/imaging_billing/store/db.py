"""Engines and transactions for SQLite (default) and PostgreSQL.

SQLite: WAL, synchronous=FULL (an acknowledged upload survives power loss),
busy_timeout and foreign keys on every connection. Write transactions begin
IMMEDIATE, one at a time per process, on a connection that runs on the event
loop's thread (store/sqlite_inline.py); reads use a second engine on aiosqlite's
worker threads with plain deferred BEGIN, so they never wait for writers under WAL.

PostgreSQL: one pool; the services lock the account row (`lock_account`). Reads run in
one REPEATABLE READ, READ ONLY transaction: every SELECT of a read (reconciliation,
figures with their lots, the overview) sees the same committed moment. Under READ
COMMITTED each statement saw its own, and reconcile reported uploads committed between
two of its SELECTs as discrepancies. The pool is sized by `DB_POOL_SIZE` /
`DB_MAX_OVERFLOW` (per process); `DB_POOL_PRE_PING=1` checks each connection before
handing it out again.

A write transaction remembers the accounts it changed (`account_changed`, called by
the repositories that lock an account or write its notices); once it has committed,
`Database.on_commit` hears of them (the live console's pushes, services/live.py).
Never before: a push must not show what a rollback then takes back. A process that
serves nobody live (the CLI) passes `announce=True` instead: on PostgreSQL its write
transactions NOTIFY the servers of the accounts they changed (store/notify.py),
delivered with the commit. SQLite has no channel between processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry, NullPool, Pool, QueuePool

from .notify import announce_accounts
from .sqlite_inline import inline_creator

_CHANGED = "ib_changed_accounts"


def account_changed(conn: AsyncConnection, account_id: int) -> None:
    """Note that this write transaction changes the account (its figures, status or
    notices); outside `Database.write` there is nobody to tell."""
    changed = conn.info.get(_CHANGED)
    if changed is not None:
        changed.add(account_id)


# Transaction modes of PostgreSQL reads (asyncpg starts the transaction with them: no
# extra round trip).
PG_READ = {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}


@dataclass(frozen=True)
class PoolStats:
    """One pool's state: sized `size` (+ `max_overflow`); `opened` counts every
    connection opened since start, so a pool that churns shows it."""

    size: int
    max_overflow: int
    checked_out: int
    idle: int
    overflow: int
    opened: int


def make_engine(url: str, **kwargs: object) -> AsyncEngine:
    """Every engine of the app (migrations' too): bound values (tokens, e-mail addresses,
    Study Instance UIDs) are left out of the errors a failing statement raises, and so
    out of logs and tracebacks; the statement itself is still shown."""
    return create_async_engine(url, hide_parameters=True, **kwargs)


def _sqlite_engine(url: str, begin: str, *, inline: bool = False) -> AsyncEngine:
    # Every transaction ends in COMMIT or ROLLBACK through `begin()`, so the pool's
    # rollback on check-in would only cost one more call to the driver.
    kwargs: dict[str, object] = {"pool_reset_on_return": None}
    if inline:  # one write transaction at a time (Database.write): one connection
        kwargs.update(async_creator=inline_creator(url), pool_size=1, max_overflow=0)
    else:
        kwargs.update(pool_size=8, max_overflow=8)
    engine = make_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(
        dbapi_connection: AsyncAdapt_aiosqlite_connection, _record: ConnectionPoolEntry
    ) -> None:
        # Take transaction control away from the driver: we emit BEGIN ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """Hands out read and write transactions on the configured backend."""

    def __init__(
        self,
        url: str,
        *,
        pool: bool = True,
        pool_size: int = 10,
        max_overflow: int = 5,
        pre_ping: bool = False,
        announce: bool = False,
    ) -> None:
        self.url = url
        self.dialect = make_url(url).get_backend_name()
        # NOTIFY the accounts each write transaction changed, in the transaction.
        self.announce = announce and self.dialect != "sqlite"
        self._opened: dict[Pool, int] = {}
        if self.dialect == "sqlite":
            self.write_engine = _sqlite_engine(url, "BEGIN IMMEDIATE", inline=True)
            self.read_engine = _sqlite_engine(url, "BEGIN")
        else:
            kwargs: dict[str, object] = {"poolclass": NullPool}
            if pool:
                kwargs = {
                    "pool_size": pool_size,
                    "max_overflow": max_overflow,
                    # A ping per checkout cost ~15 % of single-upload throughput (bench
                    # P7). Without it a dead connection fails one transaction, and that
                    # disconnect invalidates the pool's older connections at once.
                    "pool_pre_ping": pre_ping,
                    # Connections older than this are replaced: a server-side idle
                    # timeout must not hand out a dead one.
                    "pool_recycle": 1800,
                }
            self.write_engine = make_engine(url, **kwargs)
            self.read_engine = self.write_engine.execution_options(**PG_READ)
        for name, engine in self._engines().items():
            self._opened[engine.sync_engine.pool] = 0
            event.listen(engine.sync_engine.pool, "connect", self._counter(name))
        self._turns: WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            WeakKeyDictionary()
        )
        # Told the accounts a write transaction changed, after it committed.
        self.on_commit: Callable[[set[int]], None] | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One atomic use case: committed on success, rolled back on any exception.

        On SQLite write transactions take turns here rather than in SQLite's lock:
        the connection runs on the loop's thread, so waiting for SQLite's lock
        would hold up the loop and with it the transaction being waited for."""
        turn = self._turn() if self.is_sqlite else contextlib.nullcontext()
        changed: set[int] = set()
        async with turn, self.write_engine.begin() as conn:
            # `info` lives as long as the driver's connection: set and cleared per transaction.
            conn.info[_CHANGED] = changed
            try:
                yield conn
                if changed and self.announce:
                    await announce_accounts(conn, changed)
            finally:
                conn.info.pop(_CHANGED, None)
        if changed and self.on_commit is not None:
            self.on_commit(changed)

    def _turn(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        turn = self._turns.get(loop)
        if turn is None:
            turn = self._turns[loop] = asyncio.Lock()
        return turn

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.read_engine.begin() as conn:
            yield conn

    def _engines(self) -> dict[str, AsyncEngine]:
        """The pools by the name /metrics gives them: PostgreSQL's one ("main", which
        its reads share in their own transaction mode); SQLite's writer and readers."""
        if self.read_engine.sync_engine.pool is self.write_engine.sync_engine.pool:
            return {"main": self.write_engine}
        return {"write": self.write_engine, "read": self.read_engine}

    def _counter(self, name: str) -> Callable[[object, ConnectionPoolEntry], None]:
        pool = self._engines()[name].sync_engine.pool

        def opened(_dbapi: object, _record: ConnectionPoolEntry) -> None:
            self._opened[pool] += 1

        return opened

    def pools(self) -> dict[str, PoolStats]:
        """Each pool's state, by name (`_engines`); for /metrics."""
        return {
            name: self._stats(engine.sync_engine.pool) for name, engine in self._engines().items()
        }

    def _stats(self, pool: Pool) -> PoolStats:
        opened = self._opened[pool]
        if isinstance(pool, QueuePool):
            return PoolStats(
                size=pool.size(),
                max_overflow=pool._max_overflow,  # noqa: SLF001 - no public accessor
                checked_out=pool.checkedout(),
                idle=pool.checkedin(),
                # QueuePool counts overflow from -size (no connection opened yet) upwards.
                overflow=max(pool.overflow(), 0),
                opened=opened,
            )
        return PoolStats(0, 0, 0, 0, 0, opened)

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()
