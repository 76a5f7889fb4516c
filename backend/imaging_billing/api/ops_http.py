"""Probes and metrics for whoever runs the server; unauthenticated probes carry no data.

/healthz: the process answers (no database: a slow database must not get a live
process restarted). /readyz: the database answers and its schema is at the code's
migration head (503 otherwise: take the instance out of the balancer, keep it running).
/metrics: Prometheus text, for loopback clients only (not relayed by a proxy), or with
METRICS_TOKEN set, for a bearer of that token (compared in constant time) from anywhere.
"""

from __future__ import annotations

import hmac
import os

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .. import metrics
from ..config import is_loopback
from ..services import operations
from .context import Services

FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")


def ops_routes(services: Services, metrics_token: str | None) -> list[Route]:
    async def healthz(_: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> Response:
        ready = await operations.readiness(services.db)
        return PlainTextResponse(ready.reason, status_code=200 if ready.ready else 503)

    async def scrape(request: Request) -> Response:
        if not _may_scrape(request, metrics_token):
            return PlainTextResponse("forbidden", status_code=403)
        await _measure(services)
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", scrape),
    ]


def _may_scrape(request: Request, token: str | None) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), token.encode()
        )
    # A loopback peer that carries forwarding headers is a reverse proxy on this host
    # relaying someone else (whose address uvicorn did not take, as FORWARDED_ALLOW_IPS
    # is not set): that someone is not a local scraper.
    if any(h in request.headers for h in FORWARDING_HEADERS):
        return False
    client = request.client
    return client is not None and is_loopback(client.host)


async def _measure(services: Services) -> None:
    """The gauges read at scrape time: accounts by status, connection pools."""
    counts = await operations.accounts_by_status(services.db, services.clock.now())
    for status, count in counts.items():
        metrics.ACCOUNTS.labels(status).set(count)
    for engine, state in operations.pools(services.db).items():
        for name, value in state.items():
            metrics.POOL.labels(engine, name).set(value)


def exiting() -> None:
    metrics.process_exited(os.getpid())
