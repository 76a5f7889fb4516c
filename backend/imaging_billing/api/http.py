"""The /graphql endpoint: authenticate first, then run the operation (api/execution.py).

Principals: an operator bearer token, an institution's signed headers, or a
person's session cookie. Anonymous requests may only log in or accept an
invitation; anything else gets the authentication error and nothing more.
CSRF: a cookie session's POST must be `application/json` (a form cannot send
that cross-site without a preflight), and GET never runs mutations.
A browser's plain GET of /graphql gets the GraphiQL page, which holds no data.
"""

from __future__ import annotations

import itertools
import json
import logging
import secrets
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.http.ides import get_graphql_ide_html

from ..services import access
from ..services.principals import ANONYMOUS, Principal
from . import ids
from .context import SESSION_COOKIE, Context, Services
from .errors import language
from .execution import Executor
from .requests import GraphQLRequest, RequestRefused, is_json, read_request
from .schema import schema

log = logging.getLogger("imaging_billing.api")
MAX_BODY = 2 * 1024 * 1024
ANONYMOUS_FIELDS = frozenset({"login", "acceptInvitation", "resetPassword", "__typename"})
# Request ids: unique per process by a random prefix, then a counter (ids need not be
# secret; they join a client's report to the log).
_REQUEST_PREFIX = secrets.token_hex(4)
_REQUEST_NUMBERS = itertools.count(1)
_JSON = json.JSONEncoder(separators=(",", ":"))


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


class GraphQLEndpoint:
    def __init__(self, services: Services, graphiql_page: Path | None = None) -> None:
        self.services = services
        self.executor = Executor(schema._schema)  # noqa: SLF001 - graphql-core's schema
        self.graphiql_page = graphiql_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        headers = request.headers
        request_id = (
            headers.get("x-request-id", "")[:64] or f"{_REQUEST_PREFIX}{next(_REQUEST_NUMBERS):x}"
        )
        if request.method == "GET" and "query" not in request.query_params:
            await self._ide(scope, receive, send)
            return
        body = await request.body()
        lang = language(headers.get("accept-language"))
        if len(body) > MAX_BODY:
            response = _refused(RequestRefused(413, "REQUEST_TOO_LARGE"), lang, request_id)
        else:
            response = await self._answer(request, body, request_id, lang)
        await response(scope, receive, send)

    async def _answer(self, request: Request, body: bytes, request_id: str, lang: str) -> Response:
        try:
            graphql_request: GraphQLRequest | None = read_request(
                request.method, request.headers.get("content-type", ""), body, request.query_params
            )
            refusal = None
        except RequestRefused as refused:
            graphql_request, refusal = None, refused
        # Credentials first: an unauthenticated caller learns nothing about its request.
        principal, session_token, denied = await self._principal(
            request, body, request_id, lang, graphql_request
        )
        if denied is not None:
            return denied
        if graphql_request is None:
            assert refusal is not None
            return _refused(refusal, lang, request_id)
        cookies = Response()  # what login and logout set, copied onto the answer
        client = request.scope.get("client")
        context = Context(
            services=self.services,
            principal=principal,
            lang=lang,
            request_id=request_id,
            client_address=client[0] if client else "-",
            response=cookies,
            session_token=session_token,
        )
        try:
            outcome = await self.executor.run(graphql_request, context)
        except RequestRefused as refused:
            return _refused(refused, lang, request_id)
        response = Response(
            _JSON.encode(outcome.payload),
            outcome.status,
            media_type="application/json",
        )
        response.headers.raw.extend(h for h in cookies.headers.raw if h[0] == b"set-cookie")
        return response

    async def _principal(
        self,
        request: Request,
        body: bytes,
        request_id: str,
        lang: str,
        graphql_request: GraphQLRequest | None,
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
            if request.method == "POST" and not is_json(request.headers.get("content-type", "")):
                return ANONYMOUS, None, _refused(RequestRefused(415, "CSRF"), lang, request_id)
            found = await access.session_principal(services.db, token, services.clock.now())
            if found is not None:
                return found, token, None
        if (
            graphql_request is not None
            and not graphql_request.via_get
            and self.executor.selects_only(graphql_request, ANONYMOUS_FIELDS)
        ):
            return ANONYMOUS, None, None
        return ANONYMOUS, None, _unauthenticated(request_id)

    async def _ide(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The bundled GraphiQL (no CDN) when the console is built; Strawberry's otherwise."""
        if self.graphiql_page is not None and self.graphiql_page.is_file():
            await FileResponse(self.graphiql_page)(scope, receive, send)
            return
        await HTMLResponse(get_graphql_ide_html("graphiql"))(scope, receive, send)


def _refused(refused: RequestRefused, lang: str, request_id: str) -> Response:
    return JSONResponse(
        refused.payload(lang, request_id), status_code=refused.status, headers=refused.headers
    )
