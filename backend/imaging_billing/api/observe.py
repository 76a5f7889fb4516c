"""One log line and the request metrics for every HTTP request.

The endpoint that knows more fills in the request's `Trace` (the GraphQL endpoint: the
principal, the operation's root field, the outcome's code); this middleware times the
request, reads the status and `X-Request-Id` off the answer, and writes the line. What is
logged is named here field by field: never a header, a body, variables or a query string,
so a password or token sent in a request cannot reach the log.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import metrics
from ..services.principals import Principal

log = logging.getLogger("imaging_billing.request")
# Routes named as themselves; anything else (console pages and assets) as "console".
ROUTES = frozenset(
    {"/graphql", "/healthz", "/readyz", "/metrics", "/payments/callback", "/exports/ledger.csv"}
)


@dataclass
class Trace:
    operation: str | None = None
    outcome: str | None = None
    principal: Principal | None = None


def trace_of(scope: Scope) -> Trace:
    """The request's trace (a detached one when no middleware made it: tests, mounts)."""
    state = scope.get("state")
    found = state.get("trace") if isinstance(state, dict) else None
    return found if isinstance(found, Trace) else Trace()


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        trace = Trace()
        scope.setdefault("state", {})["trace"] = trace
        started = time.perf_counter()
        answer: dict[str, object] = {"status": 500, "request_id": None}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                for name, value in message.get("headers", ()):
                    if name == b"x-request-id":
                        answer["request_id"] = value.decode("latin-1")
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _record(scope, trace, answer, time.perf_counter() - started)


# Label children looked up once: `labels()` costs more than the increment itself.
_counted: dict[tuple[str, str], Counter] = {}
_timed: dict[str, Histogram] = {}


def _record(scope: Scope, trace: Trace, answer: dict[str, object], seconds: float) -> None:
    path = scope.get("path", "")
    status = answer["status"]
    operation = trace.operation or (path if path in ROUTES else "console")
    outcome = trace.outcome or ("ok" if isinstance(status, int) and status < 400 else "http_error")
    counter = _counted.get((operation, outcome))
    if counter is None:
        counter = _counted[operation, outcome] = metrics.REQUESTS.labels(operation, outcome)
    counter.inc()
    timer = _timed.get(operation)
    if timer is None:
        timer = _timed[operation] = metrics.REQUEST_SECONDS.labels(operation)
    timer.observe(seconds)
    if not log.isEnabledFor(logging.INFO):
        return
    principal = trace.principal
    client = scope.get("client")
    fields: dict[str, object] = {
        "request_id": answer["request_id"],
        "method": scope.get("method"),
        "path": path,
        "status": status,
        "operation": operation,
        "outcome": outcome,
        "principal": None
        if principal is None
        else {"kind": principal.kind or principal.role.value.lower(), "id": principal.id},
        "duration_ms": round(seconds * 1000, 2),
        "client": client[0] if client else None,
    }
    log.info("request", extra={"fields": fields})
