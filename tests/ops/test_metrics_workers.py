"""Several uvicorn workers with PROMETHEUS_MULTIPROC_DIR: a scrape of any worker answers
what all of them counted, not its own share."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ..support import SERVER_SECRET, wait_until_ready
from ..support.serving import BACKEND, free_port, seeded_database, uvicorn_command


def _healthz_count(text: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ib_requests_total" and sample.labels == {
                "operation": "/healthz",
                "outcome": "ok",
            }:
                return sample.value
    return 0.0


def test_a_scrape_of_one_worker_sums_every_worker(tmp_path: Path) -> None:
    # Given two workers sharing an (empty) metrics directory
    database, _ = seeded_database(tmp_path)
    shared = tmp_path / "metrics"
    shared.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(BACKEND),
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "SERVER_SECRET": SERVER_SECRET,
        "SWEEP_INTERVAL_SECONDS": "0",
        "PROMETHEUS_MULTIPROC_DIR": str(shared),
    }
    command = uvicorn_command(port, "--workers", "2")
    log = tmp_path / "server.log"
    with log.open("ab") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, server, log, 30)
        # When 40 probes arrive on fresh connections (the workers take turns accepting;
        # waiting for the server asked /readyz, counted apart)
        for _ in range(40):
            assert httpx.get(f"{base}/healthz").status_code == 200
        scrapes = [httpx.get(f"{base}/metrics").text for _ in range(6)]
        pids = {path.name.split("_")[-1] for path in shared.iterdir()}
    finally:
        server.terminate()
        server.wait(timeout=20)
    # Then both workers counted, and every scrape answers the sum: all 40
    assert len(pids) >= 2, pids
    assert {_healthz_count(text) for text in scrapes} == {40.0}
