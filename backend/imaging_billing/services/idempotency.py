"""Idempotency keys for money-moving mutations.

The key's record is written in the same transaction as the effect, so a retry
after a crash either finds the whole effect and its response, or neither. `once`
guards one request; `once_each` guards a batch of requests in one transaction
(the group commit of uploads) with one look-up for all of their keys.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.errors import RuleViolation
from ..store import idempotency as repo

MAX_KEY_LENGTH = 200
T = TypeVar("T")
S = TypeVar("S")  # what a key keeps of an answer: JSON-shaped, so it survives the round trip

# What `once` keeps for a key: the ids its effect made (an order, a lot, an exam).
Response = dict[str, int]


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
    effect: Callable[[], Awaitable[Response]],
) -> Response:
    """Run `effect` once per (scope, key); a replay returns the first response."""
    if check_key(key) is None:
        return await effect()
    assert key is not None
    digest = request_hash(operation, payload)
    await repo.lock_key(conn, scope, key)
    found = await repo.find(conn, scope, key)
    if found is not None:
        _same_request(found.request_hash, found.operation, digest, operation)
        return dict(json.loads(found.response))
    response = await effect()
    await _keep(conn, scope, key, operation, digest, response, now)
    return response


class Keyed(Protocol):
    """One request of a batch. `digest` is read only for a request with a key."""

    @property
    def scope(self) -> str: ...

    @property
    def key(self) -> str | None: ...

    @property
    def operation(self) -> str: ...

    @property
    def digest(self) -> str: ...


async def once_each(
    conn: AsyncConnection,
    requests: Sequence[Keyed],
    *,
    now: datetime,
    run: Callable[[list[int]], Awaitable[list[T]]],
    response: Callable[[T], S],
    replay: Callable[[S], Awaitable[T]],
) -> list[T | RuleViolation]:
    """`once` for a batch: one answer per request, in order.

    `run` gets the indexes of the requests to run now (no key, or a key seen for
    the first time) and answers each; `response` is what is kept for a key and
    `replay` rebuilds an answer from it. A key already recorded is replayed, and so
    is a key used again later in the same batch; one used for another request is
    refused (as a value, so the other requests go on). The caller holds a lock that
    serialises every twin of these keys (the group commit holds the account's)."""
    found = await repo.find_many(conn, [(r.scope, r.key) for r in requests if r.key is not None])
    answers: dict[int, T | RuleViolation] = {}
    first: dict[tuple[str, str], int] = {}  # key -> the request of this batch that runs it
    runnable: list[int] = []
    for index, request in enumerate(requests):
        if request.key is None:
            runnable.append(index)
            continue
        pair = (request.scope, request.key)
        record = found.get(pair)
        if record is not None:
            stored = (record.request_hash, record.operation, record.response)
            answers[index] = await _replayed(request, *stored, replay)
        elif pair not in first:
            first[pair] = index
            runnable.append(index)
    kept: dict[int, str] = {}
    for index, answer in zip(runnable, await run(runnable), strict=True):
        answers[index] = answer
        request = requests[index]
        if request.key is not None:
            kept[index] = await _keep(
                conn,
                request.scope,
                request.key,
                request.operation,
                request.digest,
                response(answer),
                now,
            )
    for index, request in enumerate(requests):
        if index in answers:
            continue
        # The key's first request ran earlier in this batch: answer as its replay.
        assert request.key is not None
        runner = first[(request.scope, request.key)]
        stored = (requests[runner].digest, requests[runner].operation, kept[runner])
        answers[index] = await _replayed(request, *stored, replay)
    return [answers[index] for index in range(len(requests))]


def _same_request(stored_hash: str, stored_operation: str, digest: str, operation: str) -> None:
    if stored_hash != digest or stored_operation != operation:
        raise RuleViolation("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")


async def _replayed(
    request: Keyed,
    stored_hash: str,
    stored_operation: str,
    stored_response: str,
    replay: Callable[[S], Awaitable[T]],
) -> T | RuleViolation:
    try:
        _same_request(stored_hash, stored_operation, request.digest, request.operation)
    except RuleViolation as refused:
        return refused
    return await replay(json.loads(stored_response))


async def _keep(
    conn: AsyncConnection,
    scope: str,
    key: str,
    operation: str,
    digest: str,
    response: object,
    now: datetime,
) -> str:
    """Record the key with its request and first response; returns the response kept."""
    text = json.dumps(response, sort_keys=True)
    await repo.insert(
        conn,
        scope=scope,
        key=key,
        operation=operation,
        request_hash=digest,
        response=text,
        now=now,
    )
    return text
