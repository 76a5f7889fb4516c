"""Spool → send → mark sent, with back-off; and reconciliation of a window.

`drain` sends what is due in batches of 1,000 and returns; `start` runs it on a thread
of its own, woken when a study is spooled. Every time is a parameter (`now`) or comes
from the `clock` given, so tests move time instead of waiting for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .client import (
    MAX_RECONCILE_STUDIES,
    MAX_UPLOAD_BATCH,
    GatewayClient,
    Reconciliation,
    Refused,
    Unreachable,
)
from .spool import REFUSED, SENT, Spool, Spooled

# The server takes a reported upload time up to 24 hours back (R-EXAM-5's upload time);
# a study spooled longer ago is reported without one and counted at the server's clock.
LATE_AFTER = timedelta(hours=23)
# Refusals that end by themselves: suspension ends with a recharge (R-ARR-3).
COME_BACK_LATER = frozenset({"R_ARR_3_SUSPENDED", "R_EXAM_5_UPLOAD_TIME"})


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class DrainReport:
    calls: int = 0
    sent: int = 0  # accepted or duplicate: the ledger has them
    deferred: int = 0  # not now (unreachable, suspended): backed off
    refused: int = 0  # refused for good (an invalid UID): kept, marked REFUSED
    unreachable: bool = False


@dataclass
class ReconcileReport:
    runs: list[Reconciliation] = field(default_factory=list)
    requeued: int = 0
    drained: DrainReport | None = None

    @property
    def missing(self) -> list[str]:
        return [uid for run in self.runs for uid in run.missing]

    @property
    def unexpected(self) -> list[str]:
        return [uid for run in self.runs for uid in run.unexpected]

    @property
    def voided(self) -> list[str]:
        return [uid for run in self.runs for uid in run.voided]

    @property
    def clean(self) -> bool:
        return not self.missing and not self.unexpected and not self.voided


class Reporter:
    def __init__(
        self,
        client: GatewayClient,
        spool: Spool,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_drain: Callable[[DrainReport], None] | None = None,
    ) -> None:
        self.client = client
        self.spool = spool
        self.clock = clock
        # Told after each drain of the sending thread (a plugin logs it; tests wait on it).
        self.on_drain = on_drain
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Consecutive calls that found the server away, and no call before this time:
        # studies spooled during an outage do not each knock on a closed door.
        self._failures = 0
        self._quiet_until: datetime | None = None

    def spool_study(self, uid: str, stored_at: datetime | None = None) -> bool:
        """Spool a stored study and wake the sender; False if it was spooled already."""
        added = self.spool.add(uid, stored_at or self.clock())
        self._wake.set()
        return added

    def drain(self, now: datetime | None = None) -> DrainReport:
        """Send every due study, 1,000 a call, until none is due or the server is away."""
        now = now or self.clock()
        report = DrainReport()
        if self._quiet_until is not None and now < self._quiet_until:
            report.unreachable = True  # still backing off from the server's absence
            return report
        while due := self.spool.due(now, MAX_UPLOAD_BATCH):
            report.calls += 1
            if not self._send(due, now, report):
                break
        return report

    def _send(self, due: Sequence[Spooled], now: datetime, report: DrainReport) -> bool:
        items = [(s.uid, s.stored_at if now - s.stored_at < LATE_AFTER else None) for s in due]
        try:
            results = self.client.record_uploads(items)
        except (Unreachable, Refused) as failed:
            # Refused as a whole (a bad token, a clock far off): nothing was recorded;
            # back off like an outage, the operator sees `last_error` in the spool.
            self.spool.retry_later([s.uid for s in due], now, str(failed))
            report.deferred += len(due)
            report.unreachable = isinstance(failed, Unreachable)
            if report.unreachable:
                self._failures += 1
                self._quiet_until = now + self.spool.backoff.delay(self._failures)
            return False
        self._failures, self._quiet_until = 0, None
        done = [r.study_uid for r in results if r.status != "REFUSED"]
        later = [r for r in results if r.status == "REFUSED" and r.error_code in COME_BACK_LATER]
        never = [r for r in results if r.status == "REFUSED" and r not in later]
        self.spool.mark(done, SENT, now)
        for r in later:
            self.spool.retry_later([r.study_uid], now, r.error_code or "REFUSED")
        for r in never:
            self.spool.mark([r.study_uid], REFUSED, now, r.error_code)
        report.sent += len(done)
        report.deferred += len(later)
        report.refused += len(never)
        return True

    def reconcile(
        self, starts_at: datetime, ends_at: datetime, now: datetime | None = None
    ) -> ReconcileReport:
        """Reconcile the spool's studies stored in the window with the ledger, 10,000 a
        call (the window is cut between distinct store times), re-report what the
        ledger lacks, and send it."""
        now = now or self.clock()
        report = ReconcileReport()
        for start, end, page in pages(
            self.spool.stored_between(starts_at, ends_at), starts_at, ends_at
        ):
            report.runs.append(self.client.reconcile(start, end, [s.uid for s in page]))
        report.requeued = self.spool.requeue(report.missing, now)
        report.drained = self.drain(now)
        return report

    # --- the sending thread -----------------------------------------------------------

    def start(self, interval: float = 5.0) -> None:
        """Drain on a daemon thread: when woken by `spool_study`, else every `interval`."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(interval,), name="imaging-gateway-reporter", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self._wake.wait(interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                report = self.drain()
            except Exception:  # noqa: BLE001 - the thread must outlive any one failure
                continue
            if self.on_drain is not None:
                self.on_drain(report)


def pages(
    studies: Sequence[Spooled], starts_at: datetime, ends_at: datetime
) -> list[tuple[datetime, datetime, list[Spooled]]]:
    """Cut a window's studies (by store time) into windows of at most 10,000 studies each,
    cutting only between different store times, so each call's window holds exactly the
    studies it lists. An empty window is one call: the ledger may hold studies in it."""
    if not studies:
        return [(starts_at, ends_at, [])]
    cut: list[tuple[datetime, datetime, list[Spooled]]] = []
    start_index, start_time = 0, starts_at
    while start_index < len(studies):
        end_index = min(start_index + MAX_RECONCILE_STUDIES, len(studies))
        if end_index < len(studies):
            boundary = studies[end_index].stored_at
            while end_index > start_index and studies[end_index - 1].stored_at == boundary:
                end_index -= 1
            if end_index == start_index:
                raise ValueError("more than 10,000 studies share one store time")
            end_time = boundary
        else:
            end_time = ends_at
        cut.append((start_time, end_time, list(studies[start_index:end_index])))
        start_index, start_time = end_index, end_time
    return cut
