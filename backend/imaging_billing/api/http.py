"""The /graphql endpoint: authenticate first, then run the operation (api/execution.py).

Principals: an operator bearer token, an institution's signed headers, or a
person's session cookie. Anonymous requests may only log in or accept an
invitation; anything else gets the authentication error and nothing more, judged
on a small parse before anything is validated (api/shape.py).
CSRF: a cookie session's POST must be `application/json` (a form cannot send
that cross-site without a preflight), and GET never runs mutations.
A browser's plain GET of /graphql gets the GraphiQL page, which holds no data.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from strawberry.http.ides import get_graphql_ide_html

from .. import security
from ..domain.errors import RuleViolation
from ..services import access
from ..services.principals import ANONYMOUS, Principal
from . import ids
from .context import SESSION_COOKIE, Context, Services
from .errors import language
from .execution import Executor
from .observe import trace_of
from .request_ids import correlation_id, new_request_id
from .requests import GraphQLRequest, RequestRefused, is_json, read_body, read_request
from .schema import schema
from .security_headers import CDN_IDE, file_page, html_response
from .shape import anonymous_allowed

log = logging.getLogger("imaging_billing.api")
# Also the largest WebSocket frame (uvicorn's ws_max_size, set where the server starts).
MAX_BODY = 2 * 1024 * 1024
ANONYMOUS_FIELDS = frozenset({"login", "acceptInvitation", "resetPassword", "__typename"})
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
    """The institution whose `v2` signature covers this very request (security.py): its
    method, path and query string as received, the ID, the timestamp and the body."""
    headers = request.headers
    signed_id = headers.get("x-institution-id")
    timestamp = headers.get("x-timestamp")
    signature = headers.get("x-signature")
    if not (signed_id and timestamp and signature):
        return None
    try:
        pk = ids.decode(signed_id, "Institution", missing="INSTITUTION_NOT_FOUND", field="")
    except RuleViolation:
        return None
    scope = request.scope
    signed = security.SignedRequest(
        method=request.method,
        path=scope.get("raw_path") or scope["path"].encode(),
        query=scope.get("query_string", b""),
        institution_id=signed_id,
        timestamp_ms=timestamp,
        body=body,
    )
    now_ms = int(services.clock.now().timestamp() * 1000)
    return await services.auth.institution(pk, signed, signature, now_ms)


class GraphQLEndpoint:
    def __init__(self, services: Services, graphiql_page: Path | None = None) -> None:
        self.services = services
        self.executor = Executor(schema._schema)  # noqa: SLF001 - graphql-core's schema
        self.graphiql_page = graphiql_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        request_id = new_request_id()
        if request.method == "GET" and "query" not in request.query_params:
            await self._ide(scope, receive, send)
            return
        lang = language(request.headers.get("accept-language"))
        try:
            body = await read_body(request, MAX_BODY)
        except RequestRefused as refused:
            response = _refused(refused, lang, request_id)
        else:
            response = await self._answer(request, body, request_id, lang)
        response.headers["x-request-id"] = request_id
        trace = trace_of(scope)
        if trace.outcome is None:
            trace.outcome = _code_of(response)
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
        trace = trace_of(request.scope)
        trace.principal = principal
        if denied is not None:
            if denied.status_code == 401:
                self.services.refusals.note(
                    ANONYMOUS,
                    "UNAUTHENTICATED",
                    _address(request),
                    request_id,
                    self.services.clock.now(),
                )
            return denied
        if graphql_request is None:
            assert refusal is not None
            return _refused(refusal, lang, request_id)
        cookies = Response()  # what login and logout set, copied onto the answer
        context = Context(
            services=self.services,
            principal=principal,
            lang=lang,
            request_id=request_id,
            correlation_id=correlation_id(request.headers.get("x-request-id")),
            client_address=_address(request),
            response=cookies,
            session_token=session_token,
            may_reuse="no-cache" not in request.headers.get("cache-control", "").lower(),
        )
        try:
            outcome = await self.executor.run(graphql_request, context)
        except RequestRefused as refused:
            return _refused(refused, lang, request_id)
        finally:
            await context.reader.close()
        trace.operation = outcome.operation
        trace.outcome = outcome_code(outcome.payload, context.outcomes)
        response = Response(
            outcome.body if outcome.body is not None else _JSON.encode(outcome.payload),
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
            and anonymous_allowed(graphql_request.query, ANONYMOUS_FIELDS)
        ):
            return ANONYMOUS, None, None
        return ANONYMOUS, None, _unauthenticated(request_id)

    async def _ide(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The bundled GraphiQL (no CDN) when the console is built; Strawberry's otherwise."""
        if self.graphiql_page is not None and self.graphiql_page.is_file():
            await file_page(self.graphiql_page).response()(scope, receive, send)
            return
        await html_response(get_graphql_ide_html("graphiql").encode(), CDN_IDE)(
            scope, receive, send
        )


def outcome_code(payload: dict[str, object], outcomes: dict[str, str]) -> str:
    """`ok`, the first error's code, or the first refusal a mutation answered with."""
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        extensions = errors[0].get("extensions") if isinstance(errors[0], dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        return str(code or "GRAPHQL_ERROR")
    return next((code for code in outcomes.values() if code != "ok"), "ok")


def _code_of(response: Response) -> str | None:
    """The code of a refusal made before any operation ran (its body is small JSON)."""
    if response.status_code == 200:
        return None
    try:
        payload = json.loads(bytes(response.body))
    except ValueError:
        return f"http_{response.status_code}"
    return outcome_code(payload, {}) if isinstance(payload, dict) else None


def _address(request: Request) -> str:
    client = request.scope.get("client")
    return client[0] if client else "-"


def _refused(refused: RequestRefused, lang: str, request_id: str) -> Response:
    return JSONResponse(
        refused.payload(lang, request_id), status_code=refused.status, headers=refused.headers
    )
