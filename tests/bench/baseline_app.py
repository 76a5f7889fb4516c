"""Baseline: the same durable upload transaction as a plain Starlette endpoint on raw sqlite3.

What a lean hand-written service would do per request: parse the JSON body, look
the study up (idempotency), pick the soonest-expiring usable lot, draw from it,
insert the exam and its ledger entry, commit with WAL + synchronous=FULL. It runs
on the project's own migrated schema (tests/bench/seed.py), one connection used
directly on the event loop (no thread hop): the fastest honest shape for SQLite's
single writer.

Like the project's resolvers it takes the institution from the `institutionId`
variable (a Relay global ID); it does not check signatures.

Start: `BENCH_BASELINE_DB=... BENCH_ACCOUNT_ID=...
python -m uvicorn --factory tests.bench.baseline_app:create_app`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

VOLUME_STORAGE_YEARS = 15
SHANGHAI = ZoneInfo("Asia/Shanghai")


def connect(path: Path | str) -> sqlite3.Connection:
    """The project's connection settings: WAL, synchronous=FULL, busy_timeout, foreign keys."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def stamp(moment: datetime) -> str:
    """SQLAlchemy's SQLite DateTime text for an aware instant (stored as naive UTC)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def day(moment: datetime) -> str:
    """The Asia/Shanghai calendar day, as the counters' DATE column holds it."""
    return moment.astimezone(SHANGHAI).date().isoformat()


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)


_EXAM_INSERT = (
    "INSERT INTO exam (id, account_id, institution_id, study_uid, uploaded_at, recorded_at,"
    " lot_id, covered_at, storage_ends_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_LEDGER_INSERT = (
    "INSERT INTO ledger_entry (account_id, type, lot_id, exam_id, quantity, occurred_at,"
    " cause, actor) VALUES (?, ?, ?, ?, ?, ?, 'EXAM', ?)"
)
# One row per account and Shanghai day, added to by every upload transaction.
_COUNT = (
    "INSERT INTO daily_exam_count (account_id, day, uploads, arrears, voids)"
    " VALUES (?, ?, ?, ?, 0) ON CONFLICT (account_id, day) DO UPDATE SET"
    " uploads = uploads + excluded.uploads, arrears = arrears + excluded.arrears"
)
_USABLE_LOTS = (
    "SELECT id, quantity - used, storage_years FROM exam_lot"
    " WHERE account_id = ? AND expires_at > ? AND used < quantity"
    " ORDER BY expires_at, purchased_at, id"
)


def record_upload(
    conn: sqlite3.Connection, account_id: int, institution_pk: int, uid: str, now: datetime
) -> dict[str, Any]:
    """One upload in one durable transaction; returns the small answer the endpoint sends."""
    at = stamp(now)
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = conn.execute(
            "SELECT storage_ends_at FROM exam WHERE account_id = ? AND study_uid = ?",
            (account_id, uid),
        ).fetchone()
        if found is not None:
            conn.execute("COMMIT")
            return {"status": "DUPLICATE", "storageEndsAt": found[0]}
        lot = conn.execute(_USABLE_LOTS + " LIMIT 1", (account_id, at)).fetchone()
        lot_id, ends = None, None
        if lot is not None:
            lot_id, ends = lot[0], stamp(add_years(now, lot[2]))
            conn.execute("UPDATE exam_lot SET used = used + 1 WHERE id = ?", (lot_id,))
        cursor = conn.execute(
            _EXAM_INSERT,
            (None, account_id, institution_pk, uid, at, at, lot_id, at if lot_id else None, ends),
        )
        conn.execute(
            _LEDGER_INSERT,
            (
                account_id,
                "CONSUMPTION" if lot_id else "ARREARS",
                lot_id,
                cursor.lastrowid,
                -1 if lot_id else 1,
                at,
                f"institution:{institution_pk}",
            ),
        )
        conn.execute(_COUNT, (account_id, day(now), 1, int(lot_id is None)))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return {"status": "ACCEPTED", "storageEndsAt": ends}


