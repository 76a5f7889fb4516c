"""Several instances over one PostgreSQL database: one sweep round at a time, and a
revoked institution token refused by every instance at once (NOTIFY), well within the
cache bound."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.services import auth
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.sweep import run_sweep
from imaging_billing.store.db import Database
from imaging_billing.store.locks import only_one

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import make_services
from ..support.serving import LiveServer
from . import cluster
from .cluster import UPLOAD, Operator, SharedClock, signed_post

REVOKE = """mutation($i: ID!) { revokeInstitutionToken(institutionId: $i) {
  revokedAt userErrors { code } } }"""


async def test_one_sweep_round_at_a_time(services: Services, clock: ManualClock) -> None:
    """R-EXAM-2: two instances sweeping at the same moment forfeit a lot once."""
    account_id = await create_account(services)
    await credit_lot(services, account_id, quantity=10_000)
    later = clock.now() + timedelta(days=400)
    other = Database(services.db.url)  # a second instance's pool
    try:
        async with only_one(services.db, "sweep") as mine:
            assert mine
            skipped = await run_sweep(other, later)
        if services.db.is_sqlite:
            # One file, one writer at a time already: never skipped.
            assert not skipped.skipped
        else:
            assert skipped.skipped
            assert skipped.lots_expired == 0
        reports = await asyncio.gather(run_sweep(services.db, later), run_sweep(other, later))
    finally:
        await other.dispose()
    assert sum(r.exams_forfeited for r in reports) == (0 if services.db.is_sqlite else 10_000)
    async with services.db.read() as conn:
        expiries = await conn.scalar(
            sa.text("SELECT count(*) FROM ledger_entry WHERE type = 'EXPIRY'")
        )
    assert expiries == 1


@pytest.mark.skipif(not cluster.POSTGRES_URL, reason="several instances need PostgreSQL")
async def test_revoked_token_is_refused_by_every_instance_within_a_second(
    tmp_path: Path,
) -> None:
    database = await cluster.new_postgres()
    servers: list[LiveServer] = []
    try:
        setup = make_services(database, ManualClock(datetime.now(UTC)))
        try:
            token = await create_operator_token(setup)
            account_pk = await create_account(setup)
            gateway = await create_institution(setup, account_pk)
        finally:
            await setup.db.dispose()
        env = {"WEBHOOK_INTERVAL_SECONDS": "0", "MAIL_INTERVAL_SECONDS": "0"}
        env["VAR_DIR"] = str(tmp_path / "var")
        servers = [
            LiveServer(tmp_path, None, url=database, port=cluster.port(), env=env) for _ in range(2)
        ]
        for server in servers:
            server.start()
        clock = SharedClock(tmp_path)
        first, second = (s.base for s in servers)
        sent = 0

        async def upload(http: httpx.AsyncClient, base: str) -> int:
            nonlocal sent
            sent += 1
            variables = {"inst": gateway.id, "uid": f"1.2.5.{sent}"}
            return (await signed_post(http, base, gateway, clock, UPLOAD, variables)).status_code

        async with httpx.AsyncClient() as http:
            # Both instances have the institution cached.
            assert await upload(http, first) == 200
            assert await upload(http, second) == 200
            institution = str(encode("Institution", gateway.institution_pk))
            revoked = await Operator(http, token)(first, REVOKE, i=institution)
            assert revoked["revokeInstitutionToken"]["userErrors"] == []
            at = time.monotonic()
            assert await upload(http, first) == 401  # the revoking instance: at once
            # The other instance still has the keys cached (for CACHE_SECONDS): only the
            # revocation's notification makes it refuse sooner.
            while await upload(http, second) == 200:
                assert time.monotonic() - at < 1.0 < auth.CACHE_SECONDS
                await asyncio.sleep(0.05)
            waited = time.monotonic() - at
            assert await upload(http, first) == 401
            assert await upload(http, second) == 401
        print(f"revocation reached the other instance after {waited:.2f} s")  # noqa: T201
    finally:
        for server in servers:
            server.stop()
        await cluster.drop_postgres(database)
