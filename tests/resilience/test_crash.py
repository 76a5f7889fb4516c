"""kill -9 under upload load, 20 times, on SQLite and on PostgreSQL: the server starts
again each time without repair, every upload acknowledged to a client is there, nothing
is counted twice and the ledger reconciles (R-EXAM-4, R-GEN-7). An answer is sent only
after its commit (group commit; SQLite synchronous=FULL), so what a client was told
survives; an upload whose answer was lost is sent again and counted once."""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from imaging_billing.api.ids import encode
from imaging_billing.services.clock import ManualClock
from imaging_billing.store.db import Database

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import make_services
from ..support.serving import LiveServer
from . import cluster
from .cluster import RECONCILE, UPLOAD, Operator, SharedClock, signed_post

KILLS = 20
CLIENTS = 16


async def test_kill_9_loses_nothing_acknowledged(database: str, tmp_path: Path) -> None:
    setup = make_services(database, ManualClock(datetime.now(UTC)))
    try:
        token = await create_operator_token(setup)
        account_pk = await create_account(setup)
        gateway = await create_institution(setup, account_pk)
        await credit_lot(setup, account_pk, quantity=10_000)
    finally:
        await setup.db.dispose()
    env = {
        "WEBHOOK_INTERVAL_SECONDS": "0",
        "MAIL_INTERVAL_SECONDS": "0",
        "VAR_DIR": str(tmp_path / "var"),
        "UVICORN_TIMEOUT_KEEP_ALIVE": "300",
    }
    server = LiveServer(tmp_path, None, url=database, port=cluster.port(), env=env)
    server.start()
    clock = SharedClock(tmp_path)
    answers: dict[str, list[tuple[str, str]]] = defaultdict(list)
    lost = 0
    stop = asyncio.Event()
    rng = random.Random(9)

    async def client(c: int, http: httpx.AsyncClient) -> None:
        nonlocal lost
        n = 0
        while not stop.is_set():
            uid = f"1.2.7.{c}.{n}"
            while True:  # until an answer comes: the same study again after a lost one
                try:
                    answer = await signed_post(
                        http, server.base, gateway, clock, UPLOAD, {"inst": gateway.id, "uid": uid}
                    )
                except httpx.TransportError:
                    lost += 1  # cut off, or refused while the server is down
                    await asyncio.sleep(0.2)
                    continue
                result = answer.json()["data"]["recordExamUpload"]
                answers[uid].append((result["status"], result["exam"]["id"]))
                break
            n += 1

    async def killer() -> None:
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(0.2, 1.2))
            server.kill()
            await asyncio.to_thread(server.start)  # no repair step: it just starts
        stop.set()

    try:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CLIENTS + 4)) as http:
            await asyncio.gather(killer(), *(client(c, http) for c in range(CLIENTS)))
            final = await Operator(http, token)(
                server.base, RECONCILE, acc=str(encode("Account", account_pk))
            )
    finally:
        server.stop()

    assert final["reconcileAccount"] == {"ok": True, "discrepancies": []}
    assert lost > 0  # the kills landed while clients were sending
    for uid, seen in answers.items():
        assert [s for s, _ in seen].count("ACCEPTED") <= 1, (uid, seen)
        assert {s for s, _ in seen} <= {"ACCEPTED", "DUPLICATE"}, (uid, seen)
        assert len({exam for _, exam in seen}) == 1, (uid, seen)
    db = Database(database)
    try:
        async with db.read() as conn:
            exams = {
                r.study_uid: r.id
                for r in (await conn.execute(sa.text("SELECT id, study_uid FROM exam"))).all()
            }
            drawn = Counter(
                r.exam_id
                for r in (
                    await conn.execute(
                        sa.text(
                            "SELECT exam_id FROM ledger_entry "
                            "WHERE type IN ('CONSUMPTION', 'ARREARS')"
                        )
                    )
                ).all()
            )
            used = await conn.scalar(sa.text("SELECT sum(used) FROM exam_lot"))
    finally:
        await db.dispose()
    # Every acknowledged upload is there, as the exam its answer named; counted once.
    assert set(exams) == set(answers)
    for uid, seen in answers.items():
        assert seen[0][1] == str(encode("Exam", exams[uid]))
    assert set(drawn) == set(exams.values())
    assert max(drawn.values()) == 1
    assert used == len(exams)
    print(f"crash: {KILLS} kills, {len(exams)} uploads acknowledged, {lost} attempts failed")  # noqa: T201
