"""Query cost budgets on PostgreSQL are the database's: every instance charges the same
bucket, so N instances do not give a caller N budgets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imaging_billing.api.context import Services
from imaging_billing.services.budgets import SharedBuckets

from ..conftest import POSTGRES_URL
from ..support import SERVER_SECRET, PostgresTemplate, wait_until_ready
from ..support.serving import BACKEND, free_port, seed_demo, uvicorn_command

needs_postgres = pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL not set")


async def test_one_statement_charges_and_refuses(services: Services) -> None:
    if services.db.is_sqlite:
        pytest.skip("the shared buckets are PostgreSQL's")
    buckets = SharedBuckets(services.db)
    # Given a bucket of 100 points that does not refill
    assert await buckets.charge("user:1", 60, 100, 0) == (True, 40)
    # Then a charge it cannot pay is refused and takes nothing
    assert await buckets.charge("user:1", 60, 100, 0) == (False, 40)
    assert await buckets.charge("user:1", 40, 100, 0) == (True, 0)
    # And another payer has a bucket of its own
    assert await buckets.charge("user:2", 100, 100, 0) == (True, 0)


async def test_parallel_charges_never_overdraw(services: Services) -> None:
    if services.db.is_sqlite:
        pytest.skip("the shared buckets are PostgreSQL's")
    buckets = SharedBuckets(services.db)
    # When 30 charges of 10 race for a bucket of 100
    paid = await asyncio.gather(*(buckets.charge("token:7", 10, 100, 0) for _ in range(30)))
    # Then exactly ten are paid
    assert sum(ok for ok, _ in paid) == 10
    assert min(left for _, left in paid) == 0


@pytest.fixture
def shared_database(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    assert POSTGRES_URL
    template = PostgresTemplate(POSTGRES_URL)
    asyncio.run(template.setup())
    url = template._url(template.template)
    try:
        yield url, asyncio.run(seed_demo(url))
    finally:
        asyncio.run(template.teardown())


def _serve(url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(BACKEND),
        "DATABASE_URL": url,
        "SERVER_SECRET": SERVER_SECRET,
        "SWEEP_INTERVAL_SECONDS": "0",
        # Buckets of 10 points refilled at 1 a second: one request of 9 empties one.
        "QUERY_BUDGET_SCALE": "0.001",
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            uvicorn_command(port), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"
    wait_until_ready(base, process, log, 30)
    return process, base


@needs_postgres
def test_two_instances_share_one_budget(
    shared_database: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, credentials = shared_database
    body = json.dumps({"query": "{ accounts(first: 8) { totalCount } }"})  # costs 9
    headers = {
        "authorization": f"Bearer {credentials['operatorToken']}",
        "content-type": "application/json",
    }
    servers = [_serve(url, tmp_path / f"server-{n}.log") for n in (1, 2)]
    try:
        (_, first), (_, second) = servers
        # When the operator spends the budget on the first instance
        spent = httpx.post(f"{first}/graphql", content=body, headers=headers).json()
        # Then the second instance refuses the same request: the bucket is one
        refused = httpx.post(f"{second}/graphql", content=body, headers=headers).json()
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(timeout=10)
    assert "errors" not in spent, spent
    assert spent["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] <= 2
    assert refused["errors"][0]["extensions"]["code"] == "THROTTLED"
