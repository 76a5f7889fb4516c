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

from . import SERVER_SECRET, wait_until_healthy

BACKEND = Path(__file__).resolve().parents[2] / "backend"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seed(url: str) -> dict[str, str]:
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
    return path, asyncio.run(_seed(url))


class LiveServer:
    """`credentials` are the demo's (operatorToken, institutionId, institutionToken, …)."""

    def __init__(
        self,
        folder: Path,
        seeded: tuple[Path, dict[str, str]] | None,
        *,
        database_url: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        """Over a copy of `seeded`, or over `database_url` (migrated, shared with other
        servers) when given; `env` adds to the server's environment."""
        self.credentials: dict[str, str] = {}
        if seeded is not None:
            template, self.credentials = seeded
            database = folder / "billing.sqlite3"
            for suffix in ("", "-wal", "-shm"):
                source = template.with_name(template.name + suffix)
                if source.exists():
                    shutil.copyfile(source, database.with_name(database.name + suffix))
            database_url = database_url or f"sqlite+aiosqlite:///{database}"
        assert database_url is not None
        self.folder = folder
        self.url = database_url
        self.extra_env = env or {}
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = folder / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @classmethod
    def on(cls, url: str, folder: Path, credentials: dict[str, str]) -> LiveServer:
        """A server on a database that is already there (PostgreSQL, a restored copy)."""
        server = cls.__new__(cls)
        server.credentials, server.folder, server.url = credentials, folder, url
        server.port = free_port()
        server.base = f"http://127.0.0.1:{server.port}"
        server.log = folder / f"server-{server.port}.log"
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
        command = [sys.executable, "-m", "uvicorn", "--factory", "imaging_billing.app:create_app"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_until_healthy(self.base, self.process, self.log, 30)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no finishing the round in hand."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None
