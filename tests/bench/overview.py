"""P3: the console's overview, against `{ __typename }` and against its own history.

    P3 overview ratio=<overview/typename req/s> overview=<req/s> typename=<req/s> exams=<n>
    P3 history_growth=<overview p50 at n exams / at 1,000> p50_1000=<ms> p50_<n>=<ms>
    P3 computed ratio=<...> history_growth=<...>   (the same, every answer computed afresh)

The overview is asked twice over: as the console asks it, where an unchanged account's
last answer is reused (api/answers.py), and with `Cache-Control: no-cache`, computed
every time ("computed"): what a console sees after each change, and what reuse saves.

The overview is the console's `AccountOverview` operation, read from the file the
console is built from (frontend/src/api/operations/overview.graphql), for the 90 days
its dashboard asks. As in issue 10's measurement: one account with 200 lots (bought
over the last 360 days), an agreement and an operator token, made through the
services; then the history, `n` exams recorded evenly over those 360 days, each drawn
from the lot bought last before it with its CONSUMPTION entry, written straight into
SQLite (executemany, INSERT ... SELECT) and counted into the daily counters: what a
year of uploads leaves behind, in seconds rather than hours.

Both histories are served at once, each by its own server. p50: one client asking
one request at a time over kept-alive connections, taking turns between the two
servers and the two queries, so load from elsewhere weighs on both alike. The ratio:
wrk on one server as one operator, `{ __typename }` and the overview taking turns in
2-second rounds until each has had `--seconds`; at the larger history (the ratio at
1,000 exams follows as `at_1000`). Answers with errors, or without the data asked
for, are not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import math
import sqlite3
import statistics
import time as clock
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from imaging_billing.api.ids import encode
from imaging_billing.domain.clock import SHANGHAI, local_date
from imaging_billing.domain.exams import LotMode, lot_terms, storage_ends_at
from imaging_billing.domain.ledger import Cause
from imaging_billing.security import KeyBox
from imaging_billing.services.steps import accounts as account_steps
from imaging_billing.services.steps import lots as lot_steps
from imaging_billing.store import daily_counts
from imaging_billing.store.db import Database
from imaging_billing.store.migrate import upgrade

from .harness import HERE, RESULTS, ROOT, CpuSample, WrkResult, free_port, run_wrk, server
from .seed import SERVER_SECRET

SMALL = 1_000
LOTS = 200
HISTORY = timedelta(days=360)
_HISTORY_US = HISTORY // timedelta(microseconds=1)
_SHANGHAI_OFFSET = timedelta(hours=8)  # no daylight saving in China since 1991
USAGE_DAYS = 90  # the dashboard's USAGE_DAYS (frontend/src/pages/overview/dashboard/index.vue)
DOCUMENT = ROOT / "frontend" / "src" / "api" / "operations" / "overview.graphql"
TYPENAME = "{ __typename }"
LUA = HERE / "query.lua"
CONNECTIONS = 8
# The operator asks as fast as it can: its query budget (api/cost.py) must not be what
# is measured.
BUDGET_SCALE = "1000"
UID_ROOT = "1.2.826.0.1.3680043.9.8"


@dataclass(frozen=True)
class History:
    """A seeded database: one account, its operator token and `exams` exams of history."""

    path: Path
    account_id: int
    token: str
    exams: int
    recent: int  # exams recorded in the last USAGE_DAYS Shanghai days

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"


def seed_history(path: Path, exams: int) -> History:
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    now = datetime.now(UTC)
    quantity = (math.ceil(exams / LOTS) // 10_000 + 1) * 10_000  # R-EXAM-1, with room left
    account_id, institution_id, token, lots = asyncio.run(_seed_services(url, now, quantity))
    start = now - HISTORY
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("BEGIN")
        rows = _exam_rows(account_id, institution_id, lots, exams, start)
        conn.executemany(_EXAM_INSERT, rows)
        conn.execute(_LEDGER_FROM_EXAMS, (account_id, f"{UID_ROOT}.%"))
        used = Counter(lots[i * LOTS // exams] for i in range(exams))
        conn.executemany("UPDATE exam_lot SET used = ? WHERE id = ?", _swap(used))
        conn.execute("COMMIT")
    asyncio.run(_count_days(url))
    return History(path, account_id, token, exams, _recent(start, now, exams))


def _lot_bought(start: datetime, k: int) -> datetime:
    return start + HISTORY * k / LOTS


def _step(exams: int) -> timedelta:
    return timedelta(microseconds=_HISTORY_US // exams)


def _recorded(start: datetime, i: int, exams: int) -> datetime:
    """Exam i of `exams`, evenly over the history, each in the middle of its share."""
    return start + _step(exams) * i + _step(exams) // 2


def _recent(start: datetime, now: datetime, exams: int) -> int:
    """How many exams fall on the last USAGE_DAYS Shanghai days."""
    first = datetime.combine(local_date(now) - timedelta(days=USAGE_DAYS - 1), time(), SHANGHAI)
    low, high = 0, exams  # the first exam recorded on or after `first`, by bisection
    while low < high:
        middle = (low + high) // 2
        if _recorded(start, middle, exams) < first:
            low = middle + 1
        else:
            high = middle
    return exams - low


async def _seed_services(url: str, now: datetime, quantity: int) -> tuple[int, int, str, list[int]]:
    start = now - HISTORY
    db = Database(url)
    try:
        async with db.write() as conn:
            account_id = await account_steps.add_account(conn, name="Overview Hospital", now=start)
            await account_steps.add_agreement(
                conn,
                account_id=account_id,
                number="AG-BENCH",
                signed_on=local_date(start),
                channel_partner="Bench",
                actor="bench",
                now=start,
            )
            issued = await account_steps.add_institution(
                conn, account_id=account_id, name="Main site", now=start, keys=KeyBox(SERVER_SECRET)
            )
            token = await account_steps.add_operator_token(conn, name="bench", now=now)
            lots = []
            for k in range(LOTS):
                credit = await lot_steps.credit_lot(
                    conn,
                    account_id=account_id,
                    terms=lot_terms(LotMode.VOLUME, quantity, None),
                    now=_lot_bought(start, k),
                    actor="bench",
                    cause=Cause.OPERATOR,
                )
                lots.append(credit.lot_id)
    finally:
        await db.dispose()
    return account_id, issued.institution_id, token, lots


_EXAM_INSERT = (
    "INSERT INTO exam (account_id, institution_id, study_uid, uploaded_at, recorded_at,"
    " lot_id, covered_at, storage_ends_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_LEDGER_FROM_EXAMS = (
    "INSERT INTO ledger_entry (account_id, type, lot_id, exam_id, quantity, occurred_at,"
    " cause, actor) SELECT account_id, 'CONSUMPTION', lot_id, id, -1, recorded_at, 'EXAM',"
    " 'institution:' || institution_id FROM exam WHERE account_id = ? AND study_uid LIKE ?"
)


def _exam_rows(
    account_id: int, institution_id: int, lots: list[int], exams: int, start: datetime
) -> Iterator[tuple[Any, ...]]:
    """The rows as SQLAlchemy's SQLite text has them (naive UTC, microseconds): built
    with naive arithmetic, a million of them in seconds."""
    step, at = _step(exams), _recorded(start, 0, exams).replace(tzinfo=None)
    ends_after: dict[date, timedelta] = {}  # storage years on the Shanghai calendar, per day
    for i in range(exams):
        day = (at + _SHANGHAI_OFFSET).date()  # local_date, without a zone look-up per exam
        if day not in ends_after:
            aware = at.replace(tzinfo=UTC)
            ends_after[day] = storage_ends_at(aware, 15) - aware  # R-EXAM-5, VOLUME
        text = at.isoformat(" ", "microseconds")
        ends = (at + ends_after[day]).isoformat(" ", "microseconds")
        lot = lots[i * LOTS // exams]
        yield (account_id, institution_id, f"{UID_ROOT}.{i}", text, text, lot, text, ends)
        at += step


def _swap(used: Counter[int]) -> list[tuple[int, int]]:
    return [(n, lot_id) for lot_id, n in used.items()]


async def _count_days(url: str) -> None:
    """The counters a year of uploads would have written, counted from the exams."""
    db = Database(url)
    try:
        async with db.write() as conn:
            await daily_counts.rebuild(conn)
    finally:
        await db.dispose()


def overview_body(account_id: int) -> bytes:
    variables = {"id": str(encode("Account", account_id)), "days": USAGE_DAYS}
    payload = {
        "query": DOCUMENT.read_text(),
        "operationName": "AccountOverview",
        "variables": variables,
    }
    return json.dumps(payload).encode()


def typename_body() -> bytes:
    return json.dumps({"query": TYPENAME}).encode()


def ask(
    conn: http.client.HTTPConnection, body: bytes, token: str, *, fresh: bool = False
) -> tuple[float, dict[str, Any]]:
    """One request on a kept-alive connection: seconds taken and the decoded answer."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if fresh:
        headers["Cache-Control"] = "no-cache"
    began = clock.perf_counter()
    conn.request("POST", "/graphql", body, headers)
    response = conn.getresponse()
    raw = response.read()
    took = clock.perf_counter() - began
    answer: dict[str, Any] = json.loads(raw)
    if response.status != 200 or "errors" in answer:
        raise RuntimeError(f"{response.status}: {raw[:500]!r}")
    return took, answer


