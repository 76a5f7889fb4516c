"""Secrets: issuing tokens, keeping only their digests, checking request signatures.

Institution calls are signed (scheme `v2`, documented for gateway vendors in README,
"How a gateway reports an upload"):

    X-Institution-Id: <institution ID>
    X-Timestamp:      <Unix time in milliseconds, ASCII digits>
    X-Signature:      v2=<hex HMAC-SHA256(key, canonical request)>

    key               = hex SHA-256(token), as 64 ASCII characters
    canonical request = "v2" LF METHOD LF PATH LF QUERY LF INSTITUTION_ID LF TIMESTAMP LF
                        hex SHA-256(body)

METHOD is the request method (`GET`, `POST`), PATH the request target's path and QUERY
its query string without the `?` (empty when there is none), both byte for byte as sent,
percent-encoding untouched. Binding method, path and query means captured headers of a
GET authorise that one query and nothing else. An unversioned signature (the earlier
scheme, which covered only ID, timestamp and body) is refused.

The signing key is derivable from the token, so the server must keep it; it keeps it
sealed with a server secret that never enters the database (`KeyBox`): a copy of the
database alone yields no key to sign with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKEN_BYTES = 32
SIGNATURE_VERSION = "v2"
_SIGNATURE = re.compile(r"v2=([0-9a-fA-F]{64})")


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signing_key(token: str) -> str:
    """What a gateway signs with: the hex SHA-256 of its token."""
    return digest(token)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class SignedRequest:
    """The parts of a request an institution's signature covers."""

    method: str
    path: bytes
    query: bytes
    institution_id: str
    timestamp_ms: str
    body: bytes

    @classmethod
    def of(
        cls,
        institution_id: str,
        timestamp_ms: str,
        body: bytes,
        *,
        method: str = "POST",
        path: str = "/graphql",
        query: str = "",
    ) -> SignedRequest:
        """As a gateway knows it: path and query as the text it puts on the wire."""
        return cls(method, path.encode(), query.encode(), institution_id, timestamp_ms, body)

    def canonical(self) -> bytes:
        return b"\n".join(
            (
                SIGNATURE_VERSION.encode(),
                self.method.encode("ascii"),
                self.path,
                self.query,
                self.institution_id.encode("ascii"),
                self.timestamp_ms.encode("ascii"),
                body_digest(self.body).encode(),
            )
        )


def _mac(key: str, request: SignedRequest) -> str:
    return hmac.new(key.encode(), request.canonical(), hashlib.sha256).hexdigest()


def sign(key: str, request: SignedRequest) -> str:
    """The `X-Signature` header value."""
    return f"{SIGNATURE_VERSION}={_mac(key, request)}"


def sign_with_token(token: str, request: SignedRequest) -> str:
    return sign(signing_key(token), request)


def signature_mac(header: str) -> str | None:
    """The lower-case hex MAC of a well-formed `v2=<hex>` header; None for anything else
    (the unversioned scheme, non-ASCII bytes, wrong length)."""
    match = _SIGNATURE.fullmatch(header)
    return match.group(1).lower() if match else None


def signature_valid(key: str, request: SignedRequest, header: str) -> bool:
    mac = signature_mac(header)
    if mac is None or not request.institution_id.isascii() or not request.method.isascii():
        return False
    return hmac.compare_digest(_mac(key, request), mac)


def timestamp_well_formed(timestamp_ms: str) -> bool:
    """Unix milliseconds in ASCII digits (`isdigit()` alone takes "²"), at most 16."""
    return timestamp_ms.isascii() and timestamp_ms.isdigit() and len(timestamp_ms) <= 16


def timestamp_fresh(timestamp_ms: str, now_ms: int, window_seconds: int) -> bool:
    """A well-formed timestamp within the window."""
    if not timestamp_well_formed(timestamp_ms):
        return False
    return abs(int(timestamp_ms) - now_ms) <= window_seconds * 1000


_SEALED_PREFIX = "s1."
_NONCE_BYTES = 12
_AAD = b"imaging-billing institution signing key"


class KeyBox:
    """Seals institution signing keys with AES-256-GCM under a key derived (HKDF-SHA256)
    from the server secret, which lives outside the database (SERVER_SECRET or
    var/server-secret). Stored form: `s1.` + base64url(nonce || ciphertext || tag)."""

    def __init__(self, server_secret: str) -> None:
        if len(server_secret) < 16:
            raise ValueError("the server secret must be at least 16 characters")
        key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"imaging-billing key box v1"
        ).derive(server_secret.encode())
        self._aead = AESGCM(key)

    def seal(self, key: str, purpose: bytes = _AAD) -> str:
        """`purpose` binds the sealed value to its use: a value sealed for one column
        does not open as another's (a webhook secret is no institution key)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, bytes.fromhex(key), purpose)
        return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, stored: str, purpose: bytes = _AAD) -> str | None:
        """The key, or None when `stored` is not sealed or not sealed by this secret."""
        if not is_sealed(stored):
            return None
        try:
            raw = base64.urlsafe_b64decode(stored.removeprefix(_SEALED_PREFIX))
            key = self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], purpose)
        except (ValueError, InvalidTag):
            return None
        return key.hex()


def is_sealed(stored: str) -> bool:
    return stored.startswith(_SEALED_PREFIX)
