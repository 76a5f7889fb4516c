"""Operable (issue 14): probes, Prometheus metrics and their protection, request logs."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from imaging_billing.api.context import Services
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.logs import JsonFormatter
from imaging_billing.services.clock import ManualClock
from imaging_billing.store.migrate import upgrade

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import START, Api, make_services

UPLOAD = """mutation($i: ID!, $u: String!) { recordExamUpload(institutionId: $i,
  studyInstanceUid: $u) { status userErrors { code } } }"""
LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  userErrors { code } } }"""


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(sweep_interval_seconds=0, console_dir=tmp_path / "no-console", **overrides)  # type: ignore[arg-type]


def _client(app: object, address: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


async def test_healthz_needs_no_database_and_readyz_does(tmp_path: Path) -> None:
    # Given a server whose database does not answer (nothing listens on its port)
    services = make_services("postgresql+asyncpg://postgres@127.0.0.1:1/none", ManualClock(START))
    async with _client(create_app(_settings(tmp_path), services)) as client:
        # Then the process is alive, but not ready, and says nothing more
        assert (await client.get("/healthz")).status_code == 200
        ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.text == "database unreachable or not migrated"
    await services.db.dispose()


async def test_readyz_wants_the_schema_at_the_code_s_head(tmp_path: Path) -> None:
    # Given a database one migration behind the code
    url = f"sqlite+aiosqlite:///{tmp_path}/behind.sqlite3"
    await asyncio.to_thread(upgrade, url, "0009")
    services = make_services(url, ManualClock(START))
    async with _client(create_app(_settings(tmp_path), services)) as client:
        behind = await client.get("/readyz")
        # When it is migrated to head
        await asyncio.to_thread(upgrade, url)
        ready = await client.get("/readyz")
    assert behind.status_code == 503
    assert behind.text.startswith("schema at 0009, code expects ")
    assert (ready.status_code, ready.text) == (200, "ready")
    await services.db.dispose()


async def test_metrics_count_what_happens(services: Services, tmp_path: Path) -> None:
    # Given an account with a lot and a gateway, and the metrics before
    account = await create_account(services)
    await credit_lot(services, account)
    gateway = await create_institution(services, account)
    async with _client(create_app(_settings(tmp_path), services)) as client:
        api = Api(client, services.clock)  # type: ignore[arg-type]
        before = (await client.get("/metrics")).text
        # When the gateway uploads one study twice
        for _ in range(2):
            await api.gateway(gateway, UPLOAD, {"i": gateway.id, "u": "1.2.3.4"})
        after = (await client.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Then the uploads, their requests and the group commits are counted
    assert grew("ib_uploads_total", outcome="ACCEPTED", code="") == 1
    assert grew("ib_uploads_total", outcome="DUPLICATE", code="") == 1
    assert grew("ib_requests_total", operation="recordExamUpload", outcome="ok") == 2
    assert grew("ib_request_seconds_count", operation="recordExamUpload") == 2
    assert grew("ib_group_commit_seconds_count") >= 1
    assert grew("ib_group_commit_uploads_sum") == 2
    # And the scrape-time gauges describe the database
    assert value(after, "ib_accounts", status="ACTIVE") >= 1
    assert value(after, "ib_accounts", status="SUSPENDED") == 0
    engine = "write" if services.db.is_sqlite else "main"
    assert value(after, "ib_db_pool_connections", engine=engine, state="size") >= 1
    assert value(after, "ib_db_pool_connections", engine=engine, state="opened") >= 1


async def test_metrics_only_for_loopback_or_the_token(services: Services, tmp_path: Path) -> None:
    app = create_app(_settings(tmp_path), services)
    async with _client(app, "203.0.113.9") as remote:
        assert (await remote.get("/metrics")).status_code == 403
        assert (await remote.get("/healthz")).status_code == 200
    # A proxy on this host relaying an outsider is loopback to the server, but says so
    async with _client(app) as proxied:
        assert (await proxied.get("/metrics")).status_code == 200
        for relayed in ({"x-forwarded-for": "203.0.113.9"}, {"forwarded": "for=203.0.113.9"}):
            assert (await proxied.get("/metrics", headers=relayed)).status_code == 403
    # With METRICS_TOKEN set, only its bearer scrapes, from anywhere (loopback too)
    guarded = create_app(_settings(tmp_path, metrics_token="s3cret-metrics"), services)
    async with _client(guarded, "203.0.113.9") as remote, _client(guarded) as local:
        assert (await local.get("/metrics")).status_code == 403
        wrong = {"authorization": "Bearer s3cret-metricz"}
        assert (await remote.get("/metrics", headers=wrong)).status_code == 403
        right = {"authorization": "Bearer s3cret-metrics"}
        answer = await remote.get("/metrics", headers=right)
    assert answer.status_code == 200
    assert "ib_requests_total" in answer.text


@pytest.fixture
def json_log() -> Iterator[list[str]]:
    """Every line the server logs, formatted as the JSON handler writes it."""
    lines: list[str] = []
    formatter = JsonFormatter()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(formatter.format(record))

    handler = Keep(level=logging.DEBUG)
    root = logging.getLogger("imaging_billing")
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
async def served(services: Services, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(create_app(_settings(tmp_path), services)) as client:
        yield client


async def test_one_json_line_per_request_without_secrets(
    services: Services, served: httpx.AsyncClient, json_log: list[str]
) -> None:
    # Given an operator token, and a password sent to login
    token = await create_operator_token(services)
    password = "correct-horse-battery-staple-42"
    api = Api(served, services.clock)
    login = await api.raw(LOGIN, {"e": "nobody@example.org", "p": password})
    query = await api.raw("{ accounts(first: 1) { totalCount } }", authorization=f"Bearer {token}")
    # Then each request wrote one line, naming its id, principal, operation and outcome
    requests = [json.loads(line) for line in json_log if '"message": "request"' in line]
    assert [r["request_id"] for r in requests] == [
        login.headers["x-request-id"],
        query.headers["x-request-id"],
    ]
    first, second = requests
    assert (first["operation"], first["outcome"]) == ("login", "LOGIN_FAILED")
    assert first["principal"] == {"kind": "anonymous", "id": 0}
    assert (second["operation"], second["outcome"], second["status"]) == ("accounts", "ok", 200)
    assert second["principal"]["kind"] == "token"
    assert second["duration_ms"] > 0
    # And neither the password nor the token is anywhere in the log
    everything = "\n".join(json_log)
    assert password not in everything
    assert token not in everything
    assert token.split("_", 1)[1] not in everything


def test_the_formatter_blanks_tokens_whatever_logged_them() -> None:
    record = logging.LogRecord(
        "sqlalchemy", logging.ERROR, __file__, 1, "failed with %s", ("ibs_abcdefghijkl123",), None
    )
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed with [redacted]"
