"""Test helpers: databases from a migrated template, factories and GraphQL clients."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from imaging_billing import security
from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.services.auth import Authenticator
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.group_commit import GroupCommit
from imaging_billing.store.db import Database
from imaging_billing.store.migrate import upgrade

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
# The tests' server secret (SERVER_SECRET): seals institution keys in every test database.
SERVER_SECRET = "test-server-secret-0123456789"


async def postgres_admin(admin_url: str, *statements: str) -> None:
    """Run statements on the server's admin database outside a transaction (CREATE and
    DROP DATABASE cannot run inside one)."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


class SqliteTemplate:
    """Migrate once; every test gets a copy of the file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.template = root / "template.sqlite3"
        upgrade(f"sqlite+aiosqlite:///{self.template}")

    def fresh(self) -> str:
        target = self.root / f"{uuid.uuid4().hex}.sqlite3"
        shutil.copy(self.template, target)
        return f"sqlite+aiosqlite:///{target}"


class PostgresTemplate:
    """Migrate a template database once; every test clones it (CREATE DATABASE … TEMPLATE)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        # TEST_DB_PREFIX: parallel runs on one server keep to names of their own.
        self.prefix = f"{os.environ.get('TEST_DB_PREFIX', 'ib_test')}_{uuid.uuid4().hex[:8]}"
        self.template = f"{self.prefix}_tmpl"
        self.created: list[str] = []

    def _url(self, name: str) -> str:
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    async def _admin(self, *statements: str) -> None:
        await postgres_admin(self.admin_url, *statements)

    async def setup(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.template}"')
        self.created.append(self.template)
        import asyncio

        await asyncio.to_thread(upgrade, self._url(self.template))

    async def fresh(self) -> str:
        name = f"{self.prefix}_{uuid.uuid4().hex[:8]}"
        await self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        self.created.append(name)
        return self._url(name)

    async def drop(self, name_or_url: str) -> None:
        name = name_or_url.rsplit("/", 1)[-1]
        await self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    async def teardown(self) -> None:
        for name in list(reversed(self.created)):
            await self.drop(name)


class Databases(Protocol):
    """Where a Hypothesis state machine gets a fresh database per example."""

    def fresh(self, loop: asyncio.AbstractEventLoop) -> str: ...

    def drop(self, loop: asyncio.AbstractEventLoop, url: str) -> None: ...


class SqliteDatabases:
    """A copy of the migrated template per example, deleted when the example ends."""

    def __init__(self, root: Path) -> None:
        self.template = SqliteTemplate(root)

    def fresh(self, loop: asyncio.AbstractEventLoop) -> str:
        return self.template.fresh()

    def drop(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        path = url.removeprefix("sqlite+aiosqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


class PostgresDatabases:
    """A clone of the migrated template database per example, dropped when it ends."""

    def __init__(self, template: PostgresTemplate) -> None:
        self.template = template

    def fresh(self, loop: asyncio.AbstractEventLoop) -> str:
        return loop.run_until_complete(self.template.fresh())

    def drop(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        loop.run_until_complete(self.template.drop(url))


def make_services(url: str, clock: ManualClock, secret: str = SERVER_SECRET) -> Services:
    db = Database(url)
    keys = security.KeyBox(secret)
    return Services(
        db=db,
        clock=clock,
        group_commit=GroupCommit(db, clock),
        auth=Authenticator(db, 300, keys, clock),
        keys=keys,
    )


@dataclass
class Gateway:
    """An institution's credentials, as a gateway holds them."""

    institution_pk: int
    token: str

    @property
    def id(self) -> str:
        return str(encode("Institution", self.institution_pk))

    def headers(
        self, body: bytes, now: datetime, *, method: str = "POST", query: str = ""
    ) -> dict[str, str]:
        """Signed for `method /graphql?query` (query: the raw query string as sent)."""
        ts = str(int(now.timestamp() * 1000))
        signed = security.SignedRequest.of(self.id, ts, body, method=method, query=query)
        return {
            "x-institution-id": self.id,
            "x-timestamp": ts,
            "x-signature": security.sign_with_token(self.token, signed),
            "content-type": "application/json",
        }


class Api:
    """Posts GraphQL as an operator (bearer) or as a gateway (signed)."""

    def __init__(self, client: httpx.AsyncClient, clock: ManualClock) -> None:
        self.client = client
        self.clock = clock

    async def raw(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        hdrs = {"content-type": "application/json", **headers}
        return await self.client.post("/graphql", content=body, headers=hdrs)

    async def operator(
        self, token: str, query: str, variables: dict[str, Any] | None = None, lang: str = "en"
    ) -> dict[str, Any]:
        response = await self.raw(
            query, variables, authorization=f"Bearer {token}", **{"accept-language": lang}
        )
        return _data(response)

    async def gateway(
        self, gateway: Gateway, query: str, variables: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = gateway.headers(body, self.clock.now())
        response = await self.client.post("/graphql", content=body, headers=headers)
        return _data(response)


def _data(response: httpx.Response) -> dict[str, Any]:
    payload = response.json()
    assert response.status_code == 200, payload
    assert "errors" not in payload, payload["errors"]
    data: dict[str, Any] = payload["data"]
    return data


def wait_until_ready(
    base: str, process: subprocess.Popen[bytes], log: Path, seconds: float
) -> None:
    """Poll /readyz of a server started in a subprocess until its database answers at the
    code's schema (/healthz answers before: it touches no database); its log and the last
    answer in the error if it died or is not ready in time."""
    deadline = time.monotonic() + seconds
    last = "no answer"
    while True:
        try:
            answer = httpx.get(f"{base}/readyz", timeout=1)
            if answer.status_code == 200:
                return
            last = f"{answer.status_code} {answer.text}"
        except httpx.TransportError as error:
            last = type(error).__name__
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}):\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"server not ready in {seconds} s ({last}):\n{log.read_text()}")
        time.sleep(0.2)
