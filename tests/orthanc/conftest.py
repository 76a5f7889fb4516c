"""A real billing server and real Orthancs with the billing plugin, shared by the module:
one PACS for the demo institution, one for an institution whose account is suspended."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest

from imaging_gateway import GatewayClient

from ..gateway.test_suspension import _in_arrears_since
from ..support.pacs import Orthanc
from ..support.serving import LiveServer, seeded_database

T = TypeVar("T")

# Fast enough for a test: a short back-off, permission asked every second.
BILLING = {
    "RetryBaseSeconds": 0.5,
    "RetryCapSeconds": 2,
    "PermissionCacheSeconds": 1,
    "ViewingGuard": True,
    "ViewingCacheSeconds": 1,
    "ReconcileDaily": False,
}


def eventually(probe: Callable[[], T | None], seconds: float = 30, what: str = "") -> T:
    """Poll a real process's state until it holds (the processes run on the wall clock)."""
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds} s: {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def billing(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("billing")
    server = LiveServer(folder, seeded_database(folder))
    since = datetime.now(UTC) - timedelta(hours=25)
    suspended = asyncio.run(_in_arrears_since(server.url, since))
    server.start()
    yield server, suspended
    server.stop()


@pytest.fixture(scope="module")
def live(billing: tuple[LiveServer, dict[str, str]]) -> LiveServer:
    return billing[0]


@pytest.fixture(scope="module")
def pacs(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    c = live.credentials
    orthanc = Orthanc(
        tmp_path_factory.mktemp("pacs"),
        api_url=live.base,
        institution_id=c["institutionId"],
        token=c["institutionToken"],
        billing=BILLING,
    )
    orthanc.start()
    yield orthanc
    orthanc.stop()


@pytest.fixture(scope="module")
def suspended_pacs(
    billing: tuple[LiveServer, dict[str, str]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Orthanc, dict[str, str]]]:
    live, ids = billing
    orthanc = Orthanc(
        tmp_path_factory.mktemp("suspended-pacs"),
        api_url=live.base,
        institution_id=ids["institutionId"],
        token=ids["token"],
        billing=BILLING,
    )
    orthanc.start()
    yield orthanc, ids
    orthanc.stop()


@pytest.fixture(scope="module")
def ledger(live: LiveServer) -> GatewayClient:
    """The demo institution's own view of the ledger (`exam`)."""
    c = live.credentials
    return GatewayClient(live.base, c["institutionId"], c["institutionToken"], timeout=10)


@pytest.fixture
def studies(tmp_path: Path) -> Path:
    return tmp_path / "dicom"
