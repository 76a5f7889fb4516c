"""POST /payments/callback: the payment provider's signed notification.

Headers: `X-Payment-Timestamp` (unix ms) and `X-Payment-Signature`, the hex
HMAC-SHA256 of `timestamp + "." + body` under the shared secret PAYMENT_CALLBACK_SECRET.
Body: {"paymentId": str, "orderId": ID, "amountFen": int}. A wrong or stale
signature changes nothing; the same paymentId again is answered as before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.errors import RuleViolation
from ..services import payments
from . import ids
from .context import Services

log = logging.getLogger("imaging_billing.payments")
MAX_BODY = 64 * 1024


def callback_signature(secret: str, timestamp_ms: str, body: bytes) -> str:
    message = timestamp_ms.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _refusal(status: int, code: str, message: str) -> Response:
    return JSONResponse({"ok": False, "code": code, "message": message}, status_code=status)


def payment_callback(services: Services, secret: str | None, window_seconds: int) -> Any:
    async def endpoint(request: Request) -> Response:
        if not secret:
            return _refusal(503, "CALLBACK_DISABLED", "No payment callback secret configured")
        body = await request.body()
        if len(body) > MAX_BODY:
            return _refusal(413, "TOO_LARGE", "Body too large")
        timestamp = request.headers.get("x-payment-timestamp", "")
        signature = request.headers.get("x-payment-signature", "")
        now = services.clock.now()
        fresh = timestamp.isdigit() and len(timestamp) <= 16
        if fresh and abs(int(timestamp) - int(now.timestamp() * 1000)) > window_seconds * 1000:
            fresh = False
        expected = callback_signature(secret, timestamp, body)
        if not fresh or not hmac.compare_digest(expected, signature.lower()):
            return _refusal(401, "SIGNATURE_INVALID", "Bad or stale signature")
        try:
            data = json.loads(body)
            payment_id = str(data["paymentId"])
            amount = data["amountFen"]
            if not isinstance(amount, int) or isinstance(amount, bool):
                raise ValueError("amountFen")
            order_id = ids.decode(
                str(data["orderId"]), "Order", missing="ORDER_NOT_FOUND", field="orderId"
            )
        except RuleViolation as error:
            return _refusal(404, error.code, error.message_en)
        except (ValueError, KeyError, TypeError):
            return _refusal(400, "BODY_INVALID", "Expected paymentId, orderId, amountFen")
        try:
            result = await payments.provider_callback(
                services.db, payment_id=payment_id, order_id=order_id, amount_fen=amount, now=now
            )
        except RuleViolation as error:
            log.warning("payment callback refused: %s (payment %s)", error.code, payment_id)
            return _refusal(409, error.code, error.message_en)
        return JSONResponse(
            {"ok": True, "orderState": result.order.state, "replayed": result.replayed}
        )

    return endpoint
