"""Live console: `accountChanged` over a WebSocket on /graphql (graphql-transport-ws).

Who may connect is decided like /graphql over HTTP: the console's session cookie sent
with the handshake (or an operator's bearer token, for programs). Browsers let any page
open a WebSocket with the user's cookies, so a handshake whose Origin is not this
server's own is refused before it is accepted (Strawberry's same-origin check, no other
origin allowed). A socket without credentials is accepted only to be closed with 4401
UNAUTHENTICATED at `connection_init`, which graphql-ws clients report and do not retry.
Signing out closes the session's sockets in this process at once with the same 4401
(api/session_sockets.py); on other instances, the recheck of services/live.py does.
Which account a subscription may follow is the `account` query's rule (services/live.py).

Only subscriptions run here: queries and mutations go through /graphql over HTTP, where
budgets, auditing and masking apply (api/execution.py). Unexpected errors are masked
here too.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import timedelta
from typing import Any, cast

from graphql import GraphQLError, OperationType, get_operation_ast
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.utils.aio import aclosing

from ..domain.errors import RuleViolation
from ..services import access
from ..services.principals import ANONYMOUS, Principal, Role
from .context import SESSION_COOKIE, Services
from .errors import language, masked
from .request_ids import new_request_id
from .schema import schema
from .session_sockets import SessionSockets
from .shape import ShapeRefused, check_shape, parse_within_limits
from .subscriptions import UNAUTHENTICATED, LiveContext

log = logging.getLogger("imaging_billing.api")
LANGUAGES = ("zh-CN", "en")
# Each socket follows up to 20 accounts, each re-read after every change (up to 4 times
# a second): open sockets multiply database reads, so one principal (a person over all
# their sessions, or an operator token) has this many per server process. The console
# opens one socket per browser tab, shared by its pages and closed 10 s after the last
# page that follows an account: 8 is several tabs on a couple of devices, plus sockets
# of a dropped connection the server has not noticed yet (uvicorn pings every 20 s).
MAX_SOCKETS_PER_PRINCIPAL = 8
# graphql-ws's 4429 (as HTTP 429): its clients do not reconnect after it. The reason
# tells it from Strawberry's "Too many initialisation requests" on one socket.
TOO_MANY_SOCKETS = 4429


class SocketCounts:
    """Live sockets per principal in this process: a place is taken when a socket's
    `connection_init` is accepted and given back when the socket ends, however it ends."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def take(self, principal: Principal) -> bool:
        if self._open[principal.actor] >= self.limit:
            return False
        self._open[principal.actor] += 1
        return True

    def give_back(self, principal: Principal) -> None:
        self._open[principal.actor] -= 1
        if self._open[principal.actor] <= 0:
            del self._open[principal.actor]


class _SubscriptionsOnly:
    """The schema as the socket handler sees it: subscriptions, their errors masked."""

    def __init__(self, schema: Any) -> None:
        self.schema = schema

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: LiveContext | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        **_: Any,
    ) -> AsyncGenerator[Any, None]:
        source = await self.schema.subscribe(
            query, variable_values, context_value, root_value, operation_name
        )
        assert context_value is not None
        return _masked(source, context_value)


async def _masked(source: Any, context: LiveContext) -> AsyncGenerator[Any, None]:
    async with aclosing(source):
        async for result in source:
            if result.errors:
                result.errors = masked(result.errors, context.request_id, context.lang)
            yield result


