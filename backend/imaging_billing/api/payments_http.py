"""POST /payments/callback: the payment provider's signed notification.

Headers: `X-Payment-Timestamp` (unix ms, ASCII digits) and `X-Payment-Signature`, the
hex HMAC-SHA256 of `timestamp + "." + body` under the shared secret
PAYMENT_CALLBACK_SECRET. Body (at most 64 KiB): {"paymentId": str, "orderId": ID,
"amountFen": int}. A wrong or stale signature changes nothing; the same paymentId
again is answered as before.

A refusal is the API's usual JSON (`errors[0].extensions`: code, field, messageZh,
messageEn, requestId) with a status that says what went wrong. Every call, accepted or
refused, leaves an audit record (operation `paymentCallback`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import security
from ..domain.errors import RuleViolation
from ..services import payments
from ..services.principals import ANONYMOUS
from . import ids
from .audit import arguments_text
from .context import Services
from .errors import language
from .request_ids import correlation_id, new_request_id
from .requests import RequestRefused, read_body

log = logging.getLogger("imaging_billing.payments")
MAX_BODY = 64 * 1024
OPERATION = "paymentCallback"
PROVIDER = "system:payment-callback"
_HEX = frozenset("0123456789abcdef")
# The service's refusals: no such order is 404, every other one a conflict with its state.
_NOT_FOUND = frozenset({"ORDER_NOT_FOUND"})


def callback_signature(secret: str, timestamp_ms: str, body: bytes) -> str:
    message = timestamp_ms.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class _Call:
    """One callback as the audit log records it; filled in as the checks pass."""

    request_id: str
    correlation_id: str | None
    client_address: str
    principal: str = "anonymous"
    role: str = "ANONYMOUS"
    account_id: int | None = None
    arguments: dict[str, object] = field(default_factory=dict)
    result: str = "ok"


def _signed_headers(request: Request, now_ms: int, window_seconds: int) -> tuple[str, str]:
    """Timestamp and signature, well formed and fresh, before the body is read."""
    timestamp = request.headers.get("x-payment-timestamp", "")
    signature = request.headers.get("x-payment-signature", "").lower()
    if not security.timestamp_well_formed(timestamp):
        name = "X-Payment-Timestamp"
        raise RequestRefused(400, "CALLBACK_HEADER_INVALID", field=name, header=name)
    if len(signature) != 64 or not set(signature) <= _HEX:
        name = "X-Payment-Signature"
        raise RequestRefused(400, "CALLBACK_HEADER_INVALID", field=name, header=name)
    if not security.timestamp_fresh(timestamp, now_ms, window_seconds):
        raise RequestRefused(
            401, "CALLBACK_STALE", field="X-Payment-Timestamp", seconds=window_seconds
        )
    return timestamp, signature


def _body_fields(body: bytes) -> tuple[str, str, int]:
    """paymentId, orderId and amountFen, each of its type, or 400 naming the field."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as error:
        raise RequestRefused(400, "CALLBACK_BODY_INVALID") from error
    if not isinstance(data, dict):
        raise RequestRefused(400, "CALLBACK_BODY_INVALID")
    payment_id, order_id, amount = (data.get(k) for k in ("paymentId", "orderId", "amountFen"))
    if isinstance(payment_id, int) and not isinstance(payment_id, bool):
        payment_id = str(payment_id)
    if not isinstance(payment_id, str):
        raise RequestRefused(400, "CALLBACK_BODY_INVALID", field="paymentId")
    if not isinstance(order_id, str):
        raise RequestRefused(400, "CALLBACK_BODY_INVALID", field="orderId")
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise RequestRefused(400, "CALLBACK_BODY_INVALID", field="amountFen")
    return payment_id, order_id, amount


def _refusal(error: RuleViolation) -> RequestRefused:
    status = 404 if error.code in _NOT_FOUND else 409
    refused = RequestRefused(status, error.code, field=error.field)
    refused.rule = error  # its own parameters fill its messages
    return refused


async def _accept(
    services: Services, secret: str | None, window_seconds: int, request: Request, call: _Call
) -> Response:
    if not secret:
        raise RequestRefused(503, "CALLBACK_DISABLED")
    now = services.clock.now()
    timestamp, signature = _signed_headers(request, int(now.timestamp() * 1000), window_seconds)
    body = await read_body(request, MAX_BODY, "CALLBACK_TOO_LARGE")
    if not hmac.compare_digest(callback_signature(secret, timestamp, body), signature):
        raise RequestRefused(401, "CALLBACK_SIGNATURE_INVALID", field="X-Payment-Signature")
    # Signed by the provider from here on: what it said is worth keeping in the log.
    call.principal, call.role = PROVIDER, "PAYMENT_PROVIDER"
    payment_id, order_id, amount = _body_fields(body)
    call.arguments = {"paymentId": payment_id, "orderId": order_id, "amountFen": amount}
    try:
        order_pk = ids.decode(order_id, "Order", missing="ORDER_NOT_FOUND", field="orderId")
        result = await payments.provider_callback(
            services.db, payment_id=payment_id, order_id=order_pk, amount_fen=amount, now=now
        )
    except RuleViolation as error:
        log.warning("payment callback refused: %s (payment %s)", error.code, payment_id)
        raise _refusal(error) from error
    call.account_id = int(result.order.account_id)
    call.arguments["replayed"] = result.replayed
    return JSONResponse({"ok": True, "orderState": result.order.state, "replayed": result.replayed})


async def _audit(services: Services, call: _Call) -> None:
    row = {
        "occurred_at": services.clock.now(),
        "principal": call.principal,
        "role": call.role,
        "account_id": call.account_id,
        "operation": OPERATION,
        "arguments": arguments_text(call.arguments),
        "result": call.result[:100],
        "request_id": call.request_id,
        "correlation_id": call.correlation_id,
        "client_address": call.client_address,
    }
    try:
        await services.group_commit.record_audit([row])
    except Exception:  # a payment already committed is never hidden from the provider
        log.exception("audit record not written, request %s", call.request_id)


def payment_callback(
    services: Services, secret: str | None, window_seconds: int
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        call = _Call(
            new_request_id(),
            correlation_id(request.headers.get("x-request-id")),
            request.client.host if request.client else "-",
        )
        try:
            response = await _accept(services, secret, window_seconds, request, call)
        except RequestRefused as refused:
            call.result = refused.rule.code
            lang = language(request.headers.get("accept-language"))
            response = JSONResponse(
                refused.payload(lang, call.request_id),
                status_code=refused.status,
                headers=refused.headers,
            )
        if call.principal == PROVIDER:
            await _audit(services, call)
        else:  # unsigned: counted per address and minute, so forgeries cannot flood the log
            services.refusals.note(
                ANONYMOUS,
                call.result,
                call.client_address,
                call.request_id,
                services.clock.now(),
                operation=OPERATION,
            )
        response.headers["x-request-id"] = call.request_id
        return response

    return endpoint
