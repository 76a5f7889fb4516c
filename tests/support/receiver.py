"""A real HTTP receiver on loopback for webhook tests, and verification of what it got
with the reference library (`standardwebhooks`), not with the server's own code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
import standardwebhooks.webhooks as reference

from imaging_billing.services.clock import ManualClock


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each request with the next status of `answers` (200 once they run out).
    The first `holds` requests get no answer until `release` is set: a sender that dies
    meanwhile dies mid-delivery."""

    port: int = 0
    answers: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)  # set on each request
    holds: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
            headers: dict[str, str] = {}
            while True:
                line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
                if not line:
                    break
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            method, path, _ = request_line.split(" ", 2)
            self.received.append(Received(method, path, headers, body))
            self.arrived.set()
            if self.holds > 0:
                self.holds -= 1
                await self.release.wait()
            status = self.answers.pop(0) if self.answers else 200
            writer.write(
                f"HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok".encode()
            )
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@contextlib.asynccontextmanager
async def receiving(answers: list[int] | None = None, holds: int = 0) -> AsyncIterator[Receiver]:
    """A receiver listening on a free loopback port for the duration of the block."""
    receiver = Receiver(answers=list(answers or []), holds=holds)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    receiver.port = server.sockets[0].getsockname()[1]
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.close()
        await server.wait_closed()


@contextlib.contextmanager
def reference_clock(monkeypatch: pytest.MonkeyPatch, clock: ManualClock) -> Iterator[None]:
    """The reference library checks a message's timestamp against the wall clock; these
    tests drive time, so it is shown the test's clock instead. Its signature check is
    untouched."""

    class TestTime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> TestTime:  # type: ignore[override]
            moment = clock.now()
            return cls.fromtimestamp(moment.timestamp(), tz)

    with monkeypatch.context() as patch:
        patch.setattr(reference, "datetime", TestTime)
        yield


def verify(secret: str, got: Received) -> Any:
    """The event as the reference library reads it; raises when the signature fails."""
    return reference.Webhook(secret).verify(got.body, got.headers)


def verifies(secret: str, got: Received) -> bool:
    try:
        verify(secret, got)
    except reference.WebhookVerificationError:
        return False
    return True
