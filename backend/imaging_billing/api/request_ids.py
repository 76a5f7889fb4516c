"""Request ids: the server's own for every request; a client's id only as a correlation.

A client-chosen id cannot be trusted to be unique (or honest), so it never names a
request in the log; kept beside the server's id, it still joins a client's report to it.
"""

from __future__ import annotations

import itertools
import secrets

MAX_CORRELATION = 64
# Unique per process by a random prefix, then a counter (ids need not be secret).
_PREFIX = secrets.token_hex(4)
_NUMBERS = itertools.count(1)


def new_request_id() -> str:
    return f"{_PREFIX}{next(_NUMBERS):x}"


def correlation_id(header: str | None) -> str | None:
    """A client's `X-Request-Id`, if it is printable ASCII; at most 64 characters kept."""
    if not header:
        return None
    value = header.strip()[:MAX_CORRELATION]
    if not value or not all(" " <= c <= "~" for c in value):
        return None
    return value
