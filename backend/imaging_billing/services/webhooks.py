"""Webhook endpoints, their secrets and deliveries (R-ARR-2 delivery decision).

Operators manage the MANAGEMENT endpoints; an account's admins (and operators) manage
that account's BUSINESS endpoints. A signing secret is shown once, when it is made.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..domain.errors import RuleViolation
from ..domain.notices import NoticeTarget
from ..domain.text import clean_text
from ..domain.webhooks import (
    SECRET_BYTES,
    EventType,
    check_addresses,
    check_event_types,
    check_url,
    format_secret,
)
from ..security import KeyBox
from ..store import accounts, webhooks
from ..store.db import Database
from ..store.records import WebhookDeliveryRowRecord, WebhookEndpointRecord
from .principals import Principal
from .steps.outbox import enqueue

# Sealed webhook secrets open only as webhook secrets (security.KeyBox `purpose`).
SECRET_PURPOSE = b"imaging-billing webhook signing secret"
MAX_OVERLAP = timedelta(days=7)
DEFAULT_OVERLAP = timedelta(hours=24)

Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address the host name stands for (an IP literal stands for itself)."""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in found})


@dataclass(frozen=True)
class UrlPolicy:
    """Where endpoints may point. Private addresses only when WEBHOOK_ALLOW_PRIVATE=1
    (config.py), e.g. for tests and a receiver on the same machine."""

    allow_private: bool = False
    resolve: Resolver = field(default=resolve_host)

    async def check(self, url: str) -> str:
        """The URL, or the refusal naming the rule it breaks."""
        url, host = check_url(url)
        port = 443 if url.startswith("https") else 80
        check_addresses(await self.resolve(host, port), allow_private=self.allow_private)
        return url


@dataclass(frozen=True)
class EndpointWithSecret:
    endpoint: WebhookEndpointRecord
    secret: str  # whsec_…, shown this once


def new_secret(keys: KeyBox) -> tuple[str, str]:
    """(the secret as shown, its sealed form as stored)."""
    raw = secrets.token_bytes(SECRET_BYTES)
    return format_secret(raw), keys.seal(raw.hex(), SECRET_PURPOSE)


def open_secret(keys: KeyBox, sealed: str) -> bytes | None:
    opened = keys.open(sealed, SECRET_PURPOSE)
    return None if opened is None else bytes.fromhex(opened)


def _description(value: str) -> str:
    value = value.strip()
    return (
        ""
        if not value
        else clean_text(value, "description", code="R_ARR_2_WEBHOOK_DESCRIPTION", limit=500)
    )


def _authorise(
    principal: Principal,
    target: NoticeTarget,
    account_id: int | None,
    missing: str = "WEBHOOK_ENDPOINT_NOT_FOUND",
) -> None:
    """MANAGEMENT: operators. BUSINESS: the account's admins and operators; another
    account's endpoints look unknown (`missing`)."""
    if target is NoticeTarget.MANAGEMENT:
        principal.require_operator()
    else:
        assert account_id is not None
        principal.require_account_admin(account_id, missing=missing)


async def _endpoint(
    db: Database,
    principal: Principal,
    endpoint_id: int,
    missing: str = "WEBHOOK_ENDPOINT_NOT_FOUND",
) -> WebhookEndpointRecord:
    async with db.read() as conn:
        found = await webhooks.get_endpoint(conn, endpoint_id)
    if found is None:
        raise RuleViolation(missing)  # as `require_account` does: no field
    _authorise(principal, NoticeTarget(found.target), found.account_id, missing)
    return found


async def create_endpoint(
    db: Database,
    keys: KeyBox,
    principal: Principal,
    *,
    target: NoticeTarget,
    account_id: int | None,
    url: str,
    description: str = "",
    event_types: Sequence[EventType] = (),
    enabled: bool = True,
    policy: UrlPolicy,
    now: datetime,
) -> EndpointWithSecret:
    if target is NoticeTarget.MANAGEMENT:
        account_id = None
    elif account_id is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    _authorise(principal, target, account_id, "ACCOUNT_NOT_FOUND")
    checked_url = await policy.check(url)
    text = _description(description)
    shown, sealed = new_secret(keys)
    async with db.write() as conn:
        if account_id is not None and await accounts.get_account(conn, account_id) is None:
            raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
        endpoint_id = await webhooks.insert_endpoint(
            conn,
            target=target.value,
            account_id=account_id,
            url=checked_url,
            description=text,
            event_types=" ".join(t.value for t in check_event_types(event_types)),
            enabled=enabled,
            secret=sealed,
            created_at=now,
            created_by=principal.actor,
        )
        created = await webhooks.get_endpoint(conn, endpoint_id)
    assert created is not None
    return EndpointWithSecret(created, shown)


