"""Bodies past the cap are refused without being read: at once on a declared
Content-Length, and as soon as a chunked body's running total passes the cap."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from imaging_billing.api.http import MAX_BODY as GRAPHQL_MAX
from imaging_billing.api.payments_http import MAX_BODY as CALLBACK_MAX
from imaging_billing.api.payments_http import callback_signature
from imaging_billing.services.clock import ManualClock

FIFTY_MIB = 50 * 1024 * 1024
ENDPOINTS = [
    ("/graphql", GRAPHQL_MAX, "REQUEST_TOO_LARGE"),
    ("/payments/callback", CALLBACK_MAX, "CALLBACK_TOO_LARGE"),
]


class Sender:
    """A body of `total` bytes in `chunk`-sized pieces, counting what the server pulled."""

    def __init__(self, total: int, chunk: int) -> None:
        self.total, self.chunk, self.pulled = total, chunk, 0

    async def body(self) -> AsyncIterator[bytes]:
        sent = 0
        while sent < self.total:
            self.pulled += 1
            piece = min(self.chunk, self.total - sent)
            sent += piece
            yield b" " * piece


def headers_for(path: str, clock: ManualClock) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if path == "/payments/callback":
        # a fresh, well-formed signature: the size check is what must refuse it
        ts = str(int(clock.now().timestamp() * 1000))
        headers |= {"x-payment-timestamp": ts, "x-payment-signature": "ab" * 32}
    return headers


@pytest.mark.parametrize(("path", "cap", "code"), ENDPOINTS)
async def test_a_declared_content_length_over_the_cap_is_refused_before_reading(
    client: httpx.AsyncClient, clock: ManualClock, path: str, cap: int, code: str
) -> None:
    # given a request that declares 50 MiB
    sender = Sender(FIFTY_MIB, 1024 * 1024)
    headers = {**headers_for(path, clock), "content-length": str(FIFTY_MIB)}
    # when it is sent
    response = await client.post(path, content=sender.body(), headers=headers)
    # then it is refused as too large without a single chunk pulled
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert sender.pulled == 0
    # and the connection is closed after the answer rather than drained for keep-alive
    assert response.headers["connection"] == "close"


@pytest.mark.parametrize(("path", "cap", "code"), ENDPOINTS)
async def test_a_chunked_body_is_read_only_until_it_passes_the_cap(
    client: httpx.AsyncClient, clock: ManualClock, path: str, cap: int, code: str
) -> None:
    # given a chunked body of 50 MiB (no Content-Length), sent a sixteenth of the cap at a time
    sender = Sender(FIFTY_MIB, cap // 16)
    # when it is sent
    response = await client.post(path, content=sender.body(), headers=headers_for(path, clock))
    # then it is refused, and the server stopped pulling just past the cap
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == code
    assert sender.pulled == 17
    assert response.headers["connection"] == "close"


async def test_a_chunked_body_within_the_cap_is_still_answered(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    # given a signed callback body sent in small chunks
    body = json.dumps({"paymentId": "p", "orderId": "bad", "amountFen": 1}).encode()
    ts = str(int(clock.now().timestamp() * 1000))
    headers = {
        "x-payment-timestamp": ts,
        "x-payment-signature": callback_signature("test-callback-secret", ts, body),
    }

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 7):
            yield body[start : start + 7]

    # when it is sent, then it is read whole and judged on its content
    response = await client.post("/payments/callback", content=chunks(), headers=headers)
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "ORDER_NOT_FOUND"
