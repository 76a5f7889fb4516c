"""The /graphql endpoint: authenticate first, then hand the request to Strawberry.

Every operation needs a principal: an operator bearer token, or an institution's
signed headers. Anonymous requests get the authentication error and nothing else;
a browser's plain GET of /graphql gets the GraphiQL page, which holds no data.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from ..services.principals import Principal
from . import ids
from .context import Context, Services
from .errors import language
from .schema import schema

log = logging.getLogger("imaging_billing.api")
MAX_BODY = 2 * 1024 * 1024


class BillingGraphQL(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.services = services

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.scope["state"]
        return Context(
            services=self.services,
            principal=state["principal"],
            lang=language(request.headers.get("accept-language")),
            request_id=state["request_id"],
        )


def _unauthenticated(request_id: str) -> Response:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "Authentication required / 需要身份认证",
                    "extensions": {"code": "UNAUTHENTICATED", "requestId": request_id},
                }
            ]
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="imaging-billing"'},
    )


async def authenticate(services: Services, request: Request, body: bytes) -> Principal | None:
    headers = request.headers
    bearer = headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        return await services.auth.operator(bearer[7:].strip())
    signed_id = headers.get("x-institution-id")
    timestamp = headers.get("x-timestamp")
    signature = headers.get("x-signature")
    if not (signed_id and timestamp and signature):
        return None
    try:
        pk = ids.decode(signed_id, "Institution", missing="INSTITUTION_NOT_FOUND", field="")
    except Exception:
        return None
    now_ms = int(services.clock.now().timestamp() * 1000)
    return await services.auth.institution(pk, signed_id, timestamp, body, signature, now_ms)


class GraphQLEndpoint:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.graphql = BillingGraphQL(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = request.headers.get("x-request-id") or uuid.uuid4().hex[:16]
        if request.method == "GET" and "query" not in request.query_params:
            # The IDE page itself: static, no data.
            await self.graphql(scope, receive, send)
            return
        body = await request.body()
        if len(body) > MAX_BODY:
            await JSONResponse({"errors": [{"message": "Request too large"}]}, 413)(
                scope, receive, send
            )
            return
        principal = await authenticate(self.services, request, body)
        if principal is None:
            await _unauthenticated(request_id)(scope, receive, send)
            return
        scope.setdefault("state", {})
        scope["state"]["principal"] = principal
        scope["state"]["request_id"] = request_id
        started = time.perf_counter()
        await self.graphql(scope, _replay(body), send)
        log.debug("graphql %s %.1f ms", request_id, (time.perf_counter() - started) * 1000)


def _replay(body: bytes) -> Receive:
    """The body was read for the signature; give Strawberry the same bytes."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
