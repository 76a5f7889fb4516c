"""`make bench`: ingest throughput of the project against a raw-sqlite3 baseline, and the
console's overview against `{ __typename }` and against its history.

    P1 single_ingest ratio=<project/baseline> project=<req/s> baseline=<req/s>
    P2 batch_ingest ratio=<project/baseline> project=<items/s> baseline=<items/s>
    H1 hostile_validation_ms max=<ms> target=50   (tests/bench/hostile.py, in-process)
    P3 overview ratio=<overview/typename> ...     (tests/bench/overview.py)
    P3 history_growth=<p50 at 1,000,000 exams / p50 at 1,000> ...
    P6 pg_ingest_scaling ratio=<two PostgreSQL processes / one> ...  (tests/bench/multi.py)
    P7 pg_single ratio=<one process on PostgreSQL / one on SQLite> ...

Each side gets a fresh migrated and seeded SQLite file (one account, ample lots,
`--institutions` gateways taking turns), its own uvicorn process (one worker, no
access log), a short warm-up and one measured wrk run of signed, pre-generated
requests (tests/bench/pool.py, pool.lua). Figures count ACCEPTED answers only.
Afterwards the database is checked: every accepted request recorded its exams,
each with a ledger entry and a lot draw. Raw wrk outputs and server logs go to
bench-results/; WARNING lines follow a figure when something was off.

H1 runs first, in-process, in a few seconds; `--only H1` runs it alone (no wrk needed).

P3 comes last; seeding its million exams takes a minute or two.

    python -m tests.bench.run [--seconds 10] [--only P1|P2|P3|P6|H1] [--institutions 64]
        [--history 1000000] [--requests 100]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import harness, pool
from .harness import HERE, RESULTS, ROOT, CpuSample, WrkResult, free_port, parse_wrk, server
from .hostile import measure_h1
from .multi import measure_p6_p7
from .overview import measure_p3
from .seed import Seeded, fresh_database

LUA = HERE / "pool.lua"
__all__ = ["FIGURES", "main", "parse_wrk"]


@dataclass(frozen=True)
class Figure:
    name: str
    label: str
    batch: int | None  # items per request; None: single uploads
    connections: int
    expect: str  # text every 2xx answer must contain
    unit: str
    min_pool: int  # requests generated for the measured run, at least
    warmup_pool: int

    @property
    def per_request(self) -> int:
        return self.batch or 1


FIGURES = {
    "P1": Figure(
        "P1",
        "single_ingest",
        batch=None,
        connections=16,
        expect='"status":"ACCEPTED"',
        unit="req/s",
        min_pool=60_000,
        warmup_pool=20_000,
    ),
    "P2": Figure(
        "P2",
        "batch_ingest",
        batch=1_000,
        connections=4,
        expect='"accepted":1000,',
        unit="items/s",
        min_pool=200,
        warmup_pool=150,
    ),
}


@dataclass
class Measurement:
    figure: Figure
    side: str
    wrk: WrkResult
    pool_size: int
    exams: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Accepted requests/s for single uploads, items/s for batches: wrk's Requests/sec,
        less the share of answers that were not ACCEPTED (refused, throttled, errors)."""
        w = self.wrk
        share = w.accepted / w.completed if w.completed else 0.0
        return w.requests_per_sec * share * self.figure.per_request


def write_pool(
    path: Path, seeded: Seeded, figure: Figure, prefix: str, requests: int
) -> tuple[Path, int]:
    signed = pool.signed_requests(seeded.gateways, prefix, requests, batch=figure.batch)
    return path, pool.write_pool(path, signed)


def run_wrk(url: str, figure: Figure, pool_file: Path, seconds: float, threads: int) -> WrkResult:
    return harness.run_wrk(
        url,
        LUA,
        [str(pool_file), str(threads), figure.expect],
        connections=figure.connections,
        seconds=seconds,
        threads=threads,
    )


def measure(
    figure: Figure,
    side: str,
    work: Path,
    *,
    seconds: float,
    warmup: float,
    threads: int,
    institutions: int,
) -> Measurement:
    seeded = fresh_database(work / f"{figure.name}-{side}.sqlite3", institutions=institutions)
    run = time.time_ns() // 1_000_000
    warm_prefix, main_prefix = pool.run_prefix(1, run), pool.run_prefix(2, run)
    stem = RESULTS / f"{figure.name}-{side}"
    with server(side, seeded, free_port(), stem.with_suffix(".server.log")) as (url, pid):
        warm_file, _ = write_pool(
            work / "warmup.pool", seeded, figure, warm_prefix, figure.warmup_pool
        )
        warm = run_wrk(url, figure, warm_file, warmup, threads)
        Path(f"{stem}.warmup.txt").write_text(warm.output)
        # Enough distinct requests for the run: twice the warm-up pace, at least min_pool.
        wanted = max(figure.min_pool, math.ceil(warm.requests_per_sec * seconds * 2))
        main_file, size = write_pool(work / "main.pool", seeded, figure, main_prefix, wanted)
        before = CpuSample.take(pid)
        result = run_wrk(url, figure, main_file, seconds, threads)
        after = CpuSample.take(pid)
        foreign = before.foreign_cores(after) if before and after else None
        note = "" if foreign is None else f"cpu: other processes used {foreign:.2f} cores\n"
        Path(f"{stem}.txt").write_text(result.output + note)
    measurement = Measurement(figure, side, result, size)
    cores = os.cpu_count() or 1
    if foreign is not None and foreign > 0.25:
        measurement.warnings.append(
            f"other processes used {foreign:.1f} of {cores} cores during the run: figures are noisy"
        )
    verify(measurement, seeded, main_prefix, stem.with_suffix(".server.log"))
    return measurement


