"""Changes between server instances (and the CLI) on one PostgreSQL database: LISTEN/NOTIFY.

One connection of its own per instance, outside the pool: it listens for the whole
life of the process, and sends this instance's notifications too. Two channels:

- `ib_account_changed`: an account id; whoever hears it reads the figures through the
  ordinary reads. PostgreSQL delivers a notification to its own sender as well: that
  one is dropped (the instance told its own subscribers when its transaction committed).
  A process without a listener (the CLI) sends them from inside its write transactions
  instead (`announce_accounts`, `Database(announce=True)`).
- `ib_credentials_revoked`: which cached credentials to drop (`institution:<id>`, never
  a secret), sent from inside the transaction that rotates or revokes them
  (`credentials_revoked`): PostgreSQL delivers it only if that transaction commits.

When the listener's connection is lost (a database restart, a dropped network), it is
opened again, waiting 0.5 s, then twice as long each time up to 30 s; once listening
again, `missed` is called: whatever was sent meanwhile is lost, so the instance acts as
if everything had changed (followers re-read, cached keys are dropped). Until then
institution keys are refused within their cache's 5 s all the same (services/auth.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)
CHANNEL = "ib_account_changed"
REVOKED = "ib_credentials_revoked"
_INSTITUTION = "institution:"

FIRST_RETRY, LAST_RETRY = 0.5, 30.0  # seconds between attempts to listen again
_NOTIFY_ACCOUNTS = "SELECT pg_notify($1, id::text) FROM unnest($2::bigint[]) AS id"


def asyncpg_dsn(url: str) -> str:
    """The SQLAlchemy URL (postgresql+asyncpg://…) as a DSN asyncpg takes."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class PgChannel:
    def __init__(
        self,
        url: str,
        heard: Callable[[int], None],
        revoked: Callable[[int], None] | None = None,
        missed: Callable[[], None] | None = None,
    ) -> None:
        """`heard`: an account changed elsewhere; `revoked`: an institution's tokens
        were rotated or revoked (by any instance, this one included); `missed`: the
        connection was lost and is back, what was sent meanwhile is not known."""
        self.dsn = asyncpg_dsn(url)
        self.heard = heard
        self.revoked = revoked
        self.missed = missed
        self._conn: Any = None
        self._own_pid = 0
        self._closing = False
        self._reopening: asyncio.Task[None] | None = None
        self.reopened = 0  # times the connection was lost and opened again

    async def open(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        self._own_pid = conn.get_server_pid()
        await conn.add_listener(CHANNEL, self._on_notification)
        if self.revoked is not None:
            await conn.add_listener(REVOKED, self._on_revoked)
        conn.add_termination_listener(self._on_lost)
        self._conn = conn

    def _on_lost(self, conn: object) -> None:
        if self._closing or conn is not self._conn or self._reopening is not None:
            return
        log.warning("the %s listener lost its connection; listening again", CHANNEL)
        self._conn = None
        self._reopening = asyncio.get_running_loop().create_task(self._reopen())

    async def _reopen(self) -> None:
        wait = FIRST_RETRY
        try:
            while not self._closing:
                await asyncio.sleep(wait)
                try:
                    await self.open()
                except (OSError, asyncpg.PostgresError) as error:
                    log.warning("listening again failed (%s); next try in %.1f s", error, wait)
                    wait = min(wait * 2, LAST_RETRY)
                    continue
                self.reopened += 1
                if self.missed is not None:
                    self.missed()
                return
        finally:
            self._reopening = None

    def _on_notification(self, _conn: object, pid: int, _channel: str, payload: str) -> None:
        if pid == self._own_pid:
            return
        try:
            account_id = int(payload)
        except ValueError:
            log.warning("ignored a malformed %s notification: %r", CHANNEL, payload[:40])
            return
        self.heard(account_id)

    def _on_revoked(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        # Sent from a pooled connection, never this one: the revoking instance hears it
        # too, and drops an entry it has already dropped (one look-up more, no harm).
        kind, _, key = payload.partition(":")
        if f"{kind}:" != _INSTITUTION or not key.isdigit():
            log.warning("ignored a malformed %s notification: %r", REVOKED, payload[:40])
            return
        assert self.revoked is not None
        self.revoked(int(key))

    async def send(self, account_ids: Iterable[int]) -> None:
        """One notification per account, in one statement."""
        if self._conn is None:
            raise ConnectionError(f"the {CHANNEL} connection is being opened again")
        await self._conn.execute(_NOTIFY_ACCOUNTS, CHANNEL, sorted(account_ids))

    async def close(self) -> None:
        self._closing = True
        if self._reopening is not None:
            self._reopening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reopening
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close(timeout=5)


async def announce_accounts(conn: AsyncConnection, account_ids: Iterable[int]) -> None:
    """`CHANNEL` notifications from inside a write transaction: delivered when it
    commits, never after a rollback, and sent once the commit has returned."""
    await conn.exec_driver_sql(_NOTIFY_ACCOUNTS, (CHANNEL, sorted(account_ids)))


async def credentials_revoked(conn: AsyncConnection, institution_id: int) -> None:
    """Tell every instance to drop its cached keys of the institution, when (and only
    if) this write transaction commits. SQLite: one process, nothing to tell."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.text("SELECT pg_notify(:channel, :key)"),
            {"channel": REVOKED, "key": f"{_INSTITUTION}{institution_id}"},
        )
