"""Signed request pools for wrk.

wrk's Lua cannot compute HMAC-SHA256, so every request is signed here, right
before a run (the server refuses timestamps more than 5 minutes off), and written
one per line as `institution ID<TAB>timestamp<TAB>signature<TAB>body`;
tests/bench/pool.lua turns the lines into requests. Every request carries its own
Study Instance UIDs; the gateways take turns.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from imaging_billing import security

from .seed import Gateway

SINGLE_QUERY = (
    "mutation($i: ID!, $u: String!) { recordExamUpload(institutionId: $i, studyInstanceUid: $u)"
    " { status exam { storageEndsAt } userErrors { code message } } }"
)
BATCH_QUERY = (
    "mutation($i: ID!, $items: [ExamUploadInput!]!) {"
    " recordExamUploads(institutionId: $i, items: $items)"
    " { accepted duplicates refused results { status } userErrors { code message } } }"
)
# A DICOM UID root for generated studies; a run number keeps runs apart.
UID_ROOT = "1.2.826.0.1.3680043.9.7"


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


def run_prefix(phase: int, run: int | None = None) -> str:
    """UIDs of one pool: `<root>.<run>.<phase>.<n>` (digits and dots, at most 64 chars)."""
    return f"{UID_ROOT}.{run if run is not None else time.time_ns() // 1_000_000}.{phase}"


def uids(prefix: str, start: int, count: int) -> list[str]:
    return [f"{prefix}.{n}" for n in range(start, start + count)]


def single_body(institution_id: str, uid: str) -> bytes:
    variables = {"i": institution_id, "u": uid}
    return json.dumps({"query": SINGLE_QUERY, "variables": variables}).encode()


def batch_body(institution_id: str, batch: list[str]) -> bytes:
    items = [{"studyInstanceUid": uid} for uid in batch]
    variables = {"i": institution_id, "items": items}
    return json.dumps({"query": BATCH_QUERY, "variables": variables}).encode()


def sign(token: str, institution_id: str, body: bytes, now: datetime) -> SignedRequest:
    """The headers a gateway sends for `POST /graphql` (tests/support.Gateway.headers):
    pool.lua sends every line to that path, without a query string."""
    ts = str(int(now.timestamp() * 1000))
    return SignedRequest(
        body,
        {
            "Content-Type": "application/json",
            "X-Institution-Id": institution_id,
            "X-Timestamp": ts,
            "X-Signature": security.sign_with_token(
                token, security.SignedRequest.of(institution_id, ts, body)
            ),
        },
    )


def signed_requests(
    gateways: Sequence[Gateway],
    prefix: str,
    requests: int,
    *,
    batch: int | None = None,
    now: datetime | None = None,
) -> Iterator[SignedRequest]:
    """`requests` signed calls: single uploads (batch=None) or batches of `batch` items,
    from each gateway in turn."""
    now = now or datetime.now(UTC)
    per = batch or 1
    for n in range(requests):
        gateway = gateways[n % len(gateways)]
        chunk = uids(prefix, n * per, per)
        body = single_body(gateway.id, chunk[0]) if batch is None else batch_body(gateway.id, chunk)
        yield sign(gateway.token, gateway.id, body, now)


def write_pool(path: Path, requests: Iterator[SignedRequest]) -> int:
    """One request a line: institution, timestamp, signature, body (JSON has no raw tabs or
    newlines)."""
    count = 0
    with path.open("wb") as out:
        for request in requests:
            line = b"\t".join(
                (
                    request.headers["X-Institution-Id"].encode(),
                    request.headers["X-Timestamp"].encode(),
                    request.headers["X-Signature"].encode(),
                    request.body,
                )
            )
            if b"\n" in request.body or b"\t" in request.body:
                raise ValueError("a pool body must not hold raw tabs or newlines")
            out.write(line + b"\n")
            count += 1
    return count
