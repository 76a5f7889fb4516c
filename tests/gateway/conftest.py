"""The gateway client against a real billing server (uvicorn on a loopback port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from imaging_gateway import GatewayClient

from ..support.serving import LiveServer, seeded_database


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return seeded_database(tmp_path_factory.mktemp("seeded"))


@pytest.fixture
def live(tmp_path: Path, seeded: tuple[Path, dict[str, str]]) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path, seeded)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(live: LiveServer) -> GatewayClient:
    c = live.credentials
    return GatewayClient(live.base, c["institutionId"], c["institutionToken"], timeout=10)


def as_operator(live: LiveServer, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{live.base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {live.credentials['operatorToken']}"},
        timeout=30,
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def used_exams(live: LiveServer) -> int:
    query = "query($id: ID!) { account(id: $id) { examFigures { used arrears } } }"
    figures = as_operator(live, query, {"id": live.credentials["accountId"]})
    counted = figures["account"]["examFigures"]
    return int(counted["used"]) + int(counted["arrears"])
