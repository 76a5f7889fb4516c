"""PostgreSQL connections under load: the pool keeps its connections instead of opening
new sessions in bursts. Every few seconds the institution cache went stale for all
concurrent uploads at once; each opened its own read, overflowing the pool, and the
overflow was closed again on return: ~73 new sessions per 20 s for one process. The
look-up is now single-flight (services/auth.py) and the pool sized by settings."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from imaging_billing import security
from imaging_billing.api.context import Services
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.services import auth
from imaging_billing.services.auth import Authenticator
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.group_commit import GroupCommit
from imaging_billing.store.db import Database

from ..factories import create_account, create_institution, credit_lot
from ..support import SERVER_SECRET, Gateway

POOL, OVERFLOW = 4, 2
CLIENTS, EACH = 64, 12
UPLOAD = """mutation($inst: ID!, $uid: String!) {
  recordExamUpload(institutionId: $inst, studyInstanceUid: $uid) { status }
}"""


@pytest.fixture
async def pg_services(database_url: str, clock: ManualClock) -> AsyncIterator[Services]:
    if not database_url.startswith("postgresql"):
        pytest.skip("connection pooling is PostgreSQL's")
    db = Database(database_url, pool_size=POOL, max_overflow=OVERFLOW)
    keys = security.KeyBox(SERVER_SECRET)
    built = Services(
        db=db,
        clock=clock,
        group_commit=GroupCommit(db, clock),
        auth=Authenticator(db, 300, keys, clock),
        keys=keys,
    )
    yield built
    await built.group_commit.close()
    await db.dispose()


async def _sessions(db: Database) -> int:
    """Sessions open on the test's database, as the server counts them."""
    engine = Database(db.url, pool=False)
    try:
        async with engine.write() as conn:
            return int(
                await conn.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
                or 0
            )
    finally:
        await engine.dispose()


async def test_uploads_stay_within_the_pool(
    pg_services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = pg_services
    # The cache goes stale many times during the load, as it does every 5 s in service.
    monkeypatch.setattr(auth, "CACHE_SECONDS", 0.02)
    account_id = await create_account(services)
    gateway: Gateway = await create_institution(services, account_id)
    await credit_lot(services, account_id, quantity=10_000)
    settings = Settings(sweep_interval_seconds=0, console_dir=tmp_path / "none")
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app)
    statuses: list[str] = []
    peak = 0

    async def client(c: int) -> None:
        nonlocal peak
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            for n in range(EACH):
                variables = {"inst": gateway.id, "uid": f"1.2.{c}.{n % (EACH - 2)}"}
                body = json.dumps({"query": UPLOAD, "variables": variables}).encode()
                headers = gateway.headers(body, services.clock.now())
                answer = await http.post("/graphql", content=body, headers=headers)
                statuses.append(answer.json()["data"]["recordExamUpload"]["status"])
                peak = max(peak, services.db.pools()["main"].checked_out)

    await asyncio.gather(*(client(c) for c in range(CLIENTS)))
    stats = services.db.pools()["main"]
    assert len(statuses) == CLIENTS * EACH
    assert statuses.count("ACCEPTED") == CLIENTS * (EACH - 2)
    assert statuses.count("DUPLICATE") == CLIENTS * 2
    assert (stats.size, stats.max_overflow) == (POOL, OVERFLOW)
    # Every session this process opened, over the whole load: no churn past the pool.
    assert stats.opened <= POOL + OVERFLOW, stats
    assert peak <= POOL + OVERFLOW
    assert await _sessions(services.db) <= POOL + OVERFLOW
