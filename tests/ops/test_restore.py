"""A backup taken while gateways upload restores to a server whose figures and
reconciliation are those of one moment: every upload answered before the backup began
is in it, none sent after it ended, and the ledger in it is a prefix of the live one."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from imaging_billing.cli_tasks import BACKUP_STEP
from imaging_gateway import GatewayClient

from ..conftest import POSTGRES_URL
from ..support import SERVER_SECRET, PostgresTemplate
from ..support.serving import BACKEND, LiveServer, seed_demo, seeded_database

FIGURES = """query($id: ID!) {
  account(id: $id) { examFigures { available used arrears bought } }
  reconcileAccount(accountId: $id) { ok discrepancies { subject check } } }"""


class Uploads(threading.Thread):
    """A gateway reporting batches of new studies, noting when each batch was answered."""

    def __init__(self, client: GatewayClient) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.stop = threading.Event()
        self.answered: list[tuple[float, list[str]]] = []  # (monotonic time, study UIDs)

    def run(self) -> None:
        batch = 0
        while not self.stop.is_set():
            uids = [f"1.2.826.0.9.{batch}.{n}" for n in range(20)]
            results = self.client.record_uploads([(uid, None) for uid in uids])
            assert {r.status for r in results} == {"ACCEPTED"}
            self.answered.append((time.monotonic(), uids))
            batch += 1


def _operator(server: LiveServer) -> dict[str, Any]:
    answer = httpx.post(
        f"{server.base}/graphql",
        json={"query": FIGURES, "variables": {"id": server.credentials["accountId"]}},
        headers={"Authorization": f"Bearer {server.credentials['operatorToken']}"},
        timeout=30,
    ).json()
    assert "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def _ids(path: Path, table: str) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [row[0] for row in conn.execute(f"SELECT id FROM {table} ORDER BY id")]  # noqa: S608


def _study_uids(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT study_uid FROM exam")}


def test_a_backup_under_upload_load_restores_one_moment(tmp_path: Path) -> None:
    # Given a live server and a gateway uploading to it without pause
    seeded = seeded_database(tmp_path)
    (tmp_path / "live").mkdir()
    live = LiveServer(tmp_path / "live", seeded)
    live.start()
    credentials = live.credentials
    load = Uploads(
        GatewayClient(live.base, credentials["institutionId"], credentials["institutionToken"])
    )
    backup = tmp_path / "backup.sqlite3"
    try:
        load.start()
        while len(load.answered) < 5:
            time.sleep(0.05)
        # When the operator backs the database up with the CLI while uploads go on
        began = time.monotonic()
        env = {
            **os.environ,
            "PYTHONPATH": str(BACKEND),
            "DATABASE_URL": live.url,
            "SERVER_SECRET": SERVER_SECRET,
        }
        command = [sys.executable, "-m", "imaging_billing.cli", "backup", str(backup)]
        done = subprocess.run(command, env=env, capture_output=True, timeout=60, check=False)
        ended = time.monotonic()
        answered_during = len(load.answered)
        time.sleep(0.5)
        load.stop.set()
        load.join(timeout=30)
    finally:
        load.stop.set()
        live.stop()
    assert done.returncode == 0, done.stderr.decode()
    assert len(load.answered) > answered_during  # uploads went on after it too
    with sqlite3.connect(backup) as conn:  # copied in several steps, writers between them
        assert conn.execute("PRAGMA page_count").fetchone()[0] > 2 * BACKUP_STEP

    # Then the copy holds every upload answered before it began and none sent after it
    source = Path(live.url.removeprefix("sqlite+aiosqlite:///"))
    in_backup = _study_uids(backup)
    before = {uid for at, uids in load.answered if at < began for uid in uids}
    after = {uid for at, uids in load.answered[answered_during + 1 :] for uid in uids}
    assert before <= in_backup
    assert not in_backup & after
    # And its exams and ledger are the live database's up to one point: a moment
    for table in ("exam", "ledger_entry"):
        copied, everything = _ids(backup, table), _ids(source, table)
        assert copied == everything[: len(copied)]
        assert len(copied) < len(everything)
    assert ended > began

    # When a server is started on the restored copy
    (tmp_path / "restored").mkdir()
    restored = LiveServer(tmp_path / "restored", (backup, credentials))
    restored.start()
    try:
        data = _operator(restored)
    finally:
        restored.stop()
    # Then its figures are those of the copy's uploads, and they reconcile (R-GEN-7)
    figures = data["account"]["examFigures"]
    uploaded = len(_study_uids(backup))
    assert figures["used"] + figures["arrears"] == uploaded
    assert data["reconcileAccount"] == {"ok": True, "discrepancies": []}


@pytest.mark.skipif(
    not (POSTGRES_URL and shutil.which("pg_dump") and shutil.which("pg_restore")),
    reason="needs TEST_POSTGRES_URL and pg_dump / pg_restore",
)
def test_pg_dump_under_upload_load_restores_one_moment(tmp_path: Path) -> None:
    # Given a live server on PostgreSQL and a gateway uploading to it
    assert POSTGRES_URL
    template = PostgresTemplate(POSTGRES_URL)
    asyncio.run(template.setup())
    try:
        url = template._url(template.template)
        restored_url = asyncio.run(template.fresh())  # a copy of the empty migrated one
        asyncio.run(template.drop(restored_url))
        credentials = asyncio.run(seed_demo(url))
        live = LiveServer.on(url, tmp_path, credentials)
        live.start()
        load = Uploads(
            GatewayClient(live.base, credentials["institutionId"], credentials["institutionToken"])
        )
        dump = tmp_path / "billing.dump"
        libpq = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            load.start()
            while len(load.answered) < 5:
                time.sleep(0.05)
            # When it is dumped as the README says, while uploads go on
            began = time.monotonic()
            command = ["pg_dump", "--format=custom", f"--file={dump}", libpq]
            subprocess.run(command, check=True, capture_output=True, timeout=60)
            answered_during = len(load.answered)
            time.sleep(0.5)
            load.stop.set()
            load.join(timeout=30)
        finally:
            load.stop.set()
            live.stop()
        # And restored into a new database
        name = restored_url.rsplit("/", 1)[1]
        asyncio.run(template._admin(f'CREATE DATABASE "{name}"'))
        template.created.append(name)
        target = make_url(restored_url).set(drivername="postgresql").render_as_string(False)
        restore = ["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={target}", str(dump)]
        subprocess.run(restore, check=True, capture_output=True, timeout=60)
        restored = LiveServer.on(restored_url, tmp_path, credentials)
        restored.start()
        try:
            data = _operator(restored)
        finally:
            restored.stop()
        in_copy = asyncio.run(_pg_study_uids(restored_url))
    finally:
        asyncio.run(template.teardown())
    # Then the copy holds what was answered before the dump, not what was sent after it
    before = {uid for at, uids in load.answered if at < began for uid in uids}
    after = {uid for at, uids in load.answered[answered_during + 1 :] for uid in uids}
    assert before <= in_copy
    assert not in_copy & after
    # And the restored server's figures are the copy's, and reconcile (R-GEN-7)
    figures = data["account"]["examFigures"]
    assert figures["used"] + figures["arrears"] == len(in_copy)
    assert data["reconcileAccount"] == {"ok": True, "discrepancies": []}


async def _pg_study_uids(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return {row[0] for row in await conn.execute(text("SELECT study_uid FROM exam"))}
    finally:
        await engine.dispose()
