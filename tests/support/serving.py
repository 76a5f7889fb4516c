"""A real billing server in a subprocess on a loopback port, over a SQLite file seeded
with the demo data, that a test can stop and start again (same port, same database)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from . import SERVER_SECRET, wait_until_ready

BACKEND = Path(__file__).resolve().parents[2] / "backend"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uvicorn_command(port: int, *more: str) -> list[str]:
    """The billing server under uvicorn on a loopback port, as `cli serve` and the README's
    production command start it (WebSocket frames bounded like HTTP bodies); `more`:
    further uvicorn options (e.g. --workers)."""
    from imaging_billing.api.http import MAX_BODY

    command = [sys.executable, "-m", "uvicorn", "--factory", "imaging_billing.app:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--ws-max-size", str(MAX_BODY)]
    log_level = os.environ.get("TEST_SERVER_LOG_LEVEL", "warning")
    return [*command, "--log-level", log_level, *more]


async def seed_demo(url: str) -> dict[str, str]:
    """Loads the demo data (imaging_billing.demo) into the migrated database at `url`, as of
    now and sealed with the tests' SERVER_SECRET; returns the demo's credentials."""
    from imaging_billing import demo
    from imaging_billing.security import KeyBox
    from imaging_billing.store.db import Database

    db = Database(url)
    try:
        return await demo.load(db, datetime.now(UTC), KeyBox(SERVER_SECRET))
    finally:
        await db.dispose()


def seeded_database(folder: Path) -> tuple[Path, dict[str, str]]:
    """A migrated SQLite file with the demo data, and the demo's credentials: made once,
    copied for each server (migrating and seeding takes seconds, a copy nothing)."""
    from imaging_billing.store.migrate import upgrade

    path = folder / "seeded.sqlite3"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return path, asyncio.run(seed_demo(url))


class LiveServer:
    """`credentials` are the demo's (operatorToken, institutionId, institutionToken, …)."""

    def __init__(
        self,
        folder: Path,
        seeded: tuple[Path, dict[str, str]] | None,
        *,
        url: str | None = None,
        database_url: str | None = None,
        port: int | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """`url` (or `database_url`): serve this database (PostgreSQL, or a shared file)
        instead of a copy of `seeded`; `env`: more settings (e.g. CLOCK_OFFSET_FILE)."""
        self.credentials: dict[str, str] = {}
        if seeded is not None:
            template, self.credentials = seeded
        url = url or database_url
        if url is None:
            assert seeded is not None
            database = folder / "billing.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                source = template.with_name(template.name + suffix)
                if source.exists():
                    shutil.copyfile(source, database.with_name(database.name + suffix))
            url = f"sqlite+aiosqlite:///{database}"
        self.folder = folder
        self.url = url
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"server-{self.port}.log"
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def on(cls, url: str, folder: Path, credentials: dict[str, str]) -> LiveServer:
        """A server on a database that is already there (PostgreSQL, a restored copy)."""
        server = cls.__new__(cls)
        server.credentials, server.folder, server.url = credentials, folder, url
        server.port = free_port()
        server.base = f"http://127.0.0.1:{server.port}"
        server.log = folder / f"server-{server.port}.log"
        server.extra_env = {}
        server.process = None
        return server

    def start(self) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(BACKEND),
            "DATABASE_URL": self.url,
            "DEMO_DATA": "0",
            "SERVER_SECRET": SERVER_SECRET,
            "SWEEP_INTERVAL_SECONDS": "0",
            **self.extra_env,
        }
        command = uvicorn_command(self.port)
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_until_ready(self.base, self.process, self.log, 30)

    def kill(self) -> None:
        """SIGKILL: no shutdown at all, as a crash or the OOM killer leaves it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