def _connect(base: str) -> http.client.HTTPConnection:
    split = urlsplit(base)
    return http.client.HTTPConnection(split.hostname or "127.0.0.1", split.port, timeout=120)


QUERIES = {  # name: (body builder, text every counted answer holds, computed afresh)
    "typename": (lambda _account: typename_body(), '"__typename":"Query"', False),
    "overview": (lambda account: overview_body(account), '"runOut":{', False),
    "computed": (lambda account: overview_body(account), '"runOut":{', True),
}
ROUND_SECONDS = 2.0


@dataclass
class Run:
    """One history served by its own server, and what was measured on it."""

    history: History
    url: str = ""
    pid: int = 0
    seconds_taken: dict[str, list[float]] = field(default_factory=dict)
    wrk: dict[str, list[WrkResult]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def body(self, name: str) -> bytes:
        return QUERIES[name][0](self.history.account_id)

    def p50_ms(self, name: str) -> float:
        return statistics.median(self.seconds_taken[name]) * 1000

    def rate(self, name: str) -> float:
        """Requests/s answered with the data asked for, over every round."""
        results = self.wrk.get(name, [])
        duration = sum(r.duration for r in results)
        return sum(r.accepted for r in results) / duration if duration else 0.0

    def ratio(self, name: str = "overview") -> float:
        typename = self.rate("typename")
        return self.rate(name) / typename if typename else math.nan


def check_answer(run: Run) -> None:
    """The overview shows the seeded account: its 200 lots, its 90 days of uploads."""
    conn = _connect(run.url)
    try:
        _, answer = ask(conn, run.body("overview"), run.history.token)
    finally:
        conn.close()
    shown = answer["data"]["account"]
    usage = sum(point["exams"] for point in shown["dailyUsage"])
    if shown["lots"]["totalCount"] != LOTS or usage != run.history.recent:
        run.warnings.append(
            f"overview shows {shown['lots']['totalCount']} lots and {usage} exams in"
            f" {USAGE_DAYS} days; seeded {LOTS} and {run.history.recent}"
        )


def check_reused(run: Run) -> None:
    """The overview asked as the console asks it is the one computed afresh."""
    conn = _connect(run.url)
    try:
        answers = [
            ask(conn, run.body(name), run.history.token, fresh=name == "computed")[1]
            for name in ("overview", "overview", "computed")
        ]
    finally:
        conn.close()
    if not answers[0]["data"] == answers[1]["data"] == answers[2]["data"]:
        run.warnings.append("the reused overview differs from the computed one")


def measure_latency(runs: list[Run], requests: int, warmup: int) -> None:
    """One client, one request at a time, taking turns between the servers and the
    queries, so that whatever else the machine does weighs on every figure alike."""
    conns = [_connect(run.url) for run in runs]
    try:
        for turn in range(warmup + requests):
            for run, conn in zip(runs, conns, strict=True):
                for name, (_, _, fresh) in QUERIES.items():
                    took, _ = ask(conn, run.body(name), run.history.token, fresh=fresh)
                    if turn >= warmup:
                        run.seconds_taken.setdefault(name, []).append(took)
    finally:
        for conn in conns:
            conn.close()


def measure_throughput(run: Run, work: Path, *, seconds: float, threads: int) -> None:
    """wrk at CONNECTIONS connections, `{ __typename }` and the overview taking turns in
    rounds of ROUND_SECONDS until each has had `seconds`."""
    files = {}
    for name in QUERIES:
        files[name] = work / f"{name}-{run.history.exams}.json"
        files[name].write_bytes(run.body(name))
    before = CpuSample.take(run.pid)
    for _ in range(max(1, round(seconds / ROUND_SECONDS))):
        for name, (_, expect, fresh) in QUERIES.items():
            args = [str(files[name]), run.history.token, expect, "fresh" if fresh else ""]
            result = run_wrk(
                run.url,
                LUA,
                args,
                connections=CONNECTIONS,
                seconds=ROUND_SECONDS,
                threads=threads,
            )
            run.wrk.setdefault(name, []).append(result)
            with (RESULTS / f"P3-{run.history.exams}.{name}.txt").open("a") as out:
                out.write(result.output)
    after = CpuSample.take(run.pid)
    foreign = before.foreign_cores(after) if before and after else None
    if foreign is not None and foreign > 0.25:
        run.warnings.append(f"other processes used {foreign:.1f} cores: figures are noisy")
    for name, results in run.wrk.items():
        bad = sum(r.non_2xx + r.socket_errors + r.other for r in results)
        if bad:
            run.warnings.append(f"{name}: {bad} answers without the data, or errors")


def measure_p3(
    work: Path, *, history: int, seconds: float, threads: int, requests: int, warmup: int
) -> list[str]:
    """The two P3 lines, then notes (seeding time, each figure) and anything off."""
    runs = []
    for exams in (SMALL, history):
        began = clock.monotonic()
        runs.append(Run(seed_history(work / f"P3-{exams}.sqlite3", exams)))
        runs[-1].notes.append(f"seeded in {clock.monotonic() - began:.0f} s")
    env = {"BENCH_QUERY_BUDGET_SCALE": BUDGET_SCALE}
    logs = [RESULTS / f"P3-{run.history.exams}.server.log" for run in runs]
    for path in RESULTS.glob("P3-*.txt"):
        path.unlink()
    with contextlib.ExitStack() as stack:
        for run, log in zip(runs, logs, strict=True):
            run.url, run.pid = stack.enter_context(
                server("project", run.history, free_port(), log, env)
            )
            check_answer(run)
            check_reused(run)
        measure_latency(runs, requests, warmup)
        for run in runs:
            measure_throughput(run, work, seconds=seconds, threads=threads)
    for run, log in zip(runs, logs, strict=True):
        if "Traceback" in log.read_text(errors="replace"):
            run.warnings.append(f"server logged errors, see {log.relative_to(ROOT)}")
        run.notes.append(
            f"p50 overview {run.p50_ms('overview'):.1f} ms (computed {run.p50_ms('computed'):.1f}"
            f" ms), {{ __typename }} {run.p50_ms('typename'):.1f} ms; wrk overview"
            f" {run.rate('overview'):.1f} req/s (computed {run.rate('computed'):.1f}),"
            f" {{ __typename }} {run.rate('typename'):.1f} req/s"
        )
    small, big = runs
    lines = [
        f"P3 overview ratio={big.ratio():.2f} overview={big.rate('overview'):.1f}"
        f" typename={big.rate('typename'):.1f} exams={history} at_{SMALL}={small.ratio():.2f}"
        " target=0.5",
        f"P3 history_growth={big.p50_ms('overview') / small.p50_ms('overview'):.2f}"
        f" p50_{SMALL}={small.p50_ms('overview'):.1f}ms"
        f" p50_{history}={big.p50_ms('overview'):.1f}ms target=1.2",
        f"P3 computed ratio={big.ratio('computed'):.2f} at_{SMALL}={small.ratio('computed'):.2f}"
        f" history_growth={big.p50_ms('computed') / small.p50_ms('computed'):.2f}"
        f" p50_{SMALL}={small.p50_ms('computed'):.1f}ms"
        f" p50_{history}={big.p50_ms('computed'):.1f}ms",
    ]
    for run in runs:
        lines += [f"WARNING P3 {run.history.exams}: {w}" for w in run.warnings]
        lines += [f"NOTE P3 {run.history.exams}: {n}" for n in run.notes]
    return lines
