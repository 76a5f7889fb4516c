"""R-ARR-3 at the gateway's door: may new studies be taken? Asked briefly cached, so a
PACS filtering every incoming instance does not call the billing API for each one.

When the API cannot be reached the last known answer holds; with none yet, `fail_open`
decides (default open: a hospital must not lose an exam to a network blip, and the
report waits in the spool).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .client import GatewayClient, GatewayError


class PermissionCache:
    def __init__(
        self,
        client: GatewayClient,
        *,
        ttl_seconds: float = 30.0,
        fail_open: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.ttl = ttl_seconds
        self.fail_open = fail_open
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._allowed: bool | None = None
        self._checked_at: float | None = None
        self.last_error: str | None = None

    def allowed(self) -> bool:
        """The cached answer while fresh, else asked again (on the caller's thread)."""
        with self._lock:
            fresh = self._checked_at is not None and self.monotonic() - self._checked_at < self.ttl
            if fresh and self._allowed is not None:
                return self._allowed
        return self.refresh()

    def current(self) -> bool:
        """The last answer without asking (`fail_open` before the first): for a caller that
        must not wait on the network, with `refresh` run on a thread of its own."""
        with self._lock:
            return self._allowed if self._allowed is not None else self.fail_open

    def refresh(self) -> bool:
        """Ask the API now; on failure keep the last answer (or `fail_open`)."""
        try:
            answer = self.client.upload_permission().allowed
        except GatewayError as failed:
            with self._lock:
                self.last_error = str(failed)
                # Asked again after the same pause as a success: an outage is not hammered.
                self._checked_at = self.monotonic()
                return self._allowed if self._allowed is not None else self.fail_open
        with self._lock:
            self._allowed, self._checked_at, self.last_error = answer, self.monotonic(), None
            return answer
