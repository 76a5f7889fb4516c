"""A real SMTP server in the test process (aiosmtpd) on a free loopback port: it keeps
what it accepts and can answer the first messages with a refusal (e.g. 451)."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Arrived:
    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class MailServer:
    """Answers DATA with the next of `answers` (accepts once they run out)."""

    answers: list[str] = field(default_factory=list)
    accepted: list[Arrived] = field(default_factory=list)
    refused: int = 0
    port: int = 0
    # Set when a message is accepted (the server runs in its own thread).
    arrived: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.answers:
            self.refused += 1
            return self.answers.pop(0)
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=default)
        assert isinstance(parsed, EmailMessage)
        sender = str(envelope.mail_from)
        self.accepted.append(Arrived(sender, list(envelope.rcpt_tos), parsed, raw))
        self.arrived.set()
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def smtp_server(answers: list[str] | None = None) -> AsyncIterator[MailServer]:
    server = MailServer(answers=list(answers or []), port=_free_port())
    controller = Controller(server, hostname="127.0.0.1", port=server.port)
    await asyncio.to_thread(controller.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(controller.stop)
