"""Account changes between server instances on one PostgreSQL database: LISTEN/NOTIFY.

One connection of its own per instance, outside the pool: it listens for the whole
life of the process, and sends this instance's notifications too. A notification holds
only an account id; whoever hears it reads the figures through the ordinary reads.
PostgreSQL delivers a notification to its own sender as well: that one is dropped (the
instance told its own subscribers when its transaction committed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)
CHANNEL = "ib_account_changed"


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://…) as a DSN asyncpg takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgChannel:
    def __init__(self, url: str, heard: Callable[[int], None]) -> None:
        self.dsn = asyncpg_dsn(url)
        self.heard = heard
        self._conn: Any = None
        self._own_pid = 0

    async def open(self) -> None:
        self._conn = await asyncpg.connect(self.dsn)
        self._own_pid = self._conn.get_server_pid()
        await self._conn.add_listener(CHANNEL, self._on_notification)

    def _on_notification(self, _conn: object, pid: int, _channel: str, payload: str) -> None:
        if pid == self._own_pid:
            return
        try:
            account_id = int(payload)
        except ValueError:
            log.warning("ignored a malformed %s notification: %r", CHANNEL, payload[:40])
            return
        self.heard(account_id)

    async def send(self, account_ids: Iterable[int]) -> None:
        """One notification per account, in one statement."""
        await self._conn.execute(
            "SELECT pg_notify($1, id::text) FROM unnest($2::bigint[]) AS id",
            CHANNEL,
            sorted(account_ids),
        )

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close(timeout=5)
