"""Billing inside a PACS, whatever the PACS (Orthanc's plugin is a thin layer over it).

- a stable study is spooled and reported by the reporter's thread (R-EXAM-4: the server
  counts a study once however often the PACS announces it);
- while uploads are not permitted (R-ARR-3), instances of a new study are refused with
  DIMSE status 0xA700 (Out of Resources); instances of a study already accepted complete;
- a study whose storage period has ended (R-EXAM-5) may be kept from viewers;
- reconciliation of a window of upload time, daily for the previous Asia/Shanghai day
  and on demand, re-reports the studies the ledger lacks.

Callbacks of the PACS never wait on the network: permission is refreshed on a thread of
its own, stable studies are queued to a worker.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol

from .client import GatewayClient, GatewayError
from .permission import PermissionCache
from .reporter import DrainReport, ReconcileReport, Reporter
from .spool import Backoff, Spool

ACCEPT = 0x0000
OUT_OF_RESOURCES = 0xA700  # DIMSE C-STORE "Refused: Out of Resources"
# Asia/Shanghai has kept UTC+8 without daylight saving since 1991 (R-GEN-6).
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
# The daily run waits this long after midnight: studies still arriving at midnight
# become stable (and spooled) first.
DAILY_DELAY = timedelta(minutes=30)
VIEWING_TIMEOUT_SECONDS = 5.0
ADMITTED_REMEMBERED = 10_000  # studies admitted lately, before their stable event spools them


class Pacs(Protocol):
    """What the gateway asks of the PACS it lives in."""

    def study(self, resource_id: str) -> tuple[str, datetime] | None:
        """A stored study's Study Instance UID and the time it was last stored to."""

    def has_study(self, study_uid: str) -> bool:
        """Does the PACS hold instances of this study already?"""

    def studies(self) -> Iterable[tuple[str, datetime]]:
        """Every study held: its UID and the time it was last stored to (UTC)."""


@dataclass(frozen=True)
class Settings:
    api_url: str
    institution_id: str
    token: str
    spool_path: Path
    permission_cache_seconds: float = 30.0
    fail_open: bool = True
    viewing_guard: bool = False
    viewing_cache_seconds: float = 300.0
    reconcile_daily: bool = True
    timeout_seconds: float = 30.0
    retry: Backoff = field(default_factory=Backoff)

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> Settings:
        """The "ImagingBilling" section of the PACS's configuration; the token is read
        from `TokenFile` so the configuration can be shown without it."""
        missing = [
            k for k in ("ApiUrl", "InstitutionId", "TokenFile", "SpoolPath") if k not in section
        ]
        if missing:
            raise ValueError(f"ImagingBilling: missing {', '.join(missing)}")
        return cls(
            api_url=str(section["ApiUrl"]),
            institution_id=str(section["InstitutionId"]),
            token=Path(section["TokenFile"]).read_text(encoding="utf-8").strip(),
            spool_path=Path(section["SpoolPath"]),
            permission_cache_seconds=float(section.get("PermissionCacheSeconds", 30)),
            fail_open=bool(section.get("FailOpen", True)),
            viewing_guard=bool(section.get("ViewingGuard", False)),
            viewing_cache_seconds=float(section.get("ViewingCacheSeconds", 300)),
            reconcile_daily=bool(section.get("ReconcileDaily", True)),
            timeout_seconds=float(section.get("TimeoutSeconds", 30)),
            retry=Backoff(
                timedelta(seconds=float(section.get("RetryBaseSeconds", 2))),
                timedelta(seconds=float(section.get("RetryCapSeconds", 600))),
            ),
        )


def day_window(day: date) -> tuple[datetime, datetime]:
    """An Asia/Shanghai day as a UTC window of upload time."""
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def previous_day(now: datetime) -> date:
    return now.astimezone(SHANGHAI).date() - timedelta(days=1)


def summary(report: ReconcileReport, found: int) -> dict[str, Any]:
    drained = report.drained or DrainReport()
    return {
        "clean": report.clean,
        "foundUnspooled": found,
        "missing": report.missing,
        "unexpected": report.unexpected,
        "voided": report.voided,
        "requeued": report.requeued,
        "reported": drained.sent,
        "deferred": drained.deferred,
        "runs": [
            {"startsAt": r.starts_at, "endsAt": r.ends_at, "sent": r.sent} for r in report.runs
        ],
    }


