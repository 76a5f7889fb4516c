"""The mail worker: sends the e-mail outbox (R-ARR-2 delivery decision).

Like the webhook worker it runs beside the requests, never inside one: each round leases
the due mails in a short transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL), sends them
with no lock held and records each outcome in a transaction of its own. A server that
answers 4xx, or cannot be reached, is tried again on the webhook schedule; a 5xx answer
(a mailbox refused for good) fails the mail at once. Either way the error is kept.

Without `SMTP_URL` the mails are written as `.eml` files to a directory instead, so a
development server shows what it would send. A file is named after its mail, so a
mail written twice is one file.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib

from ..domain.webhooks import DeliveryStatus, next_attempt
from ..store import mail, webhooks
from ..store.db import Database
from ..store.records import DueMailRecord
from .clock import Clock
from .rounds import keep_sending

log = logging.getLogger("imaging_billing.mail")
TIMEOUT_SECONDS = 10.0
LEASE = timedelta(minutes=2)
BATCH = 20


class MailRefused(Exception):
    """A send that did not go through; `permanent` when retrying cannot help."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


class MailTransport(Protocol):
    async def send(self, message: EmailMessage) -> None: ...


@dataclass(frozen=True)
class SmtpTransport:
    """`smtp://user:pass@host:port` (STARTTLS when the server offers it) or `smtps://`
    (TLS from the first byte)."""

    hostname: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: str) -> SmtpTransport:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL must look like smtp://user:pass@host:port or smtps://…")
        tls = parts.scheme == "smtps"
        return cls(
            hostname=parts.hostname,
            port=parts.port or (465 if tls else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=tls,
        )

    async def send(self, message: EmailMessage) -> None:
        try:
            await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.use_tls,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = [r.code for r in refused.recipients]
            text = "; ".join(f"{r.code} {r.message}" for r in refused.recipients)
            raise MailRefused(text, permanent=all(c >= 500 for c in codes)) from refused
        except aiosmtplib.SMTPResponseException as answer:
            text = f"{answer.code} {answer.message}"
            raise MailRefused(text, permanent=answer.code >= 500) from answer
        except (aiosmtplib.SMTPException, OSError) as error:
            raise MailRefused(f"{type(error).__name__}: {error}") from error


@dataclass(frozen=True)
class DirectoryTransport:
    """Each mail as `<Message-ID>.eml` in a directory (no SMTP server configured)."""

    directory: Path

    async def send(self, message: EmailMessage) -> None:
        await asyncio.to_thread(self._write, message)

    def _write(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").split("@", 1)[0]
        final = self.directory / f"{name}.eml"
        partial = final.with_suffix(".eml.part")
        partial.write_bytes(message.as_bytes(policy=SMTP))
        partial.replace(final)  # a reader never sees half a mail


def mail_transport(smtp_url: str | None, outbox_dir: Path) -> MailTransport:
    if smtp_url:
        return SmtpTransport.from_url(smtp_url)
    return DirectoryTransport(outbox_dir)


def build_message(due: DueMailRecord, sender: str) -> EmailMessage:
    """The message of a mail; its Message-ID is the mail's, the same on every attempt,
    so a mail server or reader can drop a repeat."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = due.recipient
    # The default policy encodes a non-ASCII subject (RFC 2047) and the body as UTF-8.
    message["Subject"] = due.subject
    message["Date"] = format_datetime(due.created_at)
    domain = sender.rsplit("@", 1)[-1].strip(">") or "imaging-billing"
    message["Message-ID"] = f"<mail-{due.id}-{due.key}@{domain}>"
    message.set_content(due.body)
    return message


class MailWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        transport: MailTransport,
        *,
        sender: str,
        jitter: Callable[[], float] = random.random,
        batch: int = BATCH,
    ) -> None:
        self.db = db
        self.clock = clock
        self.transport = transport
        self.sender = sender
        self.jitter = jitter
        self.batch = batch

    async def run_once(self) -> int:
        """Send every mail due now (one batch); how many were attempted."""
        now = self.clock.now()
        async with self.db.read() as conn:
            if not await mail.any_due(conn, now):
                return 0  # the usual case: no write transaction taken
        async with self.db.write() as conn:
            due = await mail.claim_due(conn, now, now + LEASE, self.batch)
        # One at a time: a mail server is one peer, and mails are few.
        for one in due:
            await self._deliver(one, now)
        return len(due)

    async def run_forever(self, every: float, stop: asyncio.Event | None = None) -> None:
        await keep_sending(self.run_once, self.batch, every, log, stop)

    async def _deliver(self, due: DueMailRecord, now: datetime) -> None:
        error: MailRefused | None = None
        try:
            await self.transport.send(build_message(due, self.sender))
        except MailRefused as refused:
            error = refused
        finished = self.clock.now()
        retry = None
        if error is not None and not error.permanent:
            retry = next_attempt(due.attempts + 1, finished, self.jitter)
        if error is None:
            status = DeliveryStatus.DELIVERED
        else:
            status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
        async with self.db.write() as conn:
            recorded = await mail.record_attempt(
                conn,
                due.id,
                attempts_before=due.attempts,
                values={
                    "status": status.value,
                    "next_attempt_at": retry,
                    "last_attempt_at": now,
                    "last_error": None if error is None else str(error)[:500],
                    **({"sent_at": finished} if error is None else {}),
                },
            )
            if recorded and error is None and due.notice_id is not None:
                await webhooks.mark_notice_delivered(conn, due.notice_id, finished)
        if error is not None:
            log.warning("mail %s to %s not sent: %s", due.id, due.recipient, error)
