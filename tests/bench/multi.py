"""P6 and P7: single uploads on PostgreSQL.

    P6 pg_ingest_scaling ratio=<two processes / one> two=<req/s> one=<req/s>
    P7 pg_single ratio=<PostgreSQL / SQLite> pg=<req/s> sqlite=<req/s>

Three runs in one sitting, each on a fresh database seeded alike (tests/bench/seed.py):
one project process on SQLite, one on PostgreSQL, two on PostgreSQL (uvicorn workers
sharing the port). The same load generator for all: wrk, one thread, pinned with
`taskset -c 1` when there are two or more cores, replaying pre-signed single uploads
(pool.lua) over 16 connections. The servers and PostgreSQL are not pinned: on a
2-core machine the load generator's core is shared with them in every run alike, so
P6 tells how much a second process gains on this machine, not on a bigger one.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from imaging_billing.store.migrate import upgrade

from ..support import postgres_admin
from . import pool
from .harness import HERE, RESULTS, WrkResult, free_port, run_wrk, server
from .seed import Seeded, fresh_database, seed_async

LUA = HERE / "pool.lua"
EXPECT = '"status":"ACCEPTED"'
CONNECTIONS = 16
ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL",
    os.environ.get("TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
)


@contextmanager
def postgres(institutions: int) -> Iterator[Seeded]:
    name = f"ib_bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(postgres_admin(ADMIN_URL, f'CREATE DATABASE "{name}"'))
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        yield asyncio.run(seed_async(url, institutions=institutions))
    finally:
        asyncio.run(postgres_admin(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _pinned() -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", "1"]
    return []


def _run(
    url: str, seeded: Seeded, work: Path, prefix: str, requests: int, seconds: float
) -> WrkResult:
    path = work / f"{prefix}.pool"
    pool.write_pool(path, pool.signed_requests(seeded.gateways, prefix, requests, batch=None))
    return run_wrk(
        url,
        LUA,
        [str(path), "1", EXPECT],
        connections=CONNECTIONS,
        seconds=seconds,
        threads=1,
        prefix=_pinned(),
    )


def _rate(result: WrkResult) -> float:
    share = result.accepted / result.completed if result.completed else 0.0
    return result.requests_per_sec * share


def _measure(
    name: str, seeded: Seeded, work: Path, workers: int, seconds: float, warmup: float
) -> float:
    env = {"UVICORN_WORKERS": str(workers)} if workers > 1 else {}
    stem = RESULTS / f"P6P7-{name}"
    run = pool.run_prefix(1)
    with server("project", seeded, free_port(), stem.with_suffix(".server.log"), env) as (url, _):
        warm = _run(url, seeded, work, f"{run}1", 20_000, warmup)
        wanted = max(20_000, math.ceil(warm.requests_per_sec * seconds * 2))
        result = _run(url, seeded, work, f"{run}2", wanted, seconds)
        Path(f"{stem}.txt").write_text(result.output)
    return _rate(result)


def measure_p6_p7(work: Path, *, seconds: float, warmup: float, institutions: int) -> list[str]:
    sqlite = fresh_database(work / "P7-sqlite.sqlite3", institutions=institutions)
    rates = {"sqlite": _measure("sqlite-1", sqlite, work, 1, seconds, warmup)}
    with postgres(institutions) as seeded:
        rates["pg"] = _measure("pg-1", seeded, work, 1, seconds, warmup)
    with postgres(institutions) as seeded:
        rates["pg2"] = _measure("pg-2", seeded, work, 2, seconds, warmup)
    p6 = rates["pg2"] / rates["pg"] if rates["pg"] else float("nan")
    p7 = rates["pg"] / rates["sqlite"] if rates["sqlite"] else float("nan")
    load = "wrk 1 thread, taskset -c 1" if _pinned() else "wrk 1 thread, unpinned"
    return [
        f"P6 pg_ingest_scaling ratio={p6:.2f} two={rates['pg2']:.1f} one={rates['pg']:.1f}"
        f" ({load})",
        f"P7 pg_single ratio={p7:.2f} pg={rates['pg']:.1f} sqlite={rates['sqlite']:.1f} ({load})",
    ]
