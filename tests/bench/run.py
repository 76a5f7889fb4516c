"""`make bench`: ingest throughput of the project against a raw-sqlite3 baseline.

    P1 single_ingest ratio=<project/baseline> project=<req/s> baseline=<req/s>
    P2 batch_ingest ratio=<project/baseline> project=<items/s> baseline=<items/s>
    H1 hostile_validation_ms max=<ms> target=50   (tests/bench/hostile.py, in-process)

Each side gets a fresh migrated and seeded SQLite file (one account, ample lots,
`--institutions` gateways taking turns), its own uvicorn process (one worker, no
access log), a short warm-up and one measured wrk run of signed, pre-generated
requests (tests/bench/pool.py, pool.lua). Figures count ACCEPTED answers only.
Afterwards the database is checked: every accepted request recorded its exams,
each with a ledger entry and a lot draw. Raw wrk outputs and server logs go to
bench-results/; WARNING lines follow a figure when something was off.

H1 runs first, in-process, in a few seconds; `--only H1` runs it alone (no wrk needed).

    python -m tests.bench.run [--seconds 10] [--only P1|P2|H1] [--institutions 64]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import pool
from .hostile import measure_h1
from .seed import Seeded, fresh_database

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / "bench-results"
LUA = HERE / "pool.lua"

SIDES = {
    "project": "tests.bench.launcher:project_app",
    "baseline": "tests.bench.baseline_app:create_app",
}


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
class WrkResult:
    output: str
    requests_per_sec: float
    completed: int
    duration: float
    non_2xx: int
    socket_errors: int
    sent: int
    accepted: int
    other: int
    wrapped: int


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


def parse_wrk(output: str) -> WrkResult:
    def number(pattern: str, default: float | None = None) -> float:
        match = re.search(pattern, output)
        if match is None:
            if default is None:
                raise RuntimeError(f"wrk output lacks {pattern!r}:\n{output}")
            return default
        return float(match.group(1))

    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    pool_line = re.search(r"pool: sent=(\d+) accepted=(\d+) other=(\d+) wrapped=(\d+)", output)
    sent, accepted, other, wrapped = (int(g) for g in pool_line.groups()) if pool_line else (0,) * 4
    duration = re.search(r"(\d+) requests in ([\d.]+)(m?s|m)\b", output)
    seconds = 0.0
    if duration is not None:
        value, unit = float(duration.group(2)), duration.group(3)
        seconds = value / 1000 if unit == "ms" else value * 60 if unit == "m" else value
    return WrkResult(
        output=output,
        requests_per_sec=number(r"Requests/sec:\s+([\d.]+)"),
        completed=int(number(r"(\d+) requests in ")),
        duration=seconds,
        non_2xx=int(number(r"Non-2xx or 3xx responses: (\d+)", 0)),
        socket_errors=sum(int(g) for g in sockets.groups()) if sockets else 0,
        sent=sent,
        accepted=accepted,
        other=other,
        wrapped=wrapped,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def server(side: str, seeded: Seeded, port: int, log: Path) -> Iterator[tuple[str, int]]:
    """uvicorn, one worker, in a subprocess; yields the base URL and the server's pid once
    /healthz answers."""
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": seeded.url,
        "BENCH_BASELINE_DB": str(seeded.path),
        "BENCH_ACCOUNT_ID": str(seeded.account_id),
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        SIDES[side],
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        try:
            _wait_ready(process, f"{url}/healthz", log)
            yield url, process.pid
        finally:
            process.terminate()  # uvicorn shuts down gracefully on SIGTERM
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start in 60 s:\n{log.read_text()}")


@dataclass(frozen=True)
class CpuSample:
    """CPU time (seconds) of the whole machine, of the server and of waited-for children (wrk),
    to tell how much CPU other processes took during a run. Linux only; None elsewhere."""

    wall: float
    busy: float
    server: float
    children: float

    @classmethod
    def take(cls, pid: int) -> CpuSample | None:
        try:
            tick = os.sysconf("SC_CLK_TCK")
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
            user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            server = int(stat[11]) + int(stat[12])  # utime, stime of all threads
        except (OSError, ValueError, IndexError):
            return None
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return cls(
            wall=time.monotonic(),
            busy=(user + nice + system + irq + softirq + steal) / tick,
            server=server / tick,
            children=children.ru_utime + children.ru_stime,
        )

    def foreign_cores(self, after: CpuSample) -> float:
        """Cores' worth of CPU used by neither the server nor wrk between the two samples."""
        ours = (after.server - self.server) + (after.children - self.children)
        return max(0.0, (after.busy - self.busy) - ours) / max(after.wall - self.wall, 1e-9)


def write_pool(
    path: Path, seeded: Seeded, figure: Figure, prefix: str, requests: int
) -> tuple[Path, int]:
    signed = pool.signed_requests(seeded.gateways, prefix, requests, batch=figure.batch)
    return path, pool.write_pool(path, signed)


def run_wrk(url: str, figure: Figure, pool_file: Path, seconds: float, threads: int) -> WrkResult:
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{figure.connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(LUA),
        f"{url}/graphql",
        "--",
        str(pool_file),
        str(threads),
        figure.expect,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{output}")
    return parse_wrk(output)


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
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured run (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up run (default 2)")
    parser.add_argument("--only", choices=[*sorted(FIGURES), "H1"], help="one figure only")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument(
        "--institutions",
        type=int,
        default=64,
        help="gateways of the one account taking turns (default 64); each has its own query-"
        "cost budget (api/cost.py), so 1 measures a single gateway's throttled rate",
    )
    args = parser.parse_args(argv)
    figures = (
        [] if args.only == "H1" else [FIGURES[args.only]] if args.only else [*FIGURES.values()]
    )
    if figures and shutil.which("wrk") is None:
        parser.error("wrk is not installed (make bench installs the Debian package)")
    RESULTS.mkdir(exist_ok=True)
    lines: list[str] = []
    if args.only in (None, "H1"):
        for line in measure_h1():
            print(line, flush=True)  # noqa: T201
            lines.append(line)
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
            line = (
                f"{figure.name} {figure.label} ratio={ratio:.2f}"
                f" project={project.rate:.1f} baseline={baseline.rate:.1f}"
            )
            print(line, flush=True)  # noqa: T201
            lines.append(line)
            for m in runs.values():
                for warning in m.warnings:
                    note = f"WARNING {figure.name} {m.side}: {warning}"
                    print(note, flush=True)  # noqa: T201
                    lines.append(note)
    (RESULTS / "summary.txt").write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
