"""H1: how long the server's request path takes to refuse a query bomb.

    H1 hostile_validation_ms max=<worst median ms> target=50

Each bomb (fragment chain, overlapping fields, overlapping sub-selections, aliases, deep
nesting, repeated root fields, comment padding) is built twice: with a body just under
the 2 MiB body limit, and as large as the text and token caps let through (so the shape
checks, not the size checks, refuse it). Each is posted anonymously and with an
operator's bearer token straight into the ASGI app (no sockets), a few times with a
varied first line so no cache answers; the figure is the worst per-bomb median.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graphql.language import Lexer, Source, TokenKind
from starlette.types import ASGIApp, Message

from imaging_billing.api import shape
from imaging_billing.api.http import MAX_BODY
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.services.clock import SystemClock
from imaging_billing.services.steps.accounts import add_operator_token
from imaging_billing.store.migrate import upgrade

from ..support import make_services

TARGET_MS = 50.0
REPETITIONS = 5


@dataclass(frozen=True)
class Bomb:
    """`head`, then as many units as fit, `tail(n)`, one `closing` per unit and `end`;
    what fits is counted as the text will be sent, escaped in a JSON body."""

    name: str
    head: str
    unit: Callable[[int], str]
    tail: Callable[[int], str]
    closing: str = ""
    end: str = ""

    def build(self, max_chars: int, max_tokens: int) -> str:
        per_unit = _tokens(self.unit(0) + self.closing)
        fixed = self.head + self.tail(10**6) + self.end
        size, tokens, n = _json_length(fixed), _tokens(fixed), 0
        units = []
        while True:
            unit = self.unit(n)
            grown = _json_length(unit + self.closing)
            if size + grown > max_chars or tokens + per_unit > max_tokens:
                break
            units.append(unit)
            size, tokens, n = size + grown, tokens + per_unit, n + 1
        return self.head + "".join(units) + self.tail(n) + self.closing * n + self.end


def _json_length(text: str) -> int:
    """Characters the text takes in a JSON body (quotes are escaped)."""
    return len(json.dumps(text)) - 2


def _tokens(text: str) -> int:
    lexer, count = Lexer(Source(text)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


LOGIN = 'login(email: "a@b.cn", password: "wrong wrong") { viewer { role } } '
BOMBS = (
    Bomb(
        "fragments",
        "query { ...F0 } ",
        lambda n: f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }} ",
        lambda n: f"fragment F{n} on Query {{ __typename }}",
    ),
    Bomb("overlap", "{ viewer { ", lambda n: "role ", lambda n: "} }"),
    Bomb(
        "overlap_subtrees",
        "{ accounts(first: 1) { ",
        lambda n: "edges { node { id name } } ",
        lambda n: "} }",
    ),
    Bomb("aliases", "{ ", lambda n: f"a{n}: viewer {{ role }} ", lambda n: "}"),
    Bomb(
        "nesting",
        "query($id: ID!) { account(id: $id) { ",
        lambda n: "institutions(first: 1) { edges { node { account { ",
        lambda n: "id ",
        closing="} } } } ",
        end="} }",
    ),
    Bomb("root_fields", "mutation { ", lambda n: LOGIN, lambda n: "}"),
    Bomb("comment", "{ viewer { role } }\n#", lambda n: "x" * 1024, lambda n: ""),
)
SIZES = {
    # a body just under the 2 MiB limit (JSON framing and the varied line take the rest)
    "2MiB": (MAX_BODY - 4096, MAX_BODY),
    # the largest text the length and token caps let through
    "caps": (shape.MAX_QUERY_LENGTH - 64, shape.MAX_TOKENS - 2),
}


@dataclass(frozen=True)
class Timing:
    bomb: str
    size: str
    principal: str
    median_ms: float
    answer: str  # status and code of the refusal


async def _call(app: ASGIApp, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
        "client": ("192.0.2.1", 40_000),
        "server": ("127.0.0.1", 8000),
    }
    sent = False
    status, chunks = 0, []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def _answer(status: int, payload: bytes) -> str:
    try:
        errors: list[dict[str, Any]] = json.loads(payload).get("errors") or []
    except ValueError:
        return f"{status} ?"
    code = errors[0].get("extensions", {}).get("code") if errors else None
    return f"{status} {code or (errors[0]['message'][:40] if errors else 'no error')}"


async def _measure(app: ASGIApp, token: str) -> list[Timing]:
    principals = {
        "anonymous": {"content-type": "application/json"},
        "operator": {"content-type": "application/json", "authorization": f"Bearer {token}"},
    }
    timings = []
    for bomb in BOMBS:
        for size, (chars, tokens) in SIZES.items():
            query = bomb.build(chars, tokens)
            for principal, headers in principals.items():
                samples, answer = [], ""
                for rep in range(REPETITIONS):
                    body = json.dumps({"query": f"# {rep} {time.time_ns()}\n{query}"}).encode()
                    assert len(body) < MAX_BODY, (bomb.name, size, len(body))
                    started = time.perf_counter()
                    status, payload = await _call(app, body, headers)
                    samples.append((time.perf_counter() - started) * 1000)
                    answer = _answer(status, payload)
                timing = Timing(bomb.name, size, principal, statistics.median(samples), answer)
                timings.append(timing)
    return timings


async def _run(work: Path) -> list[Timing]:
    url = f"sqlite+aiosqlite:///{work / 'h1.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    clock = SystemClock()
    services = make_services(url, clock)
    try:
        async with services.db.write() as conn:
            token = await add_operator_token(conn, name="bench", now=services.clock.now())
        settings = Settings(sweep_interval_seconds=0, console_dir=work / "no-console")
        app = create_app(settings, services)
        return await _measure(app, token)
    finally:
        await services.group_commit.close()
        await services.db.dispose()


def measure_h1() -> list[str]:
    """The H1 line, then one line per bomb, then a WARNING line per bomb over target."""
    with tempfile.TemporaryDirectory(prefix="ib-bench-h1-") as tmp:
        timings = asyncio.run(_run(Path(tmp)))
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    worst = max(t.median_ms for t in timings)
    lines = [f"H1 hostile_validation_ms max={worst:.1f} target={TARGET_MS:.0f}"]
    lines += [
        f"  H1 {t.bomb} {t.size} {t.principal}: {t.median_ms:.1f} ms ({t.answer})" for t in timings
    ]
    lines += [
        f"WARNING H1: {t.bomb} {t.size} {t.principal} took {t.median_ms:.1f} ms"
        for t in timings
        if t.median_ms > TARGET_MS
    ]
    if load > cores:
        lines.append(f"WARNING H1: load average {load:.1f} on {cores} cores: figures are noisy")
    return lines
