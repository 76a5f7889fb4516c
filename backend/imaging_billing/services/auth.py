"""Authenticating callers into principals.

Institution look-ups are cached for a few seconds, with their signing keys already
unsealed: every upload is signed, and the keys barely ever change. A revoked or rotated
token stops working at once on the instance that revoked it, and on the others as soon
as they hear of it (PostgreSQL NOTIFY on `ib_credentials_revoked`, store/notify.py;
`forget`). A notification can be missed (the listening connection was down):
`CACHE_SECONDS` stays the bound then. One look-up per institution at a time: the
requests that find the entry stale wait for that one instead of each opening a
connection (a burst of them overflowed the pool every time the entry expired).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .. import security
from ..store import accounts, people, tokens
from ..store.db import Database
from ..store.records import ApiTokenRecord, InstitutionRecord
from .clock import Clock, SystemClock
from .institution_tokens import accepted_keys
from .principals import Principal, Role

log = logging.getLogger("imaging_billing.auth")
# How long a cached institution is trusted without a look-up: the bound on a revocation
# whose notification this instance missed.
CACHE_SECONDS = 5.0
# An operator token's last use is written at most this often: one write a minute per
# token, not one per request.
TOKEN_TOUCH = timedelta(minutes=1)


@dataclass(frozen=True)
class _Known:
    row: InstitutionRecord
    principal: Principal
    opened: dict[str, str]  # stored (sealed) key -> signing key, for those that open
    loaded: float


class Authenticator:
    def __init__(
        self,
        db: Database,
        window_seconds: int,
        keys: security.KeyBox,
        clock: Clock | None = None,
    ) -> None:
        self.db = db
        self.window_seconds = window_seconds
        self.keys = keys
        self.clock = clock or SystemClock()
        self._institutions: dict[int, _Known] = {}
        self._loading: dict[int, asyncio.Future[_Known | None]] = {}
        self._forgotten: dict[int, int] = {}  # times forgotten, per institution

    async def operator(self, bearer: str) -> Principal | None:
        async with self.db.read() as conn:
            row = await tokens.by_hash(conn, security.digest(bearer))
        if row is None:
            return None
        await self._touch(row)
        return Principal(Role.OPERATOR, row.id, row.name, kind="token")

    async def _touch(self, row: ApiTokenRecord) -> None:
        """Note the token's use (to the minute). Best effort: a failed write of this
        bookkeeping must not turn a valid token away."""
        now = self.clock.now()
        if row.last_used_at is not None and now - row.last_used_at < TOKEN_TOUCH:
            return
        try:
            async with self.db.write() as conn:
                await people.touch_token(conn, row.id, now)
        except Exception:
            log.warning("operator token %s: last use not recorded", row.id, exc_info=True)

    async def institution(
        self, institution_id: int, request: security.SignedRequest, signature: str, now_ms: int
    ) -> Principal | None:
        """`request.institution_id` is the ID exactly as the caller sent and signed it."""
        if not security.timestamp_fresh(request.timestamp_ms, now_ms, self.window_seconds):
            return None
        if security.signature_mac(signature) is None:
            return None
        known = await self._institution(institution_id)
        if known is None:
            return None
        now = datetime.fromtimestamp(now_ms / 1000, UTC)
        ok = any(
            security.signature_valid(known.opened[stored], request, signature)
            for stored in accepted_keys(known.row, now)
            if stored in known.opened
        )
        return known.principal if ok else None

    async def _institution(self, institution_id: int) -> _Known | None:
        known = self._institutions.get(institution_id)
        if known is not None and time.monotonic() - known.loaded < CACHE_SECONDS:
            return known
        loading = self._loading.get(institution_id)
        if loading is None:
            loading = asyncio.ensure_future(self._load(institution_id))
            self._loading[institution_id] = loading
            loading.add_done_callback(lambda done: self._loaded(institution_id, done))
        # Shielded: one waiter going away must not cancel the others' look-up.
        return await asyncio.shield(loading)

    def _loaded(self, institution_id: int, done: asyncio.Future[_Known | None]) -> None:
        if self._loading.get(institution_id) is done:
            del self._loading[institution_id]
        if not done.cancelled():
            done.exception()  # a failure nobody waits for any more is not asyncio's

    async def _load(self, institution_id: int) -> _Known | None:
        generation = self._forgotten.get(institution_id, 0)
        async with self.db.read() as conn:
            row = await accounts.get_institution(conn, institution_id)
        if row is None:
            self._institutions.pop(institution_id, None)
            return None
        principal = Principal(
            Role.INSTITUTION, row.id, row.name, account_id=row.account_id, institution_id=row.id
        )
        stored = (row.token_key, row.previous_token_key)
        opened = {v: key for v in stored if v and (key := self.keys.open(v)) is not None}
        known = _Known(row, principal, opened, time.monotonic())
        if self._forgotten.get(institution_id, 0) == generation:
            # Not when forgotten meanwhile: the row may predate the revocation.
            self._institutions[institution_id] = known
        return known

    def forget_all(self) -> None:
        """Revocations may have been missed (store/notify.py lost its connection)."""
        for institution_id in {*self._institutions, *self._loading}:
            self.forget(institution_id)

    def forget(self, institution_id: int) -> None:
        """Drop a cached institution at once: after a rotation or revocation here, or
        told of one on any instance (store/notify.py)."""
        self._institutions.pop(institution_id, None)
        self._loading.pop(institution_id, None)
        self._forgotten[institution_id] = self._forgotten.get(institution_id, 0) + 1
