"""Secrets: issuing tokens, keeping only their digests, checking request signatures.

Institution calls are signed like the platform's partner API:
    X-Institution-Id: <institution ID>
    X-Timestamp:      <unix time in milliseconds>
    X-Signature:      hex HMAC-SHA256(key, institutionId + timestamp + hex SHA-256(body))
The server stores only SHA-256(token), so that digest (hex) is the HMAC key: a
leaked database row never yields the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign(token_digest: str, institution_id: str, timestamp_ms: str, body: bytes) -> str:
    message = f"{institution_id}{timestamp_ms}{body_digest(body)}".encode()
    return hmac.new(token_digest.encode(), message, hashlib.sha256).hexdigest()


def sign_with_token(token: str, institution_id: str, timestamp_ms: str, body: bytes) -> str:
    """What a gateway computes: the key is the hex SHA-256 of its token."""
    return sign(digest(token), institution_id, timestamp_ms, body)


def signature_valid(
    token_digest: str, institution_id: str, timestamp_ms: str, body: bytes, signature: str
) -> bool:
    expected = sign(token_digest, institution_id, timestamp_ms, body)
    return hmac.compare_digest(expected, signature.lower())


def timestamp_fresh(timestamp_ms: str, now_ms: int, window_seconds: int) -> bool:
    """Unix milliseconds in ASCII digits (`isdigit()` alone takes "²"), within the window."""
    if not (timestamp_ms.isascii() and timestamp_ms.isdigit()) or len(timestamp_ms) > 16:
        return False
    return abs(int(timestamp_ms) - now_ms) <= window_seconds * 1000