class BillingGateway:
    def __init__(
        self,
        settings: Settings,
        pacs: Pacs,
        *,
        info: Callable[[str], None],
        warn: Callable[[str], None],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self.pacs = pacs
        self.info, self.warn, self.clock = info, warn, clock
        self.client = GatewayClient(
            settings.api_url,
            settings.institution_id,
            settings.token,
            timeout=settings.timeout_seconds,
        )
        # A viewer waits on this one (the guard asks while the request is held): briefly.
        self.viewing_client = GatewayClient(
            settings.api_url,
            settings.institution_id,
            settings.token,
            timeout=min(settings.timeout_seconds, VIEWING_TIMEOUT_SECONDS),
        )
        self.spool = Spool(settings.spool_path, settings.retry)
        self.reporter = Reporter(self.client, self.spool, on_drain=self._drained)
        self.permission = PermissionCache(
            self.client, ttl_seconds=settings.permission_cache_seconds, fail_open=settings.fail_open
        )
        self._admitted: OrderedDict[str, None] = OrderedDict()
        self._views: dict[str, tuple[bool, float]] = {}
        self._stable: queue.Queue[str | None] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._reconciling = threading.Lock()
        self.report_calls = 0  # calls to the billing API made by the reporter, since start

    # --- life -------------------------------------------------------------------------

    def start(self) -> None:
        self.reporter.start(interval=max(1.0, self.settings.retry.base.total_seconds()))
        loops = [self._refresh_permission, self._spool_stable]
        if self.settings.reconcile_daily:
            loops.append(self._reconcile_daily)
        for loop in loops:
            thread = threading.Thread(target=loop, name=f"billing-{loop.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.info(f"ImagingBilling: reporting to {self.settings.api_url}")

    def stop(self) -> None:
        self._stop.set()
        self._stable.put(None)
        for thread in self._threads:
            thread.join(5)
        self.reporter.stop()

    # --- the PACS's callbacks ---------------------------------------------------------

    def stable_study(self, resource_id: str) -> None:
        """The PACS says a study is stable: queued, spooled and reported off its thread."""
        self._stable.put(resource_id)

    def may_store(self, study_uid: str) -> int:
        """The DIMSE status for an incoming instance: 0 to store it, 0xA700 to refuse it."""
        if study_uid in self._admitted or self.permission.current():
            self._admit(study_uid)
            return ACCEPT
        if self.spool.contains(study_uid) or self.pacs.has_study(study_uid):
            self._admit(study_uid)  # an accepted study's further instances still complete
            return ACCEPT
        self.warn(f"ImagingBilling: uploads suspended (R-ARR-3), study {study_uid} refused")
        return OUT_OF_RESOURCES

    def may_view(self, study_uid: str) -> bool:
        """R-EXAM-5: False once the ledger says the study's storage period has ended.
        A study the ledger does not know yet, or an API away, keeps the last answer
        (viewable when there is none)."""
        cached = self._views.get(study_uid)
        if (
            cached is not None
            and time.monotonic() - cached[1] < self.settings.viewing_cache_seconds
        ):
            return cached[0]
        try:
            exam = self.viewing_client.exam(study_uid)
        except GatewayError as failed:
            self.warn(f"ImagingBilling: viewing check of {study_uid} failed: {failed}")
            return cached[0] if cached is not None else True
        viewable = exam is None or exam.viewable
        self._views[study_uid] = (viewable, time.monotonic())
        return viewable

    # --- reconciliation ---------------------------------------------------------------

    def reconcile(self, starts_at: datetime, ends_at: datetime) -> dict[str, Any]:
        """Spool the PACS's studies of the window it has no record of (stored while the
        plugin was not loaded), then reconcile the window and re-report what is missing."""
        with self._reconciling:
            found = 0
            for uid, stored_at in self.pacs.studies():
                if starts_at <= stored_at < ends_at and self.spool.add(uid, stored_at):
                    found += 1
            report = self.reporter.reconcile(starts_at, ends_at)
        result = summary(report, found)
        self.info(f"ImagingBilling: reconciled {starts_at:%Y-%m-%d %H:%M}Z: {json.dumps(result)}")
        return result

    def reconcile_day(self, day: date) -> dict[str, Any]:
        return self.reconcile(*day_window(day))

    # --- threads ----------------------------------------------------------------------

    def _admit(self, study_uid: str) -> None:
        self._admitted[study_uid] = None
        self._admitted.move_to_end(study_uid)
        while len(self._admitted) > ADMITTED_REMEMBERED:
            self._admitted.popitem(last=False)

    def _refresh_permission(self) -> None:
        while not self._stop.is_set():
            allowed = self.permission.refresh()
            if self.permission.last_error:
                self.warn(
                    f"ImagingBilling: permission kept ({allowed}): {self.permission.last_error}"
                )
            self._stop.wait(self.settings.permission_cache_seconds)

    def _spool_stable(self) -> None:
        while (resource_id := self._stable.get()) is not None:
            try:
                found = self.pacs.study(resource_id)
                if found is not None:
                    self.reporter.spool_study(*found)
            except Exception as failed:  # noqa: BLE001 - one study must not stop the worker
                self.warn(f"ImagingBilling: could not spool study {resource_id}: {failed}")

    def _reconcile_daily(self) -> None:
        state = self.settings.spool_path.with_name(self.settings.spool_path.name + ".reconciled")
        while not self._stop.is_set():
            now = self.clock()
            day = previous_day(now - DAILY_DELAY)
            done = state.read_text().strip() if state.exists() else ""
            if done < day.isoformat():
                try:
                    self.reconcile_day(day)
                    state.write_text(day.isoformat())
                except Exception as failed:  # noqa: BLE001 - tried again in an hour
                    self.warn(f"ImagingBilling: daily reconciliation of {day} failed: {failed}")
                    self._stop.wait(3600)
                    continue
            midnight = datetime.combine(day + timedelta(days=2), datetime.min.time(), SHANGHAI)
            self._stop.wait(max(1.0, (midnight + DAILY_DELAY - now).total_seconds()))

    def _drained(self, report: DrainReport) -> None:
        self.report_calls += report.calls
        if report.sent or report.refused or report.unreachable:
            self.info(
                f"ImagingBilling: reported {report.sent}, deferred {report.deferred},"
                f" refused {report.refused}{' (API unreachable)' if report.unreachable else ''}"
            )
