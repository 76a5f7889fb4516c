"""The /graphql endpoint: authenticate first, then hand the request to Strawberry.

Principals: an operator bearer token, an institution's signed headers, or a
person's session cookie. Anonymous requests may only log in or accept an
invitation; anything else gets the authentication error and nothing more.
CSRF: a cookie session's POST must be `application/json` (a form cannot send
that cross-site without a preflight), and GET never runs mutations.
A browser's plain GET of /graphql gets the GraphiQL page, which holds no data.
"""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from typing import Any

from graphql import FieldNode, GraphQLSyntaxError, OperationDefinitionNode, parse
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL

from ..services import access
from ..services.principals import ANONYMOUS, Principal
from . import ids
from .context import SESSION_COOKIE, Context, Services
from .errors import language
from .schema import schema

log = logging.getLogger("imaging_billing.api")
MAX_BODY = 2 * 1024 * 1024
ANONYMOUS_FIELDS = frozenset({"login", "acceptInvitation", "__typename"})


class BillingGraphQL(GraphQL[Context, None]):
    def __init__(self, services: Services) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self.services = services

    async def get_context(self, request: Any, response: Any) -> Context:
        state = request.scope["state"]
        client = request.scope.get("client")
        return Context(
            services=self.services,
            principal=state["principal"],
            lang=language(request.headers.get("accept-language")),
            request_id=state["request_id"],
            client_address=client[0] if client else "-",
            response=response,
            session_token=state.get("session_token"),
        )


def _unauthenticated(
    request_id: str, message: str = "Authentication required / 需要身份认证"
) -> Response:
    return JSONResponse(
        {
            "errors": [
                {
                    "message": message,
                    "extensions": {"code": "UNAUTHENTICATED", "requestId": request_id},
                }
            ]
        },
        status_code=401,
        headers={"WWW-Authenticate": 'Bearer realm="imaging-billing"'},
    )


async def _institution(services: Services, request: Request, body: bytes) -> Principal | None:
    headers = request.headers
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


def only_anonymous_fields(body: bytes) -> bool:
    """True when every operation in the request selects only login-type fields."""
    try:
        document = parse(json.loads(body).get("query") or "")
    except (ValueError, AttributeError, GraphQLSyntaxError):
        return False
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    return bool(operations) and all(
        isinstance(node, FieldNode) and node.name.value in ANONYMOUS_FIELDS
        for operation in operations
        for node in operation.selection_set.selections
    )


class GraphQLEndpoint:
    def __init__(self, services: Services, graphiql_page: Path | None = None) -> None:
        self.services = services
        self.graphql = BillingGraphQL(services)
        self.graphiql_page = graphiql_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex[:16]
        if request.method == "GET" and "query" not in request.query_params:
            await self._ide(scope, receive, send)
            return
        body = await request.body()
        if len(body) > MAX_BODY:
            await JSONResponse({"errors": [{"message": "Request too large"}]}, 413)(
                scope, receive, send
            )
            return
        principal, session_token, refusal = await self._principal(request, body, request_id)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        scope.setdefault("state", {})
        scope["state"].update(
            principal=principal, request_id=request_id, session_token=session_token
        )
        await self.graphql(scope, _replay(body), send)

    async def _principal(
        self, request: Request, body: bytes, request_id: str
    ) -> tuple[Principal, str | None, Response | None]:
        services = self.services
        bearer = request.headers.get("authorization", "")
        if bearer.lower().startswith("bearer "):
            found = await services.auth.operator(bearer[7:].strip())
            return (found or ANONYMOUS), None, None if found else _unauthenticated(request_id)
        if request.headers.get("x-signature"):
            found = await _institution(services, request, body)
            return (found or ANONYMOUS), None, None if found else _unauthenticated(request_id)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            if request.method == "POST" and not request.headers.get("content-type", "").startswith(
                "application/json"
            ):
                return (
                    ANONYMOUS,
                    None,
                    JSONResponse(
                        {
                            "errors": [
                                {
                                    "message": "Use Content-Type: application/json",
                                    "extensions": {"code": "CSRF"},
                                }
                            ]
                        },
                        status_code=415,
                    ),
                )
            found = await access.session_principal(services.db, token, services.clock.now())
            if found is not None:
                return found, token, None
        if request.method == "POST" and only_anonymous_fields(body):
            return ANONYMOUS, None, None
        return ANONYMOUS, None, _unauthenticated(request_id)

    async def _ide(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The bundled GraphiQL (no CDN) when the console is built; Strawberry's otherwise."""
        if self.graphiql_page is not None and self.graphiql_page.is_file():
            await FileResponse(self.graphiql_page)(scope, receive, send)
            return
        await self.graphql(scope, receive, send)


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
