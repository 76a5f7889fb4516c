"""Bank test (Jepsen-style): many clients against two server processes over one
PostgreSQL database (one process on SQLite), while the account runs out of lots, a
purchase is paid, an AI pack runs out and the servers' clock passes the lots' expiry.
Reconciliation runs all along and must never find a discrepancy; afterwards the money
adds up: every study acknowledged is counted exactly once, no lot or pack is over-drawn,
arrears were settled oldest first (R-EXAM-3/4, R-ARR-1/4, R-AI-1..3, R-EXAM-2, R-GEN-7)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from imaging_billing.api.ids import encode
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.steps.uploads import UploadItem, record_uploads

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import make_services
from ..support.serving import LiveServer
from . import cluster
from .cluster import RECONCILE, UPLOAD, Operator, SharedClock, signed_post

# Every phase (run-out, payment, expiry, AI pack) falls inside 12,000 uploads, in about
# 60 % of the CI time 20,000 took; BANK_UPLOADS=50000 for a longer soak.
UPLOADS = int(os.environ.get("BANK_UPLOADS", "12000"))
CLIENTS = 64
DUPLICATES = 0.10
# The first lot has this share of the uploads left: it runs out a fifth of the way in.
LEFT = 0.2
PAY_AT, EXPIRE_AT = 0.45, 0.7  # fractions of the uploads answered
AI_READS, AI_PACK, READERS = 1_200, 1_000, 8

READ = """mutation($i: ID!, $uid: String!, $key: String!) {
  recordAiRead(institutionId: $i, product: GLAUCOMA, studyInstanceUid: $uid,
               idempotencyKey: $key) { status read { id } userErrors { code } } }"""
SET_PRICE = """mutation($p: String!, $f: Fen!) {
  setPrice(product: $p, unitPriceFen: $f) { userErrors { code } } }"""
PLACE = """mutation($acc: ID!) {
  placeOrder(accountId: $acc, lines: [{product: "EXAM_VOLUME", quantity: 10000}],
             acceptTerms: true) { order { id totalFen } userErrors { code } } }"""
CONFIRM = """mutation($o: ID!, $f: Fen!) { confirmTransfer(orderId: $o, reference: "BANK-1",
  amountFen: $f) { order { state } userErrors { code } } }"""
OFFLINE = """mutation($acc: ID!) {
  recordOfflineOrder(accountId: $acc, lines: [{product: "AI_PACK_GLAUCOMA", quantity: 1000}],
                     contractRef: "HT-AI") { order { state } userErrors { code } } }"""


@dataclass
class Seen:
    """What the clients were told."""

    answers: dict[str, list[tuple[str, str | None]]] = field(
        default_factory=lambda: defaultdict(list)
    )  # uid -> (status, exam id)
    reads: list[tuple[str, str, str | None]] = field(default_factory=list)  # key, status, id
    reconciled: int = 0
    discrepancies: list[Any] = field(default_factory=list)
    retried: int = 0
    upload_seconds: float = 0.0


def plan(count: int, instances: int, rng: random.Random) -> list[tuple[str, int]]:
    """(study UID, instance): 10 % report a study again, soon after, to another instance."""
    out: list[tuple[str, int]] = []
    for n in range(count):
        if n > 50 and rng.random() < DUPLICATES:
            uid, first = out[rng.randrange(max(0, n - 200), n)]
            out.append((uid, (first + 1) % instances))
        else:
            out.append((f"1.2.840.99.{n}", rng.randrange(instances)))
    return out


async def test_bank(database: str, tmp_path: Path) -> None:
    instances = 1 if database.startswith("sqlite") else 2
    clock = SharedClock(tmp_path)
    now = datetime.now(UTC)
    setup = make_services(database, ManualClock(now))
    try:
        token = await create_operator_token(setup)
        account_pk = await create_account(setup)
        gateway = await create_institution(setup, account_pk)
        await credit_lot(setup, account_pk, quantity=10_000)
        used = [UploadItem(gateway.institution_pk, f"1.2.9.{n}") for n in range(10_000)]
        async with setup.db.write() as conn:
            await record_uploads(conn, account_pk, used[: 10_000 - int(LEFT * UPLOADS)], now)
    finally:
        await setup.db.dispose()
    account = str(encode("Account", account_pk))
    env = {
        "CLOCK_OFFSET_FILE": str(clock.path),
        "SWEEP_INTERVAL_SECONDS": "0.5",
        "WEBHOOK_INTERVAL_SECONDS": "0",
        "MAIL_INTERVAL_SECONDS": "0",
        "VAR_DIR": str(tmp_path / "var"),
        "DB_POOL_SIZE": "8",
        "DB_MAX_OVERFLOW": "4",
        # Longer than any pause of a client: an idle connection closed by the server
        # just as the client reuses it would fail a request that was never read.
        "UVICORN_TIMEOUT_KEEP_ALIVE": "300",
    }
    servers = [
        LiveServer(tmp_path, None, url=database, port=cluster.port(), env=env)
        for _ in range(instances)
    ]
    for server in servers:
        server.start()
    try:
        limits = httpx.Limits(max_connections=CLIENTS + 8, max_keepalive_connections=CLIENTS + 8)
        async with httpx.AsyncClient(limits=limits) as http:
            seen = await _load(http, servers, Operator(http, token), account, gateway, clock)
            await _check(http, servers, Operator(http, token), account, database, seen)
    finally:
        for server in servers:
            server.stop()


async def _load(
    http: httpx.AsyncClient,
    servers: list[LiveServer],
    operator: Operator,
    account: str,
    gateway: Any,
    clock: SharedClock,
) -> Seen:
    first = servers[0].base
    for product, fen in (("EXAM_VOLUME", 150), ("AI_PACK_GLAUCOMA", 300)):
        assert (await operator(first, SET_PRICE, p=product, f=fen))["setPrice"]["userErrors"] == []
    order = (await operator(first, PLACE, acc=account))["placeOrder"]["order"]
    offline = await operator(servers[-1].base, OFFLINE, acc=account)
    assert offline["recordOfflineOrder"]["order"]["state"] == "FULFILLED"

    rng = random.Random(14)
    work = plan(UPLOADS, len(servers), rng)
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for item in work:
        queue.put_nowait(item)
    seen = Seen()
    answered = 0
    paid = asyncio.Event()
    expired = asyncio.Event()
    jumped = asyncio.Event()
    done = asyncio.Event()

    async def post(base: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        # A request signed just before the clock jump reaches a server after it: refused
        # as stale (401) and nothing recorded; signed again, it goes through.
        for _ in range(5):
            answer = await signed_post(http, base, gateway, clock, query, variables)
            if answer.status_code == 200:
                body: dict[str, Any] = answer.json()
                assert "errors" not in body, body
                return body["data"]
            assert answer.status_code == 401, answer.text
            seen.retried += 1
        raise AssertionError(f"refused five times: {answer.text}")

    async def uploader() -> None:
        nonlocal answered
        while not queue.empty():
            uid, instance = queue.get_nowait()
            if answered >= EXPIRE_AT * UPLOADS and not jumped.is_set():
                await jumped.wait()  # the rest after the expiry, whatever the pace of reads
            data = await post(servers[instance].base, UPLOAD, {"inst": gateway.id, "uid": uid})
            result = data["recordExamUpload"]
            exam = result["exam"]["id"] if result["exam"] else None
            seen.answers[uid].append((result["status"], exam))
            answered += 1
            if answered >= PAY_AT * UPLOADS and not paid.is_set():
                paid.set()
            if answered >= EXPIRE_AT * UPLOADS and not expired.is_set():
                expired.set()

    async def buyer() -> None:
        await paid.wait()
        confirmed = await operator(servers[-1].base, CONFIRM, o=order["id"], f=order["totalFen"])
        assert confirmed["confirmTransfer"]["order"]["state"] == "FULFILLED"

    async def expiry() -> None:
        # The chosen instant: every lot and the pack were bought within the year.
        await expired.wait()
        await ai
        clock.jump(timedelta(days=367))
        await asyncio.sleep(0.2)  # every server has read the new offset (50 ms)
        jumped.set()

    async def reader(part: int) -> None:
        # Reads of studies the seed recorded, by several gateways' threads at once.
        for n in range(part, len(read_keys), READERS):
            base = servers[n % len(servers)].base
            key = read_keys[n]
            variables = {"i": gateway.id, "uid": f"1.2.9.{key.split('-')[1]}", "key": key}
            data = (await post(base, READ, variables))["recordAiRead"]
            codes = ",".join(e["code"] for e in data["userErrors"])
            read = (data["read"] or {}).get("id")
            seen.reads.append((key, f"{data['status']}:{codes}", read))

    async def reconciler(base: str) -> None:
        while not done.is_set():
            found = (await operator(base, RECONCILE, acc=account))["reconcileAccount"]
            seen.reconciled += 1
            if not found["ok"]:
                seen.discrepancies.append(found["discrepancies"])
            await asyncio.sleep(0.2)

    read_keys = [f"read-{n}" for n in range(AI_READS)]
    read_keys += rng.sample(read_keys, 100)  # the same read reported again
    rng.shuffle(read_keys)
    watchers = [asyncio.create_task(reconciler(s.base)) for s in servers]
    started = time.monotonic()
    ai = asyncio.gather(*(reader(part) for part in range(READERS)))
    side = [asyncio.create_task(buyer()), asyncio.create_task(expiry())]
    await asyncio.gather(*(uploader() for _ in range(CLIENTS)))
    seen.upload_seconds = time.monotonic() - started
    await ai
    done.set()
    print(f"load: {seen.upload_seconds:.1f} s, reconciled {seen.reconciled}x")  # noqa: T201
    await asyncio.gather(*watchers, *side)
    return seen


async def _check(
    http: httpx.AsyncClient,
    servers: list[LiveServer],
    operator: Operator,
    account: str,
    database: str,
    seen: Seen,
) -> None:
    from imaging_billing.store.db import Database

    assert seen.reconciled >= 10, seen.reconciled
    assert seen.discrepancies == [], seen.discrepancies[:3]
    # Each study acknowledged once as ACCEPTED, its repeats DUPLICATE of the same exam.
    statuses = Counter(status for answers in seen.answers.values() for status, _ in answers)
    assert sum(statuses.values()) == UPLOADS
    assert set(statuses) <= {"ACCEPTED", "DUPLICATE"}, statuses
    for uid, answers in seen.answers.items():
        assert [s for s, _ in answers].count("ACCEPTED") == 1, (uid, answers)
        assert len({exam for _, exam in answers}) == 1, (uid, answers)
    accepted_exams = {answers[0][1] for answers in seen.answers.values()}

    db = Database(database)
    try:
        for _ in range(100):  # the sweep after the jump: every half second on each server
            async with db.read() as conn:
                unswept = await conn.scalar(
                    sa.text("SELECT count(*) FROM exam_lot WHERE swept_at IS NULL")
                )
            if not unswept:
                break
            await asyncio.sleep(0.1)
        async with db.read() as conn:
            rows = (
                await conn.execute(sa.text("SELECT id, study_uid, lot_id, uploaded_at FROM exam"))
            ).all()
            lots = (
                await conn.execute(
                    sa.text(
                        "SELECT id, quantity, used, forfeited, expires_at, swept_at "
                        "FROM exam_lot ORDER BY id"
                    )
                )
            ).all()
            arrears = await conn.scalar(sa.text("SELECT sum(arrears_count) FROM account"))
            drawn = {
                r.exam_id: r.type
                for r in (
                    await conn.execute(
                        sa.text(
                            "SELECT exam_id, type FROM ledger_entry WHERE exam_id IS NOT NULL "
                            "AND type IN ('CONSUMPTION', 'ARREARS')"
                        )
                    )
                ).all()
            }
            settling = (
                await conn.execute(
                    sa.text("SELECT id, exam_id FROM ledger_entry WHERE type = 'SETTLEMENT'")
                )
            ).all()
            settled = {r.exam_id for r in settling}
            settlements = [r.id for r in settling]
            consumption: dict[int, list[int]] = defaultdict(list)
            for r in (
                await conn.execute(
                    sa.text("SELECT id, lot_id FROM ledger_entry WHERE type = 'CONSUMPTION'")
                )
            ).all():
                consumption[r.lot_id].append(r.id)
            expiries = Counter(
                r.lot_id
                for r in (
                    await conn.execute(
                        sa.text("SELECT lot_id FROM ledger_entry WHERE type = 'EXPIRY'")
                    )
                ).all()
            )
            pack = (await conn.execute(sa.text("SELECT quantity, used FROM ai_pack"))).one()
            ai_reads = await conn.scalar(sa.text("SELECT count(*) FROM ai_read"))
    finally:
        await db.dispose()

    # Distinct accepted studies = used + arrears, and each is in the ledger.
    loaded = [r for r in rows if r.study_uid.startswith("1.2.840.99.")]  # not the seed's
    assert len(loaded) == len(seen.answers)
    assert {r.study_uid for r in loaded} == set(seen.answers)
    assert {str(encode("Exam", r.id)) for r in loaded} == accepted_exams
    assert len(rows) == sum(lot.used for lot in lots) + int(arrears or 0)
    assert set(drawn) == {r.id for r in rows}
    # No lot over-drawn; every lot expired at the jump, forfeited once, nothing drawn after.
    for lot in lots:
        assert lot.used >= 0, lot
        assert lot.used + lot.forfeited <= lot.quantity, lot
        assert lot.swept_at is not None
        assert expiries[lot.id] == (1 if lot.forfeited else 0)
        assert lot.used + lot.forfeited == lot.quantity  # the whole lot is accounted for
    assert len(lots) == 2
    assert all(lot.forfeited > 0 for lot in lots[1:]), lots  # the purchase expired unused in part
    jumped = min(lot.expires_at for lot in lots)
    late = [r for r in rows if r.uploaded_at >= jumped]
    assert late
    assert all(r.lot_id is None for r in late)
    # Arrears settled oldest first: none left uncovered is older than one settled.
    assert settled
    uncovered = [r.uploaded_at for r in rows if r.lot_id is None]
    settled_times = [r.uploaded_at for r in rows if r.id in settled]
    assert max(settled_times) <= min(uncovered)
    # …and the purchase covered them before anything else drew from it (ledger order;
    # an upload's time is taken before it waits for the account, so not upload times).
    bought = lots[1].id
    assert consumption[bought]
    assert max(settlements) < min(consumption[bought])
    # The AI pack ran out exactly: 1,000 reads accepted, the rest refused, none twice.
    reads = Counter(status for _, status, _ in seen.reads)
    assert reads["ACCEPTED:"] == AI_PACK == pack.used == pack.quantity == ai_reads, reads
    assert set(reads) <= {"ACCEPTED:", "DUPLICATE:", "REFUSED:R_AI_3_NO_CREDIT"}, reads
    by_key: dict[str, set[str | None]] = defaultdict(set)
    for key, status, read in seen.reads:
        if status in ("ACCEPTED:", "DUPLICATE:"):
            by_key[key].add(read)
    assert all(len(ids) == 1 for ids in by_key.values())
    # A read refused for want of credit and reported again is refused again, never drawn.
    refused = {key for key, status, _ in seen.reads if status.startswith("REFUSED")}
    assert not refused & set(by_key)
    for server in servers:
        final = (await operator(server.base, RECONCILE, acc=account))["reconcileAccount"]
        assert final == {"ok": True, "discrepancies": []}
    print(  # noqa: T201 - the totals, for the report
        f"bank: {len(rows)} studies, used {sum(lot.used for lot in lots)}, arrears {arrears}, "
        f"settled {len(settled)}, forfeited {[lot.forfeited for lot in lots]}, "
        f"AI {dict(reads)}, reconciled {seen.reconciled}x, retried {seen.retried}, "
        f"{UPLOADS} uploads in {seen.upload_seconds:.1f} s"
    )
