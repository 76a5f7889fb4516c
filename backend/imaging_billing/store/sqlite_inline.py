"""SQLite write connections that run on the event loop's own thread.

aiosqlite gives every connection a worker thread and hands it each call: two
thread switches per statement, and while the loop is busy answering requests
every switch back waits its turn. A group commit of a dozen statements spent
most of its time waiting so. SQLite has a single writer anyway, so the write
engine runs its statements directly on the loop, as a plain sqlite3 service
does: a commit costs its own work and one fsync. `Database.write` lets one write
transaction in at a time, so a transaction never waits on another one of this
process while holding the loop; another process's write lock is waited for
(busy_timeout) with the loop blocked, for as long as that transaction lasts.

The class keeps aiosqlite's interface, which SQLAlchemy's aiosqlite dialect
drives, and replaces only the queue to the worker thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Generator

import aiosqlite
from sqlalchemy.engine import make_url


class _RunNow:
    """Stands in for the worker thread's queue: each call runs as it is queued."""

    def put_nowait(self, item: tuple[asyncio.Future[object] | None, Callable[[], object]]) -> None:
        future, call = item
        try:
            result = call()
        except BaseException as error:  # handed to the awaiting caller, as the thread does
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _RunNow()  # type: ignore[assignment]

    def __await__(self) -> Generator[object, None, InlineConnection]:
        # No worker thread to start: connecting runs here too.
        return self._connect().__await__()  # type: ignore[return-value]


def inline_creator(url: str) -> Callable[[], Awaitable[InlineConnection]]:
    """`async_creator` for create_async_engine: a connected InlineConnection."""
    database = make_url(url).database or ":memory:"

    def connector() -> sqlite3.Connection:
        # The driver's own transaction handling off: the engine emits BEGIN IMMEDIATE.
        return sqlite3.connect(database, isolation_level=None, check_same_thread=False)

    async def create() -> InlineConnection:
        return await InlineConnection(connector)

    return create
