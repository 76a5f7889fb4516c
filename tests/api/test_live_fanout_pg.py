"""Two server processes on one PostgreSQL database: an upload recorded by one reaches a
subscriber of the other (LISTEN/NOTIFY, store/notify.py), and so does a sweep run from
the CLI in a process of its own. Needs TEST_POSTGRES_URL."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect

from imaging_billing.api.ids import decode
from imaging_billing.store.migrate import upgrade

from ..support import SERVER_SECRET, postgres_admin, wait_until_ready
from ..support.serving import BACKEND, free_port, seed_demo, uvicorn_command
from .test_live_updates import FOLLOW, PROTOCOL, receive

ADMIN_URL = os.environ.get("TEST_POSTGRES_URL")
pytestmark = pytest.mark.skipif(not ADMIN_URL, reason="TEST_POSTGRES_URL is not set")


@pytest.fixture(scope="module")
def shared_database() -> Iterator[tuple[str, dict[str, str]]]:
    """A migrated PostgreSQL database of this module's own, with the demo data."""
    assert ADMIN_URL is not None
    name = f"live_{uuid.uuid4().hex[:10]}"
    asyncio.run(postgres_admin(ADMIN_URL, f'CREATE DATABASE "{name}"'))
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        upgrade(url)
        yield url, asyncio.run(seed_demo(url))
    finally:
        asyncio.run(postgres_admin(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def two_servers(
    shared_database: tuple[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[str]]:
    url, _ = shared_database
    folder = tmp_path_factory.mktemp("fanout")
    processes: list[subprocess.Popen[bytes]] = []
    bases: list[str] = []
    try:
        for n in range(2):
            port = free_port()
            log = folder / f"server{n}.log"
            env = {
                **os.environ,
                "PYTHONPATH": str(BACKEND),
                "DATABASE_URL": url,
                "DEMO_DATA": "0",
                "SERVER_SECRET": SERVER_SECRET,
                "SWEEP_INTERVAL_SECONDS": "0",
            }
            with log.open("wb") as out:
                process = subprocess.Popen(
                    uvicorn_command(port), env=env, stdout=out, stderr=subprocess.STDOUT
                )
            processes.append(process)
            base = f"http://127.0.0.1:{port}"
            wait_until_ready(base, process, log, 30)
            bases.append(base)
        yield bases
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def _upload(base: str, credentials: dict[str, str], count: int) -> None:
    from imaging_gateway import GatewayClient

    gateway = GatewayClient(
        base, credentials["institutionId"], credentials["institutionToken"], timeout=10
    )
    uids = [f"1.2.826.0.9.{uuid.uuid4().int % 10**12}.{i}" for i in range(count)]
    assert len(gateway.record_uploads([(uid, None) for uid in uids])) == count


async def test_an_upload_on_one_instance_reaches_a_follower_of_the_other(
    shared_database: tuple[str, dict[str, str]], two_servers: list[str]
) -> None:
    _, credentials = shared_database
    follower, uploader = two_servers
    # Given an operator following the account on the first instance
    async with following(follower, credentials) as (ws, first):
        before = first["examFigures"]
        # When a gateway's uploads are recorded by the second instance
        await asyncio.to_thread(_upload, uploader, credentials, 2)
        # Then the first instance pushes the new figures
        pushed = await receive(ws)
        after = pushed["payload"]["data"]["accountChanged"]["examFigures"]
        assert after["used"] + after["arrears"] == before["used"] + before["arrears"] + 2


@asynccontextmanager
async def following(
    base: str, credentials: dict[str, str]
) -> AsyncIterator[tuple[ClientConnection, dict[str, Any]]]:
    """An operator's socket following the demo account on `base`, and what it was shown
    first."""
    async with connect(
        base.replace("http://", "ws://") + "/graphql",
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {credentials['operatorToken']}"},
    ) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await receive(ws))["type"] == "connection_ack"
        subscribe = {"query": FOLLOW, "variables": {"id": credentials["accountId"]}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        first = await receive(ws)
        yield ws, first["payload"]["data"]["accountChanged"]


async def _expire_a_lot(url: str, account_pk: int) -> None:
    """One of the account's lots with exams left expires a minute ago, unswept."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            expired = await conn.execute(
                text(
                    "UPDATE exam_lot SET expires_at = now() - interval '1 minute' WHERE id = ("
                    " SELECT min(id) FROM exam_lot WHERE account_id = :account"
                    " AND swept_at IS NULL AND quantity > used + forfeited)"
                ),
                {"account": account_pk},
            )
            assert expired.rowcount == 1
    finally:
        await engine.dispose()


async def test_a_sweep_run_from_the_cli_reaches_a_follower(
    shared_database: tuple[str, dict[str, str]], two_servers: list[str], tmp_path: Path
) -> None:
    url, credentials = shared_database
    account_pk = decode(credentials["accountId"], "Account", missing="-", field="-")
    await _expire_a_lot(url, account_pk)
    # Given an operator following the account on a server
    async with following(two_servers[0], credentials) as (ws, first):
        before = first["newestNotice"]
        # When the sweep runs from the CLI, in a process of its own
        env = {
            **os.environ,
            "PYTHONPATH": str(BACKEND),
            "DATABASE_URL": url,
            "SERVER_SECRET": SERVER_SECRET,
            "VAR_DIR": str(tmp_path / "var"),
        }
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "imaging_billing.cli", "sweep"),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output = (await asyncio.wait_for(cli.communicate(), 60))[0].decode()
        assert cli.returncode == 0, output
        assert "lots_expired=1" in output, output
        # Then the server pushes the lot's forfeit, told in a notice (R-EXAM-2)
        pushed = (await receive(ws, 5))["payload"]["data"]["accountChanged"]["newestNotice"]
        assert pushed["id"] != (before or {}).get("id")