def record_uploads(
    conn: sqlite3.Connection,
    account_id: int,
    institution_pk: int,
    batch: list[str],
    now: datetime,
) -> list[str]:
    """A batch in one transaction: one look-up, one lot query, executemany per table.
    Returns one status per item, in order."""
    at = stamp(now)
    actor = f"institution:{institution_pk}"
    conn.execute("BEGIN IMMEDIATE")
    try:
        marks = ",".join("?" * len(batch))
        known = {
            row[0]
            for row in conn.execute(
                f"SELECT study_uid FROM exam WHERE account_id = ? AND study_uid IN ({marks})",
                (account_id, *batch),
            )
        }
        new = [uid for uid in dict.fromkeys(batch) if uid not in known]
        draws: list[tuple[int | None, int]] = []  # (lot id, storage years)
        for lot_id, remaining, years in conn.execute(_USABLE_LOTS, (account_id, at)):
            draws += [(lot_id, years)] * min(remaining, len(new) - len(draws))
            if len(draws) == len(new):
                break
        draws += [(None, 0)] * (len(new) - len(draws))
        (last,) = conn.execute("SELECT coalesce(max(id), 0) FROM exam").fetchone()
        exams, entries = [], []
        for offset, (uid, (lot_id, years)) in enumerate(zip(new, draws, strict=True)):
            exam_id = last + 1 + offset
            covered = lot_id is not None
            ends = stamp(add_years(now, years)) if covered else None
            exams.append(
                (exam_id, account_id, institution_pk, uid, at, at, lot_id, at if covered else None)
                + (ends,)
            )
            kind, quantity = ("CONSUMPTION", -1) if covered else ("ARREARS", 1)
            entries.append((account_id, kind, lot_id, exam_id, quantity, at, actor))
        conn.executemany(_EXAM_INSERT, exams)
        conn.executemany(_LEDGER_INSERT, entries)
        per_lot = Counter(lot_id for lot_id, _ in draws if lot_id is not None)
        conn.executemany(
            "UPDATE exam_lot SET used = used + ? WHERE id = ?",
            [(n, lot_id) for lot_id, n in per_lot.items()],
        )
        if new:
            arrears = len(new) - sum(per_lot.values())
            conn.execute(_COUNT, (account_id, day(now), len(new), arrears))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    accepted = set(new)
    statuses = []
    for uid in batch:
        statuses.append("ACCEPTED" if uid in accepted else "DUPLICATE")
        accepted.discard(uid)
    return statuses


def institution_pk(global_id: str) -> int:
    """`Institution:<pk>`, base64-encoded (imaging_billing.api.ids)."""
    type_name, pk = base64.b64decode(global_id).decode().split(":", 1)
    if type_name != "Institution":
        raise ValueError(global_id)
    return int(pk)


def _json(payload: dict[str, Any]) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


def create_app(path: Path | str | None = None, account_id: int | None = None) -> Starlette:
    """The baseline service; arguments default to BENCH_BASELINE_DB and BENCH_ACCOUNT_ID
    (uvicorn --factory calls it without any)."""
    path = path or os.environ["BENCH_BASELINE_DB"]
    account = account_id or int(os.environ["BENCH_ACCOUNT_ID"])
    conn = connect(path)

    async def graphql(request: Request) -> Response:
        variables = json.loads(await request.body())["variables"]
        institution = institution_pk(variables["i"])
        now = datetime.now(UTC)
        if "items" in variables:
            batch = [item["studyInstanceUid"] for item in variables["items"]]
            statuses = record_uploads(conn, account, institution, batch, now)
            counts = Counter(statuses)
            result: dict[str, Any] = {
                "accepted": counts["ACCEPTED"],
                "duplicates": counts["DUPLICATE"],
                "refused": 0,
                "results": [{"status": s} for s in statuses],
                "userErrors": [],
            }
            return _json({"data": {"recordExamUploads": result}})
        answer = record_upload(conn, account, institution, variables["u"], now)
        result = {
            "status": answer["status"],
            "exam": {"storageEndsAt": answer["storageEndsAt"]},
            "userErrors": [],
        }
        return _json({"data": {"recordExamUpload": result}})

    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            conn.close()

    return Starlette(
        routes=[Route("/graphql", graphql, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )
