"""Live server processes over one database, and the clients the resilience tests drive
them with: operator GraphQL, signed single uploads, the clock the servers share."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from imaging_billing.services.clock import OffsetClock
from imaging_billing.store.migrate import upgrade

from ..support import Gateway, postgres_admin

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
# Names of the databases these tests make (and drop): a prefix per run of engineers/CI.
DB_PREFIX = os.environ.get("TEST_DB_PREFIX", "ib_test")
# Ports for the live servers: a range of their own when given (PORTS=18500-18599).
PORTS = os.environ.get("TEST_PORTS", "")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])

UPLOAD = """mutation($inst: ID!, $uid: String!) {
  recordExamUpload(institutionId: $inst, studyInstanceUid: $uid) {
    status exam { id } userErrors { code } } }"""
RECONCILE = """query($acc: ID!) { reconcileAccount(accountId: $acc) {
  ok discrepancies { subject check expected actual } } }"""


def port() -> int:
    """A free loopback port, from TEST_PORTS when set."""
    if PORTS:
        low, high = (int(p) for p in PORTS.split("-"))
        for candidate in range(low, high + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", candidate))
                except OSError:
                    continue
                if candidate not in _taken:
                    _taken.add(candidate)
                    return candidate
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_taken: set[int] = set()


async def new_postgres() -> str:
    """A migrated database of its own (drop it with `drop_postgres`)."""
    assert POSTGRES_URL
    name = f"{DB_PREFIX}_res_{uuid.uuid4().hex[:8]}"
    await postgres_admin(POSTGRES_URL, f'CREATE DATABASE "{name}"')
    url = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
    await asyncio.to_thread(upgrade, url)
    return url


async def drop_postgres(url: str) -> None:
    assert POSTGRES_URL
    await postgres_admin(
        POSTGRES_URL, f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'
    )


async def new_sqlite(folder: Path) -> str:
    url = f"sqlite+aiosqlite:///{folder / 'billing.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    return url


@pytest.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of a migrated database of the test's own for its servers to share: a SQLite
    file in `tmp_path`, and a PostgreSQL database too when TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield await new_sqlite(tmp_path)
        return
    url = await new_postgres()
    yield url
    await drop_postgres(url)


class SharedClock:
    """The servers' clock (CLOCK_OFFSET_FILE) as the test moves it, and as clients sign."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "clock-offset"
        self.path.write_text("0")
        self._clock = OffsetClock(self.path, every=0)

    def now(self) -> datetime:
        return self._clock.now()

    def jump(self, delta: timedelta) -> None:
        """Every server reads the new offset within 50 ms (written whole: rename)."""
        current = float(self.path.read_text())
        staging = self.path.with_suffix(".new")
        staging.write_text(str(current + delta.total_seconds()))
        staging.replace(self.path)


@dataclass
class Operator:
    http: httpx.AsyncClient
    token: str

    async def __call__(self, base: str, query: str, **variables: Any) -> dict[str, Any]:
        answer = await self.http.post(
            f"{base}/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {self.token}"},
            timeout=300,
        )
        body: dict[str, Any] = answer.json()
        assert answer.status_code == 200, body
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


async def signed_post(
    http: httpx.AsyncClient,
    base: str,
    gateway: Gateway,
    clock: SharedClock,
    query: str,
    variables: dict[str, Any],
) -> httpx.Response:
    body = json.dumps({"query": query, "variables": variables}).encode()
    return await http.post(
        f"{base}/graphql", content=body, headers=gateway.headers(body, clock.now()), timeout=300
    )


def utc(text_value: str) -> datetime:
    return datetime.fromisoformat(text_value).astimezone(UTC)
