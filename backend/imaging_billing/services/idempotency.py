"""Idempotency keys for money-moving mutations.

The key's record is written in the same transaction as the effect, so a retry
after a crash either finds the whole effect and its response, or neither.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.errors import RuleViolation
from ..store import idempotency as repo

MAX_KEY_LENGTH = 200


def request_hash(operation: str, payload: object) -> str:
    text = json.dumps([operation, payload], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH):
        raise RuleViolation("IDEMPOTENCY_KEY_INVALID", "idempotencyKey")
    return key


async def once(
    conn: AsyncConnection,
    *,
    scope: str,
    key: str | None,
    operation: str,
    payload: object,
    now: datetime,
    effect: Callable[[], Awaitable[dict[str, int]]],
) -> dict[str, int]:
    """Run `effect` once per (scope, key); a replay returns the first response."""
    if check_key(key) is None:
        return await effect()
    assert key is not None
    digest = request_hash(operation, payload)
    await repo.lock_key(conn, scope, key)
    found = await repo.find(conn, scope, key)
    if found is not None:
        if found.request_hash != digest or found.operation != operation:
            raise RuleViolation("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
        return dict(json.loads(found.response))
    response = await effect()
    await repo.insert(
        conn,
        scope=scope,
        key=key,
        operation=operation,
        request_hash=digest,
        response=json.dumps(response, sort_keys=True),
        now=now,
    )
    return response
