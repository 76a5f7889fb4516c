"""The live sockets of this process by the session that opened them, so that signing out
closes them at once (api/live.py registers them, the `logout` mutation ends them).

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
    """Session (by the digest of its token, never the token) -> how to close its sockets."""

    def __init__(self) -> None:
        self._open: dict[str, set[Close]] = defaultdict(set)

    def add(self, session_token: str, close: Close) -> None:
        self._open[digest(session_token)].add(close)

    def discard(self, session_token: str, close: Close) -> None:
        key = digest(session_token)
        closes = self._open.get(key)
        if closes is None:
            return
        closes.discard(close)
        if not closes:
            del self._open[key]

    async def ended(self, session_token: str) -> None:
        """The session is over: close each of its sockets in this process."""
        for close in list(self._open.pop(digest(session_token), ())):
            try:
                await close()
            except Exception:
                # A socket that is already going away; its own end tidies up after it.
                log.debug("closing a signed-out live socket failed", exc_info=True)
