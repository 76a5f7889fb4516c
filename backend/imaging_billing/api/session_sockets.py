"""The live sockets of this process by the session that opened them, so that signing out
closes them at once (api/live.py registers them, the `logout` mutation ends them), and
by person, so that ending a person's sessions (disabling them, "sign out everywhere", a
password reset) closes all of theirs at once too.

Only this process's sockets are known here. A socket held by another instance notices the
ended session at its next change or its periodic recheck (services/live.py `RECHECK`, 30 s):
that recheck stays the bound across instances.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable

from ..security import digest

log = logging.getLogger("imaging_billing.api")

Close = Callable[[], Awaitable[None]]


class SessionSockets:
    """Session (by the digest of its token, never the token) -> how to close its sockets;
    person -> their sessions here."""

    def __init__(self) -> None:
        self._open: dict[str, set[Close]] = defaultdict(set)
        self._sessions: dict[int, set[str]] = defaultdict(set)

    def add(self, session_token: str, person_id: int, close: Close) -> None:
        key = digest(session_token)
        self._open[key].add(close)
        self._sessions[person_id].add(key)

    def discard(self, session_token: str, person_id: int, close: Close) -> None:
        key = digest(session_token)
        closes = self._open.get(key)
        if closes is None:
            return
        closes.discard(close)
        if not closes:
            del self._open[key]
            self._forget(person_id, key)

    def _forget(self, person_id: int, key: str) -> None:
        keys = self._sessions.get(person_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._sessions[person_id]

    async def ended(self, session_token: str) -> None:
        """The session is over: close each of its sockets in this process."""
        await self._close(digest(session_token))

    async def person_signed_out(self, person_id: int) -> None:
        """Every session of the person is over: close all their sockets here."""
        for key in list(self._sessions.pop(person_id, ())):
            await self._close(key)

    async def _close(self, key: str) -> None:
        for close in list(self._open.pop(key, ())):
            try:
                await close()
            except Exception:
                # A socket that is already going away; its own end tidies up after it.
                log.debug("closing a signed-out live socket failed", exc_info=True)
