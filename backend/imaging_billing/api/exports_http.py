"""GET /exports/ledger.csv: the ledger as a streamed CSV download (services/exports.py).

Authenticated like /graphql: an operator's bearer token, a person's session cookie, or
an institution's signed request (which is then refused: R-GEN-8). Refusals are the
API's error JSON with the matching status: 401 without a principal, 403 for a
gateway, 404 for an account the caller cannot see, 400 for arguments that do not read.
Arguments: `accountId` (required), `since`, `until` (ISO 8601 with an offset),
`types` (comma-separated ledger entry types), `lang` (`zh-CN` or `en`; otherwise the
Accept-Language): the header row's language.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..domain.clock import local_date, require_aware
from ..domain.errors import RuleViolation
from ..domain.ledger import LedgerType
from ..services import access
from ..services.exports import LedgerExport, open_ledger_export
from ..services.principals import Principal
from . import ids
from .context import SESSION_COOKIE, Services
from .cost import PEOPLE
from .errors import language
from .http import _address, _institution, _unauthenticated
from .observe import trace_of
from .request_ids import new_request_id
from .requests import RequestRefused

STATUS = {"FORBIDDEN": 403, "ACCOUNT_NOT_FOUND": 404}
# An export reads the whole (filtered) ledger: it pays a fifth of a person's query budget
# (api/cost.py), so one person can export every few seconds, not in a tight loop.
EXPORT_COST = 1_000


async def _principal(services: Services, request: Request) -> Principal | None:
    bearer = request.headers.get("authorization", "")
    if bearer.lower().startswith("bearer "):
        return await services.auth.operator(bearer[7:].strip())
    if request.headers.get("x-signature"):
        return await _institution(services, request, b"")
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return await access.session_principal(services.db, token, services.clock.now())
    return None


def _moment(text: str | None, name: str) -> datetime | None:
    if not text:
        return None
    try:
        return require_aware(datetime.fromisoformat(text), name)
    except ValueError as error:
        raise RuleViolation("EXPORT_ARGUMENT", name, {"name": name}) from error


def _types(text: str | None) -> list[str] | None:
    if not text:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if any(name not in LedgerType.__members__ for name in names):
        raise RuleViolation("EXPORT_ARGUMENT", "types", {"name": "types"})
    return names or None


def read_export(request: Request, lang: str) -> LedgerExport:
    params = request.query_params
    account = params.get("accountId")
    if not account:
        raise RuleViolation("EXPORT_ARGUMENT", "accountId", {"name": "accountId"})
    return LedgerExport(
        account_id=ids.decode(account, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId"),
        types=_types(params.get("types")),
        since=_moment(params.get("since"), "since"),
        until=_moment(params.get("until"), "until"),
        lang=lang,
    )


def ledger_export(services: Services) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        request_id = new_request_id()
        wanted = request.query_params.get("lang")
        lang = (
            wanted
            if wanted in ("zh-CN", "en")
            else language(request.headers.get("accept-language"))
        )
        response = await _answer(services, request, request_id, lang)
        response.headers["x-request-id"] = request_id
        return response

    return endpoint


async def _answer(services: Services, request: Request, request_id: str, lang: str) -> Response:
    principal = await _principal(services, request)
    if principal is None:
        return _unauthenticated(request_id)
    trace_of(request.scope).principal = principal  # for the request's log line
    allowed, _ = await services.budgets.spend(principal.actor, EXPORT_COST, PEOPLE)
    if not allowed:
        services.refusals.note(
            principal, "THROTTLED", _address(request), request_id, services.clock.now()
        )
        refused = RequestRefused(429, "THROTTLED", headers={"Retry-After": "5"})
        return JSONResponse(
            refused.payload(lang, request_id), status_code=429, headers=refused.headers
        )
    try:
        export = read_export(request, lang)
        chunks = await open_ledger_export(services.db, principal, export)
    except RuleViolation as error:
        refused = RequestRefused(STATUS.get(error.code, 400), error.code, field=error.field)
        refused.rule = error
        return JSONResponse(refused.payload(lang, request_id), status_code=refused.status)
    day = local_date(services.clock.now()).isoformat()
    return StreamingResponse(
        (chunk.encode("utf-8") async for chunk in chunks),
        media_type="text/csv; charset=utf-8",
        headers={
            "content-disposition": f'attachment; filename="ledger-{day}.csv"',
            "cache-control": "no-store",
        },
    )