async def update_endpoint(
    db: Database,
    principal: Principal,
    endpoint_id: int,
    *,
    url: str | None = None,
    description: str | None = None,
    event_types: Sequence[EventType] | None = None,
    enabled: bool | None = None,
    policy: UrlPolicy,
) -> WebhookEndpointRecord:
    """Change what is given; leave the rest."""
    await _endpoint(db, principal, endpoint_id)
    values: dict[str, object] = {}
    if url is not None:
        values["url"] = await policy.check(url)
    if description is not None:
        values["description"] = _description(description)
    if event_types is not None:
        values["event_types"] = " ".join(t.value for t in check_event_types(event_types))
    if enabled is not None:
        values["enabled"] = enabled
    if enabled:  # a fresh start: the days of failure are forgotten
        values.update(failing_since=None, disabled_at=None)
    async with db.write() as conn:
        if values:
            await webhooks.update_endpoint(conn, endpoint_id, **values)
        updated = await webhooks.get_endpoint(conn, endpoint_id)
    if updated is None:
        raise RuleViolation("WEBHOOK_ENDPOINT_NOT_FOUND")
    return updated


async def delete_endpoint(
    db: Database, principal: Principal, endpoint_id: int, now: datetime
) -> None:
    """Nothing more is sent to it; its deliveries stay on record."""
    await _endpoint(db, principal, endpoint_id)
    async with db.write() as conn:
        await webhooks.update_endpoint(conn, endpoint_id, deleted_at=now, enabled=False)


async def rotate_secret(
    db: Database,
    keys: KeyBox,
    principal: Principal,
    endpoint_id: int,
    *,
    overlap: timedelta = DEFAULT_OVERLAP,
    now: datetime,
) -> EndpointWithSecret:
    """A new secret at once; the current one keeps signing too for `overlap`, so a
    receiver can switch without losing a message (both signatures are sent)."""
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise RuleViolation("R_ARR_2_WEBHOOK_OVERLAP", "overlapSeconds")
    await _endpoint(db, principal, endpoint_id)
    shown, sealed = new_secret(keys)
    async with db.write() as conn:
        current = await webhooks.get_endpoint(conn, endpoint_id)
        if current is None:
            raise RuleViolation("WEBHOOK_ENDPOINT_NOT_FOUND")
        await webhooks.update_endpoint(
            conn,
            endpoint_id,
            secret=sealed,
            previous_secret=current.secret if overlap else None,
            previous_valid_until=now + overlap if overlap else None,
        )
        rotated = await webhooks.get_endpoint(conn, endpoint_id)
    assert rotated is not None
    return EndpointWithSecret(rotated, shown)


async def resend_delivery(
    db: Database, principal: Principal, delivery_id: int, now: datetime
) -> WebhookDeliveryRowRecord:
    """Send a delivery again (delivered or failed alike), with a fresh retry schedule."""
    async with db.read() as conn:
        found = await webhooks.get_delivery(conn, delivery_id)
    if found is None:
        raise RuleViolation("WEBHOOK_DELIVERY_NOT_FOUND")
    await _endpoint(db, principal, found.endpoint_id, "WEBHOOK_DELIVERY_NOT_FOUND")
    async with db.write() as conn:
        await webhooks.reschedule(conn, delivery_id, now)
        again = await webhooks.delivery_row(conn, delivery_id)
    assert again is not None
    return again


async def resend_failed(
    db: Database, principal: Principal, endpoint_id: int, *, since: datetime, now: datetime
) -> int:
    """After an outage: every failed delivery made since `since` is sent again."""
    await _endpoint(db, principal, endpoint_id)
    async with db.write() as conn:
        return await webhooks.reschedule_failed(conn, endpoint_id, since, now)


async def send_test_event(
    db: Database, principal: Principal, endpoint_id: int, now: datetime
) -> WebhookDeliveryRowRecord:
    """A `webhook.test` event to this endpoint alone, sent by the worker like any other."""
    endpoint = await _endpoint(db, principal, endpoint_id)
    key = f"tst_{secrets.token_hex(12)}"
    async with db.write() as conn:
        event_id = await enqueue(
            conn,
            EventType.TEST,
            key=key,
            target=NoticeTarget(endpoint.target),
            account_id=endpoint.account_id,
            data={"endpointUrl": endpoint.url},
            now=now,
            only=endpoint_id,
        )
        assert event_id is not None
        found = await webhooks.delivery_of(conn, event_id, endpoint_id)
        delivery = None if found is None else await webhooks.delivery_row(conn, found.id)
    assert delivery is not None
    return delivery
