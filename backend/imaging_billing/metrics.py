"""Prometheus metrics: what the server counts as it runs, served at /metrics (app.py).

Counters and histograms are updated where things happen (a request, a group commit, a
webhook attempt); gauges that describe the database (accounts by status, the pool) are
computed when scraped. With PROMETHEUS_MULTIPROC_DIR set before start (several uvicorn
workers), prometheus-client keeps the values in files there and a scrape of any worker
sums them all (`render`); without it each process answers for itself.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

__all__ = ["CONTENT_TYPE_LATEST", "render"]

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter(
    "ib_requests",
    "HTTP requests by operation (GraphQL root field, or route) and outcome (ok or a code).",
    ["operation", "outcome"],
)
REQUEST_SECONDS = Histogram(
    "ib_request_seconds",
    "Time from request to the end of the answer, by operation.",
    ["operation"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GROUP_COMMIT_UPLOADS = Histogram(
    "ib_group_commit_uploads",
    "Uploads committed by one group-commit transaction.",
    buckets=(0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
)
GROUP_COMMIT_JOBS = Histogram(
    "ib_group_commit_jobs",
    "Requests (uploads and audit records) sharing one group-commit transaction.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
GROUP_COMMIT_SECONDS = Histogram(
    "ib_group_commit_seconds",
    "Time one group-commit transaction took, BEGIN to COMMIT.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
UPLOADS = Counter(
    "ib_uploads",
    "Exam uploads answered: ACCEPTED, DUPLICATE, or REFUSED (with the rule code).",
    ["outcome", "code"],
)
ANSWERS = Counter(
    "ib_answers",
    "Queries whose answers may be reused (api/answers.py): reused, or computed.",
    ["outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "ib_webhook_attempts",
    "Webhook delivery attempts by result: delivered, retry (will be tried again), failed.",
    ["outcome"],
)
ACCOUNTS = Gauge(
    "ib_accounts",
    "Accounts by status (R-ARR-1..3), counted when scraped.",
    ["status"],
    multiprocess_mode="mostrecent",
)
POOL = Gauge(
    "ib_db_pool_connections",
    "Database connection pool: size (kept open), max_overflow, checked_out, idle, overflow"
    " (open beyond size), opened (since start: a pool that churns shows it).",
    ["engine", "state"],
    multiprocess_mode="livesum",
)


def render() -> bytes:
    """The exposition text: this process's registry, or every worker's summed."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_exited(pid: int) -> None:
    """A worker stops: its live gauges no longer count (multiprocess mode only)."""
    if MULTIPROCESS:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