class _Handler(BaseGraphQLTransportWSHandler[LiveContext, None]):
    counted = False  # whether this socket holds one of its principal's places

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        context = self.context
        payload = message.get("payload")
        if isinstance(payload, dict) and payload.get("lang") in LANGUAGES:
            context.lang = str(payload["lang"])
        if context.principal.role is Role.ANONYMOUS:
            await self._close_refused(UNAUTHENTICATED, "UNAUTHENTICATED", "sign in first")
            return
        if not self.connection_init_received:  # a second init is Strawberry's to refuse
            if not self._sockets.take(context.principal):
                limit = self._sockets.limit
                reason = f"{limit} live connections open; close a console tab"
                await self._close_refused(TOO_MANY_SOCKETS, "TOO_MANY_SOCKETS", reason)
                return
            self.counted = True
            if context.session_token is not None:
                person = context.principal.id
                self._session_sockets.add(context.session_token, person, self._signed_out)
        await super().handle_connection_init(message)

    async def _signed_out(self) -> None:
        """The session was signed out in this process (the `logout` mutation)."""
        await self.websocket.close(UNAUTHENTICATED, "UNAUTHENTICATED: signed out")

    async def _close_refused(self, code: int, rule: str, reason: str) -> None:
        context = self.context
        services = context.services
        now = services.clock.now()
        services.refusals.note(
            context.principal, rule, context.client_address, context.request_id, now
        )
        await self.websocket.close(code, f"{rule}: {reason}")

    @property
    def _sockets(self) -> SocketCounts:
        return cast(LiveEndpoint, self.view).sockets

    @property
    def _session_sockets(self) -> SessionSockets:
        return self.context.services.session_sockets

    async def shutdown(self) -> None:
        try:
            await super().shutdown()
        finally:
            if self.counted:
                self.counted = False
                self._sockets.give_back(self.context.principal)
                context = self.context
                if context.session_token is not None:
                    person = context.principal.id
                    self._session_sockets.discard(context.session_token, person, self._signed_out)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """The size and shape limits of every document (api/shape.py), before Strawberry."""
        query = message.get("payload", {}).get("query")
        try:
            document = parse_within_limits(query if isinstance(query, str) else "")
            check_shape(document)
        except ShapeRefused as refused:
            await self._refuse(message, refused.as_graphql_error())
            return
        except GraphQLError as error:
            await self._refuse(message, error)
            return
        operation = get_operation_ast(document, message.get("payload", {}).get("operationName"))
        if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
            rule = RuleViolation("WEBSOCKET_RUNS_SUBSCRIPTIONS_ONLY")
            await self._refuse(message, GraphQLError(rule.message_en, original_error=rule))
            return
        await super().handle_subscribe(message)

    async def _refuse(self, message: SubscribeMessage, error: GraphQLError) -> None:
        errors = masked([error], self.context.request_id, self.context.lang)
        payload = [e.formatted for e in errors]
        await self.send_message({"id": message["id"], "type": "error", "payload": payload})


class LiveEndpoint(GraphQL[LiveContext, None]):
    """WebSocket requests to /graphql (app.py routes HTTP to api/http.py)."""

    graphql_transport_ws_handler_class = _Handler

    def __init__(self, services: Services) -> None:
        super().__init__(
            cast(Any, _SubscriptionsOnly(schema)),
            graphql_ide=None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            max_subscriptions_per_connection=20,
        )
        self.services = services
        self.sockets = SocketCounts(MAX_SOCKETS_PER_PRINCIPAL)
        # Strawberry logs every error of an operation, expected refusals with a traceback;
        # here `masked` logs the unexpected ones, with the request id the client sees.
        logging.getLogger("strawberry.execution").disabled = True

    async def get_context(self, request: Any, response: Any) -> LiveContext:
        websocket = cast(WebSocket, request)
        principal, signed_in, session = await _principal(self.services, websocket)
        client = websocket.scope.get("client")
        return LiveContext(
            services=self.services,
            principal=principal,
            lang=language(websocket.headers.get("accept-language")),
            request_id=new_request_id(),
            client_address=client[0] if client else "-",
            websocket=cast(WebSocket, response),
            signed_in=signed_in,
            session_token=session,  # its logout closes the socket (api/session_sockets.py)
        )


async def _principal(
    services: Services, websocket: WebSocket
) -> tuple[Principal, Callable[[], Awaitable[bool]] | None, str | None]:
    """The handshake's caller, how to ask later whether it is still signed in, and the
    session token it came with (None for an operator token)."""
    bearer = websocket.headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        token = bearer[7:].strip()
        found = await services.auth.operator(token)

        async def token_holds() -> bool:
            return await services.auth.operator(token) is not None

        return (found, token_holds, None) if found else (ANONYMOUS, None, None)
    session = websocket.cookies.get(SESSION_COOKIE)
    if not session:
        return ANONYMOUS, None, None
    found = await access.session_principal(services.db, session, services.clock.now())
    if found is None:
        return ANONYMOUS, None, None

    async def session_holds() -> bool:
        return await access.session_holds(services.db, session, services.clock.now())

    return found, session_holds, session
