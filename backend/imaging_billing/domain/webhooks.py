"""Webhooks: how a notice leaves the building (R-ARR-2, delivery decision).

Deliveries follow the Standard Webhooks specification: headers `webhook-id`,
`webhook-timestamp` (Unix seconds) and `webhook-signature`, a space-separated list of
`v1,<base64 HMAC-SHA256(secret, id "." timestamp "." body)>`, one per secret in force
(two while a rotated secret overlaps the new one). Secrets are `whsec_` + base64.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from .errors import RuleViolation
from .notices import NoticeKind

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
ENVELOPE_VERSION = 1
# What a receiver may answer that we read (the rest is dropped unread).
MAX_RESPONSE_BYTES = 4096
MAX_URL_LENGTH = 2000
# Standard Webhooks: first attempt at once, then these waits after each failure.
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(0),
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
# A wait is stretched by up to this fraction so retries of many deliveries spread out.
JITTER = 0.1


class EventType(StrEnum):
    LOW_BALANCE = "account.low_balance"
    ARREARS_STARTED = "account.arrears_started"
    UPLOADS_SUSPENDED = "account.uploads_suspended"
    UPLOADS_RESUMED = "account.uploads_resumed"
    LOT_EXPIRING_30D = "lot.expiring_30d"
    LOT_EXPIRING_7D = "lot.expiring_7d"
    LOT_EXPIRED = "lot.expired"
    AI_PACK_LOW = "ai_pack.low"
    AI_PACK_EXPIRED = "ai_pack.expired"
    ORDER_PAID = "order.paid"
    ORDER_FULFILLED = "order.fulfilled"
    LICENCE_GRANTED = "licence.granted"
    SERVICE_STATE_CHANGED = "service.state_changed"
    ENDPOINT_DISABLED = "webhook.endpoint_disabled"
    TEST = "webhook.test"


# An endpoint that has answered no attempt with success for this long is disabled, and
# operators are told (a `webhook.endpoint_disabled` event to the MANAGEMENT endpoints).
DISABLE_AFTER = timedelta(days=5)

EVENT_OF_NOTICE: dict[NoticeKind, EventType] = {kind: EventType[kind.name] for kind in NoticeKind}


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


# --- endpoints --------------------------------------------------------------------------


def refused_address(address: str) -> bool:
    """Loopback, private, link-local and other non-public addresses (an endpoint there
    would let anyone with an admin login probe the server's own network)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def check_url(url: str) -> tuple[str, str]:
    """A well-formed http(s) URL with a host: (the URL, its host). Addresses are
    checked once the host is resolved (`check_addresses`)."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH or any(c.isspace() for c in url):
        raise RuleViolation("R_ARR_2_WEBHOOK_URL_INVALID", "url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise RuleViolation("R_ARR_2_WEBHOOK_URL_SCHEME", "url")
    try:
        host = parts.hostname
        _ = parts.port
    except ValueError as error:
        raise RuleViolation("R_ARR_2_WEBHOOK_URL_INVALID", "url") from error
    if not host or parts.username or parts.password:
        raise RuleViolation("R_ARR_2_WEBHOOK_URL_INVALID", "url")
    return url, host


def check_addresses(addresses: Iterable[str], *, allow_private: bool) -> None:
    """Every address the host resolves to must be public, unless private ones are allowed."""
    found = list(addresses)
    if not found:
        raise RuleViolation("R_ARR_2_WEBHOOK_URL_UNRESOLVED", "url")
    if not allow_private and any(refused_address(a) for a in found):
        raise RuleViolation("R_ARR_2_WEBHOOK_URL_PRIVATE", "url")


def check_event_types(types: Sequence[EventType]) -> list[EventType]:
    """The filter, without repeats, in catalogue order; empty means every event."""
    chosen = set(types)
    return [t for t in EventType if t in chosen and t is not EventType.TEST]


def wants(filter_text: str, event_type: str) -> bool:
    """Whether an endpoint with this stored filter takes this event (tests always)."""
    chosen = filter_text.split()
    return not chosen or event_type in chosen or event_type == EventType.TEST.value


# --- signing ----------------------------------------------------------------------------


def format_secret(raw: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(raw).decode()


def signature(raw_secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of a message."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(raw_secret, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_header(secrets: Sequence[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """Every secret in force signs; a receiver accepts any one it knows."""
    return " ".join(signature(s, msg_id, timestamp, body) for s in secrets)


def headers(secrets: Sequence[bytes], msg_id: str, now: datetime, body: bytes) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }


# --- events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountRef:
    id: str  # the account's global ID in the GraphQL API
    name: str


def envelope(
    event_type: EventType,
    *,
    event_id: str,
    occurred_at: datetime,
    account: AccountRef | None,
    data: dict[str, object],
) -> str:
    """The JSON body of an event: versioned, with the figures of its instant in `data`
    so a receiver need not call back."""
    body = {
        "version": ENVELOPE_VERSION,
        "type": event_type.value,
        "id": event_id,
        "occurredAt": occurred_at.isoformat().replace("+00:00", "Z"),
        "account": None if account is None else {"id": account.id, "name": account.name},
        "data": data,
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --- retries ----------------------------------------------------------------------------


def next_attempt(attempts_made: int, now: datetime, jitter: Callable[[], float]) -> datetime | None:
    """When to try again after `attempts_made` failed attempts; None once the schedule
    is used up (the delivery has failed). `jitter()` gives a number in [0, 1)."""
    if attempts_made >= len(RETRY_SCHEDULE):
        return None
    wait = RETRY_SCHEDULE[attempts_made]
    return now + wait * (1 + JITTER * jitter())


def disable_due(failing_since: datetime, now: datetime) -> bool:
    return now - failing_since >= DISABLE_AFTER


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300
