"""The delivery worker: sends the outbox's due deliveries (R-ARR-2 delivery decision).

It runs in the server process beside the requests, never inside one: a slow endpoint
holds up nothing but its own delivery. Each round claims due deliveries in a short
transaction that leases them (their next attempt pushed out, `FOR UPDATE SKIP LOCKED` on
PostgreSQL so several instances share the queue), sends them without any lock held, and
records each attempt in a transaction of its own. A worker that dies mid-delivery loses
nothing: once the lease runs out the delivery is due again and is sent (at least once;
`webhook-id` lets receivers drop repeats).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from .. import metrics
from ..domain.errors import RuleViolation
from ..domain.notices import NoticeTarget
from ..domain.webhooks import (
    MAX_RESPONSE_BYTES,
    DeliveryStatus,
    disable_due,
    headers,
    next_attempt,
    succeeded,
)
from ..security import KeyBox
from ..store import webhooks
from ..store.db import Database
from ..store.records import DueDeliveryRecord
from .clock import Clock
from .pinned_transport import PinnedTransport
from .rounds import keep_sending
from .steps.outbox import disable_failing_endpoint
from .webhooks import UrlPolicy, open_secret

log = logging.getLogger("imaging_billing.webhooks")
TIMEOUT_SECONDS = 10.0
# Longer than a send can take (the timeout covers connect, each read and write).
LEASE = timedelta(minutes=2)
BATCH = 50


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    latency_ms: int


class WebhookWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        keys: KeyBox,
        *,
        policy: UrlPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = TIMEOUT_SECONDS,
        jitter: Callable[[], float] = random.random,
        batch: int = BATCH,
        lease: timedelta = LEASE,
    ) -> None:
        self.db = db
        self.clock = clock
        self.keys = keys
        self.policy = policy
        self.jitter = jitter
        self.batch = batch
        self.lease = lease
        # No redirects: a 3xx is an answer like any other (not 2xx, so a failure), never
        # a way to make the server call an address the URL check did not see.
        self.client = httpx.AsyncClient(
            transport=transport or PinnedTransport(policy),
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def run_once(self) -> int:
        """Send every delivery due now (one batch); how many were attempted."""
        now = self.clock.now()
        async with self.db.read() as conn:
            if not await webhooks.any_due(conn, now):
                return 0  # the usual case: no write transaction taken
        async with self.db.write() as conn:
            due = await webhooks.claim_due(conn, now, now + self.lease, self.batch)
        await asyncio.gather(*(self._deliver(d, now) for d in due))
        return len(due)

    async def run_forever(self, every: float, stop: asyncio.Event | None = None) -> None:
        await keep_sending(self.run_once, self.batch, every, log, stop)

    async def _deliver(self, due: DueDeliveryRecord, now: datetime) -> None:
        outcome = await self._send(due, now)
        finished = self.clock.now()
        ok = succeeded(outcome.status_code)
        retry = None if ok else next_attempt(due.attempts + 1, finished, self.jitter)
        if ok:
            status = DeliveryStatus.DELIVERED
        else:
            status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
        metrics.WEBHOOK_DELIVERIES.labels(
            "delivered" if ok else "retry" if retry else "failed"
        ).inc()
        async with self.db.write() as conn:
            recorded = await webhooks.record_attempt(
                conn,
                due.id,
                attempts_before=due.attempts,
                attempt={
                    "attempted_at": now,
                    "status_code": outcome.status_code,
                    "latency_ms": outcome.latency_ms,
                    "error": outcome.error,
                    "next_retry_at": retry,
                },
                delivery={
                    "status": status.value,
                    "next_attempt_at": retry,
                    "last_attempt_at": now,
                    "last_status_code": outcome.status_code,
                    "last_error": outcome.error,
                    "last_latency_ms": outcome.latency_ms,
                    **({"delivered_at": finished} if ok else {}),
                },
            )
            if not recorded:
                return
            if ok:
                await webhooks.note_success(conn, due.endpoint_id)
                if due.notice_id is not None:
                    await webhooks.mark_notice_delivered(conn, due.notice_id, finished)
                return
            since = await webhooks.note_failure(conn, due.endpoint_id, finished)
            if disable_due(since, finished):
                await disable_failing_endpoint(
                    conn,
                    endpoint_id=due.endpoint_id,
                    account_id=due.account_id,
                    target=NoticeTarget(due.target),
                    url=due.url,
                    failing_since=since,
                    now=finished,
                )

    def _secrets(self, due: DueDeliveryRecord, now: datetime) -> list[bytes]:
        stored = [due.secret]
        if due.previous_secret and due.previous_valid_until and now < due.previous_valid_until:
            stored.append(due.previous_secret)
        return [s for s in (open_secret(self.keys, x) for x in stored) if s is not None]

    async def _send(self, due: DueDeliveryRecord, now: datetime) -> Outcome:
        started = time.monotonic()

        def outcome(status_code: int | None, error: str | None) -> Outcome:
            latency = round((time.monotonic() - started) * 1000)
            return Outcome(status_code, error, latency)

        secrets = self._secrets(due, now)
        if not secrets:
            return outcome(None, "the signing secret does not open with this server secret")
        try:
            # Checked again when sending: the name may resolve elsewhere than it did.
            await self.policy.check(due.url)
        except RuleViolation as refused:
            return outcome(None, refused.code)
        body = due.payload.encode()
        try:
            request = self.client.build_request(
                "POST", due.url, content=body, headers=headers(secrets, due.event_key, now, body)
            )
            response = await self.client.send(request, stream=True)
            try:
                await _read_at_most(response, MAX_RESPONSE_BYTES)
            finally:
                await response.aclose()
        except httpx.HTTPError as error:
            return outcome(None, f"{type(error).__name__}: {error}"[:500])
        return outcome(response.status_code, None)


async def _read_at_most(response: httpx.Response, limit: int) -> bytes:
    """The start of the body; the rest is never read (closing drops the connection)."""
    kept = b""
    async for chunk in response.aiter_raw():
        kept += chunk[: limit - len(kept)]
        if len(kept) >= limit:
            break
    return kept
