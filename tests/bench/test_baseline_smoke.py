"""Keeps the benchmark harness from rotting: no wrk, no server process."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx

from imaging_billing import security
from imaging_billing.api.ids import encode
from imaging_billing.services.reconcile import reconcile_account
from imaging_billing.store.db import Database

from ..support import SqliteTemplate
from . import baseline_app, pool
from .run import FIGURES, parse_wrk
from .seed import Gateway, seed_async

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:40000/graphql
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.39ms    1.20ms  20.11ms   80.00%
  25021 requests in 10.02s, 6.11MB read
  Non-2xx or 3xx responses: 3
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:   2497.11
Transfer/sec:    624.40KB
pool: sent=25037 accepted=25018 other=3 wrapped=0
"""


async def test_baseline_transactions_keep_the_ledger_consistent(
    sqlite_template: SqliteTemplate,
) -> None:
    seeded = await seed_async(sqlite_template.fresh(), lots=2, quantity=10_000)
    now = datetime.now(UTC)
    args = (seeded.account_id, seeded.gateways[0].pk)
    with contextlib.closing(baseline_app.connect(seeded.path)) as conn:
        first = baseline_app.record_upload(conn, *args, "1.2.3.1", now)
        again = baseline_app.record_upload(conn, *args, "1.2.3.1", now)
        batch = ["1.2.3.2", "1.2.3.3", "1.2.3.2", "1.2.3.1"]
        statuses = baseline_app.record_uploads(conn, *args, batch, now)
        (exams,) = conn.execute("SELECT count(*) FROM exam").fetchone()
        (used,) = conn.execute("SELECT sum(used) FROM exam_lot").fetchone()

    assert first["status"] == "ACCEPTED"
    assert again["status"] == "DUPLICATE"
    assert statuses == ["ACCEPTED", "ACCEPTED", "DUPLICATE", "DUPLICATE"]
    assert exams == used == 3
    # The project reads the baseline's rows and finds its ledger balanced.
    db = Database(seeded.url)
    try:
        async with db.read() as conn_:
            assert await reconcile_account(conn_, seeded.account_id) == []
    finally:
        await db.dispose()


def test_pool_requests_are_signed_distinct_and_replayable(tmp_path: Path) -> None:
    gateways = [Gateway(7, security.new_token("ibi")), Gateway(9, security.new_token("ibi"))]
    keys = {g.id: security.signing_key(g.token) for g in gateways}
    prefix = pool.run_prefix(2, run=1)
    singles = list(pool.signed_requests(gateways, prefix, 3))
    batches = list(pool.signed_requests(gateways, prefix, 2, batch=4))

    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    for request in singles + batches:
        institution_id = request.headers["X-Institution-Id"]
        ts, signature = request.headers["X-Timestamp"], request.headers["X-Signature"]
        assert json.loads(request.body)["variables"]["i"] == institution_id
        assert security.timestamp_fresh(ts, now_ms, 300)
        signed = security.SignedRequest.of(institution_id, ts, request.body)
        assert security.signature_valid(keys[institution_id], signed, signature)
    assert [r.headers["X-Institution-Id"] for r in singles] == [
        str(encode("Institution", pk)) for pk in (7, 9, 7)
    ]
    uids = [json.loads(r.body)["variables"]["u"] for r in singles]
    bodies = [json.loads(r.body)["variables"] for r in batches]
    items = [item["studyInstanceUid"] for body in bodies for item in body["items"]]
    assert len(set(uids)) == 3
    assert len(set(items)) == 8

    path = tmp_path / "pool"
    assert pool.write_pool(path, iter(singles)) == 3
    institution_id, ts, signature, body = path.read_bytes().splitlines()[0].split(b"\t")
    assert institution_id.decode() == singles[0].headers["X-Institution-Id"]
    assert (body, signature.decode()) == (singles[0].body, singles[0].headers["X-Signature"])


async def test_baseline_endpoint_answers_what_the_benchmark_expects(
    sqlite_template: SqliteTemplate,
) -> None:
    seeded = await seed_async(sqlite_template.fresh(), lots=1, quantity=10_000)
    app = baseline_app.create_app(seeded.path, seeded.account_id)
    prefix = pool.run_prefix(2, run=2)
    institution_id = seeded.gateways[0].id
    single = pool.single_body(institution_id, f"{prefix}.1")
    batch = pool.batch_body(institution_id, pool.uids(prefix, 2, 1_000))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://bench") as client,
    ):
        one = await client.post("/graphql", content=single)
        many = await client.post("/graphql", content=batch)
    assert FIGURES["P1"].expect in one.text
    assert FIGURES["P2"].expect in many.text
    with contextlib.closing(baseline_app.connect(seeded.path)) as conn:
        rows = conn.execute("SELECT institution_id, count(*) FROM exam GROUP BY 1").fetchall()
    assert rows == [(seeded.gateways[0].pk, 1_001)]


def test_wrk_output_is_parsed() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests_per_sec == 2497.11
    assert (result.completed, result.duration) == (25021, 10.02)
    assert (result.non_2xx, result.socket_errors) == (3, 3)
    assert (result.sent, result.accepted, result.other, result.wrapped) == (25037, 25018, 3, 0)
