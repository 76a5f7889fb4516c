"""Tests that start a real server wait until it can answer queries (/readyz: the
database answers at the code's schema), not merely until the process answers (/healthz)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory

from imaging_billing.store.migrate import alembic_config, upgrade

from ..support import SERVER_SECRET, wait_until_ready
from ..support.serving import BACKEND, free_port, uvicorn_command

# Looks the person up and records the attempt: a query and a write.
LOGIN = 'mutation { login(email: "nobody@example.com", password: "not-the-password-1") {'
LOGIN += " userErrors { code } } }"


def test_a_server_a_migration_behind_is_not_ready_until_migrated(tmp_path: Path) -> None:
    # given a server on a database one migration behind the code
    url = f"sqlite+aiosqlite:///{tmp_path / 'behind.sqlite3'}"
    scripts = ScriptDirectory.from_config(alembic_config(url))
    head = scripts.get_current_head()
    assert head is not None
    behind = scripts.get_revision(head).down_revision
    assert isinstance(behind, str)
    upgrade(url, behind)
    port = free_port()
    base, log = f"http://127.0.0.1:{port}", tmp_path / "server.log"
    env = {**os.environ, "PYTHONPATH": str(BACKEND), "DATABASE_URL": url, "DEMO_DATA": "0"}
    env |= {"SERVER_SECRET": SERVER_SECRET, "SWEEP_INTERVAL_SECONDS": "0"}
    with log.open("ab") as out:
        process = subprocess.Popen(
            uvicorn_command(port), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        # when the process answers /healthz
        _until_alive(base)
        # then waiting for it still gives up, naming the schema behind
        with pytest.raises(RuntimeError, match=f"not ready .*503 schema at {behind}"):
            wait_until_ready(base, process, log, 2)
        # when the database is migrated, waiting returns and a query is answered
        upgrade(url)
        wait_until_ready(base, process, log, 30)
        answer = httpx.post(f"{base}/graphql", json={"query": LOGIN}).json()
        assert answer["data"]["login"]["userErrors"][0]["code"] == "LOGIN_FAILED"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _until_alive(base: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.2)