def verify(m: Measurement, seeded: Seeded, prefix: str, log: Path) -> None:
    """Every answered request recorded its exams, each with its ledger entry and lot draw."""
    w, per = m.wrk, m.figure.per_request
    with contextlib.closing(sqlite3.connect(seeded.path)) as conn:
        (exams,) = conn.execute(
            "SELECT count(*) FROM exam WHERE study_uid LIKE ? || '.%'", (prefix,)
        ).fetchone()
        (all_exams,) = conn.execute("SELECT count(*) FROM exam").fetchone()
        (consumed,) = conn.execute(
            "SELECT count(*) FROM ledger_entry WHERE type = 'CONSUMPTION'"
        ).fetchone()
        (used,) = conn.execute("SELECT coalesce(sum(used), 0) FROM exam_lot").fetchone()
    m.exams = exams
    if w.non_2xx:
        m.warnings.append(f"{w.non_2xx} non-2xx responses")
    if w.socket_errors:
        m.warnings.append(f"{w.socket_errors} socket errors")
    if w.other:
        m.warnings.append(f"{w.other} responses without {m.figure.expect}")
    if w.wrapped:
        m.warnings.append(f"request pool of {m.pool_size} wrapped around {w.wrapped} times")
    if w.accepted != w.completed:
        m.warnings.append(
            f"{w.accepted} accepted answers for {w.completed} completed requests"
            " (the figure counts accepted answers only)"
        )
    # Requests still in flight when wrk stopped may have committed without being counted.
    if not w.accepted * per <= exams <= (w.accepted + m.figure.connections) * per:
        m.warnings.append(f"{exams} exams recorded for {w.accepted} accepted requests x {per}")
    if not all_exams == consumed == used:
        m.warnings.append(f"exams={all_exams} consumption entries={consumed} lot draws={used}")
    text = log.read_text(errors="replace")
    if "Traceback" in text or "ERROR" in text:
        m.warnings.append(f"server logged errors, see {log.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up run (default 2)")
    parser.add_argument(
        "--only", choices=[*sorted(FIGURES), "H1", "P3", "P6"], help="one figure only"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--institutions",
        type=int,
        default=64,
        help="gateways of the one account taking turns (default 64); each has its own query-"
        "cost budget (api/cost.py), so 1 measures a single gateway's throttled rate",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=1_000_000,
        help="P3: exams in the larger history (default 1,000,000; the smaller has 1,000)",
    )
    parser.add_argument(
        "--requests", type=int, default=100, help="P3: requests per p50 (default 100)"
    )
    args = parser.parse_args(argv)
    figures = (
        [FIGURES[args.only]] if args.only in FIGURES else [] if args.only else [*FIGURES.values()]
    )
    if args.only != "H1" and shutil.which("wrk") is None:
        parser.error("wrk is not installed (make bench installs the Debian package)")
    RESULTS.mkdir(exist_ok=True)
    lines: list[str] = []

    def say(line: str) -> None:
        print(line, flush=True)  # noqa: T201
        lines.append(line)

    if args.only in (None, "H1"):
        for line in measure_h1():
            say(line)
    with tempfile.TemporaryDirectory(prefix="ib-bench-") as tmp:
        for figure in figures:
            runs = {
                side: measure(
                    figure,
                    side,
                    Path(tmp),
                    seconds=args.seconds,
                    warmup=args.warmup,
                    threads=args.threads,
                    institutions=args.institutions,
                )
                for side in ("project", "baseline")
            }
            project, baseline = runs["project"], runs["baseline"]
            ratio = project.rate / baseline.rate if baseline.rate else float("nan")
            say(
                f"{figure.name} {figure.label} ratio={ratio:.2f}"
                f" project={project.rate:.1f} baseline={baseline.rate:.1f}"
            )
            for m in runs.values():
                for warning in m.warnings:
                    say(f"WARNING {figure.name} {m.side}: {warning}")
        if args.only in (None, "P6"):  # P6 and P7 (PostgreSQL at BENCH_POSTGRES_URL)
            for line in measure_p6_p7(
                Path(tmp),
                seconds=args.seconds,
                warmup=args.warmup,
                institutions=args.institutions,
            ):
                say(line)
        if args.only in (None, "P3"):
            for line in measure_p3(
                Path(tmp),
                history=args.history,
                seconds=args.seconds,
                threads=args.threads,
                requests=args.requests,
                warmup=max(3, args.requests // 10),
            ):
                say(line)
    (RESULTS / "summary.txt").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
