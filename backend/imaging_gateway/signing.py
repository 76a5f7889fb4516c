"""The request signature of README's "How a gateway reports an upload" (scheme `v2`).

Written from the documented scheme alone, so a gateway vendor can read it next to the
README: the key is the hex SHA-256 of the token (its 64 characters as the key bytes), the
MAC covers seven lines joined by LF: `v2`, method, path, query string, institution ID,
timestamp in milliseconds, hex SHA-256 of the body.
"""

from __future__ import annotations

import hashlib
import hmac

VERSION = "v2"


def signing_key(token: str) -> bytes:
    return hashlib.sha256(token.encode()).hexdigest().encode("ascii")


def canonical(
    *, method: str, path: str, query: str, institution_id: str, timestamp_ms: str, body: bytes
) -> bytes:
    """The canonical request: path and query exactly as put on the request line."""
    lines = (
        VERSION,
        method,
        path,
        query,
        institution_id,
        timestamp_ms,
        hashlib.sha256(body).hexdigest(),
    )
    return "\n".join(lines).encode()


def signature(
    token: str,
    *,
    method: str,
    path: str,
    query: str,
    institution_id: str,
    timestamp_ms: str,
    body: bytes,
) -> str:
    """The `X-Signature` header value."""
    message = canonical(
        method=method,
        path=path,
        query=query,
        institution_id=institution_id,
        timestamp_ms=timestamp_ms,
        body=body,
    )
    return f"{VERSION}={hmac.new(signing_key(token), message, hashlib.sha256).hexdigest()}"


def signed_headers(
    token: str,
    institution_id: str,
    timestamp_ms: int,
    body: bytes,
    *,
    method: str = "POST",
    path: str = "/graphql",
    query: str = "",
) -> dict[str, str]:
    """The three headers of a signed call (the server allows 5 minutes of clock skew)."""
    stamp = str(timestamp_ms)
    return {
        "X-Institution-Id": institution_id,
        "X-Timestamp": stamp,
        "X-Signature": signature(
            token,
            method=method,
            path=path,
            query=query,
            institution_id=institution_id,
            timestamp_ms=stamp,
            body=body,
        ),
    }
