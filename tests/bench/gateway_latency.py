"""The Orthanc plugin measured against the real billing server (run by hand; needs `make pacs`):

G1 gateway_latency p50=<ms> p99=<ms> studies=100 stable_age=<s>
   from storescu finishing to the exam recorded in the ledger (the exam's `recorded_at`,
   both on this machine's clock): Orthanc's StableAge, its once-a-second stability
   check, the plugin's worker and reporter, and the server's transaction
G2 outage_drain studies=1000 calls=<n> seconds=<s>
   1,000 studies stored while the server is down, spooled; the report calls (of at
   most 1,000 studies each) and the time it took to drain them once it is back

python -m tests.bench.gateway_latency [--studies 100] [--outage 1000] [--stable-age 1]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..support.pacs import Orthanc, make_study, missing_binaries
from ..support.serving import LiveServer, seeded_database

BILLING = {"RetryBaseSeconds": 1, "RetryCapSeconds": 5, "ReconcileDaily": False}


def _recorded(live: LiveServer) -> dict[str, datetime]:
    path = live.url.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT study_uid, recorded_at FROM exam").fetchall()
    return {uid: _utc(at) for uid, at in rows}


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _wait(probe: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.2)


def latency(live: LiveServer, pacs: Orthanc, folder: Path, count: int) -> list[float]:
    done: dict[str, datetime] = {}
    for n in range(count):
        uid, files = make_study(folder / f"l{n}", series=2, instances=2)
        if pacs.send(files).returncode != 0:
            raise SystemExit("storescu failed")
        done[uid] = datetime.now(UTC)
        time.sleep(0.1)
    _wait(lambda: set(done) <= set(_recorded(live)), 120, "the studies in the ledger")
    recorded = _recorded(live)
    return [(recorded[uid] - at).total_seconds() * 1000 for uid, at in done.items()]


def outage(live: LiveServer, pacs: Orthanc, folder: Path, count: int) -> tuple[int, float]:
    files = [make_study(folder / f"o{n}", series=1, instances=1)[1][0] for n in range(count)]
    live.stop()
    try:
        if pacs.send(files).returncode != 0:
            raise SystemExit("storescu failed")
        pending = lambda: pacs.get("/billing/status")["spool"]["PENDING"]  # noqa: E731
        _wait(lambda: pending() == count, 300, "the outage's studies spooled")
    finally:
        calls_before = pacs.get("/billing/status")["reportCalls"]
        live.start()
    back = time.monotonic()
    _wait(lambda: pacs.get("/billing/status")["spool"]["PENDING"] == 0, 300, "the drain")
    drained_in = time.monotonic() - back
    return pacs.get("/billing/status")["reportCalls"] - calls_before, drained_in


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--studies", type=int, default=100)
    parser.add_argument("--outage", type=int, default=1000)
    parser.add_argument("--stable-age", type=int, default=1)
    args = parser.parse_args(argv)
    if missing := missing_binaries():
        sys.stderr.write(f"needs Debian's {', '.join(missing)} (make pacs)\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp:
        root = Path(tmp)
        live = LiveServer(root, seeded_database(root))
        live.start()
        c = live.credentials
        pacs = Orthanc(
            root / "pacs",
            api_url=live.base,
            institution_id=c["institutionId"],
            token=c["institutionToken"],
            billing=BILLING,
        )
        pacs.stable_age = args.stable_age
        pacs.start()
        try:
            ms = sorted(latency(live, pacs, root / "dicom", args.studies))
            p99 = ms[min(len(ms) - 1, round(0.99 * len(ms)) - 1)]
            print(  # noqa: T201
                f"G1 gateway_latency p50={statistics.median(ms):.0f}ms p99={p99:.0f}ms"
                f" max={ms[-1]:.0f}ms studies={len(ms)} stable_age={args.stable_age}s"
            )
            calls, seconds = outage(live, pacs, root / "dicom", args.outage)
            print(  # noqa: T201
                f"G2 outage_drain studies={args.outage} calls={calls} seconds={seconds:.1f}"
                f" retry_base={BILLING['RetryBaseSeconds']}s cap={BILLING['RetryCapSeconds']}s"
            )
        finally:
            pacs.stop()
            live.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
