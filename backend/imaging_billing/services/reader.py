"""The reads of one request: one read transaction shared by every field it resolves.

A request's fields then see one consistent snapshot, and a page of 50 rows costs one
BEGIN/COMMIT instead of one per field. graphql-core resolves sibling fields
concurrently while a connection runs one statement at a time, so the fields take
turns on it; DataLoaders (api/loaders.py) batch what would otherwise be a turn each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from ..store.db import Database
from .principals import Principal

__all__ = ["Database", "Reader"]

P = ParamSpec("P")
T = TypeVar("T")


class Reader:
    """Opens the snapshot at the first read. A mutation's payload reads after its write:
    `renew` ends the snapshot and the next read begins another; `close` ends the last."""

    def __init__(self, db: Database, principal: Principal) -> None:
        self.db = db
        self.principal = principal
        self._turn = asyncio.Lock()
        self._conn: AsyncConnection | None = None
        self._stack: AsyncExitStack | None = None
        self._closed = False  # the request is over: no snapshot opens again

    async def run(
        self,
        read: Callable[Concatenate[AsyncConnection, P], Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        # graphql-core cancels a field's siblings when one fails; a read cancelled halfway
        # would leave the shared connection mid-statement. So each read runs to its end in
        # a task of its own, whoever stops waiting for it.
        task = asyncio.ensure_future(self._run(read, *args, **kwargs))
        task.add_done_callback(_retrieved)
        return await asyncio.shield(task)

    async def _run(
        self,
        read: Callable[Concatenate[AsyncConnection, P], Awaitable[T]],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        async with self._turn:
            if self._closed:
                # A read a cancelled field left queued behind the request's end.
                raise RuntimeError("the request's reads are over")
            if self._conn is None:
                stack = AsyncExitStack()
                self._conn = await stack.enter_async_context(self.db.read())
                self._stack = stack
            try:
                return await read(self._conn, *args, **kwargs)
            except Exception as error:
                # A failed statement may leave the transaction unusable (PostgreSQL):
                # roll it back; the next read opens a fresh one.
                await self._end(error)
                raise

    async def renew(self) -> None:
        """End the snapshot; the next read begins a new one (after a mutation's write)."""
        await asyncio.shield(self._close(final=False))

    async def close(self) -> None:
        """The request is over: end the snapshot for good."""
        await asyncio.shield(self._close(final=True))

    async def _close(self, *, final: bool) -> None:
        async with self._turn:
            self._closed = final
            await self._end()

    async def _end(self, error: Exception | None = None) -> None:
        stack, self._stack, self._conn = self._stack, None, None
        if stack is None:
            return
        if error is None:
            await stack.aclose()
        else:
            await stack.__aexit__(type(error), error, error.__traceback__)


def _retrieved(task: asyncio.Future[Any]) -> None:
    """The error of a read nobody waited for any more is the reader's, not asyncio's."""
    if not task.cancelled():
        task.exception()
