"""What every benchmark figure needs: the project or the baseline served by uvicorn in
a subprocess, wrk driven by a Lua script, its output read, and the CPU others took."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RESULTS = ROOT / "bench-results"

SIDES = {
    "project": "tests.bench.launcher:project_app",
    "baseline": "tests.bench.baseline_app:create_app",
}


class Served(Protocol):
    """A seeded database a server is started on (seed.Seeded, overview.History)."""

    @property
    def url(self) -> str: ...

    @property
    def path(self) -> Path: ...

    @property
    def account_id(self) -> int: ...


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
def server(
    side: str, seeded: Served, port: int, log: Path, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, int]]:
    """uvicorn, one worker, in a subprocess (`env` added to its environment); yields the
    base URL and the server's pid once /healthz answers."""
    env = {
        **os.environ,
        "BENCH_DATABASE_URL": seeded.url,
        "BENCH_BASELINE_DB": str(seeded.path),
        "BENCH_ACCOUNT_ID": str(seeded.account_id),
        **(env or {}),
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


def run_wrk(
    url: str,
    script: Path,
    script_args: Sequence[str],
    *,
    connections: int,
    seconds: float,
    threads: int,
    prefix: Sequence[str] = (),
) -> WrkResult:
    """One wrk run against POST /graphql; `script_args` follow `--` (see the Lua file);
    `prefix` goes before wrk (e.g. `taskset -c 1` to keep it off the servers' core)."""
    command = [
        *prefix,
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "--latency",
        "-s",
        str(script),
        f"{url}/graphql",
        "--",
        *script_args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{output}")
    return parse_wrk(output)
