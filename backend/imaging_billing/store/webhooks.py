"""Webhook repository: endpoints, the outbox (events and deliveries), attempts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .fetch import fetch_all, fetch_one
from .records import (
    DueDeliveryRecord,
    WebhookAttemptRecord,
    WebhookDeliveryRecord,
    WebhookDeliveryRowRecord,
    WebhookEndpointRecord,
)
from .tables import notice
from .types import UTCDateTime
from .webhook_tables import webhook_attempt, webhook_delivery, webhook_endpoint, webhook_event

PENDING = "PENDING"

# --- endpoints --------------------------------------------------------------------------


async def insert_endpoint(conn: AsyncConnection, **values: object) -> int:
    stmt = webhook_endpoint.insert().values(**values).returning(webhook_endpoint.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def get_endpoint(conn: AsyncConnection, endpoint_id: int) -> WebhookEndpointRecord | None:
    stmt = sa.select(webhook_endpoint).where(
        webhook_endpoint.c.id == endpoint_id, webhook_endpoint.c.deleted_at.is_(None)
    )
    return await fetch_one(conn, WebhookEndpointRecord, stmt)


async def update_endpoint(conn: AsyncConnection, endpoint_id: int, **values: object) -> None:
    stmt = webhook_endpoint.update().where(webhook_endpoint.c.id == endpoint_id).values(**values)
    await conn.execute(stmt)


def _endpoints_of(target: str, account_id: int | None) -> list[sa.ColumnElement[bool]]:
    where = [webhook_endpoint.c.target == target, webhook_endpoint.c.deleted_at.is_(None)]
    if account_id is not None:
        where.append(webhook_endpoint.c.account_id == account_id)
    return where


async def list_endpoints(
    conn: AsyncConnection, target: str, account_id: int | None
) -> list[WebhookEndpointRecord]:
    """A target's endpoints (an account's, for BUSINESS), oldest first."""
    stmt = (
        sa.select(webhook_endpoint)
        .where(*_endpoints_of(target, account_id))
        .order_by(webhook_endpoint.c.id)
    )
    return await fetch_all(conn, WebhookEndpointRecord, stmt)


async def enabled_endpoints(
    conn: AsyncConnection, target: str, account_id: int | None
) -> list[tuple[int, str]]:
    """(id, event type filter) of the endpoints a target's events go to."""
    stmt = (
        sa.select(webhook_endpoint.c.id, webhook_endpoint.c.event_types)
        .where(*_endpoints_of(target, account_id), webhook_endpoint.c.enabled.is_(True))
        .order_by(webhook_endpoint.c.id)
    )
    return [(int(i), str(t)) for i, t in (await conn.execute(stmt)).all()]


# --- the outbox -------------------------------------------------------------------------


async def insert_event(conn: AsyncConnection, **values: object) -> int | None:
    """The new event's id; None when an event with its key exists (already enqueued)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(webhook_event)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[webhook_event.c.key])
        .returning(webhook_event.c.id)
    )
    found = (await conn.execute(stmt)).scalar_one_or_none()
    return None if found is None else int(found)


async def insert_deliveries(
    conn: AsyncConnection, event_id: int, endpoint_ids: Sequence[int], now: datetime
) -> None:
    rows = [
        {
            "event_id": event_id,
            "endpoint_id": endpoint_id,
            "status": PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint_id in endpoint_ids
    ]
    if rows:
        await conn.execute(webhook_delivery.insert(), rows)


async def any_due(conn: AsyncConnection, now: datetime) -> bool:
    stmt = sa.select(
        sa.exists()
        .select_from(webhook_delivery.join(webhook_endpoint))
        .where(
            webhook_delivery.c.status == PENDING,
            webhook_delivery.c.next_attempt_at <= now,
            webhook_endpoint.c.enabled.is_(True),
        )
    )
    return bool((await conn.execute(stmt)).scalar())


_DUE_COLUMNS = (
    webhook_delivery.c.id,
    webhook_delivery.c.attempts,
    webhook_delivery.c.endpoint_id,
    webhook_endpoint.c.url,
    webhook_endpoint.c.secret,
    webhook_endpoint.c.previous_secret,
    webhook_endpoint.c.previous_valid_until,
    webhook_event.c.key.label("event_key"),
    webhook_event.c.payload,
    webhook_event.c.notice_id,
    webhook_endpoint.c.account_id,
    webhook_endpoint.c.target,
)


async def claim_due(
    conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int
) -> list[DueDeliveryRecord]:
    """Take up to `limit` due deliveries of enabled endpoints, pushing each one's next
    attempt out to `lease_until` so no other worker takes it meanwhile. On PostgreSQL
    rows another worker is claiming are skipped (SKIP LOCKED), not waited for; on SQLite
    write transactions take turns, which does the same."""
    stmt = (
        sa.select(*_DUE_COLUMNS)
        .select_from(
            webhook_delivery.join(webhook_endpoint).join(
                webhook_event, webhook_event.c.id == webhook_delivery.c.event_id
            )
        )
        .where(
            webhook_delivery.c.status == PENDING,
            webhook_delivery.c.next_attempt_at <= now,
            webhook_endpoint.c.enabled.is_(True),
            webhook_endpoint.c.deleted_at.is_(None),
        )
        .order_by(webhook_delivery.c.next_attempt_at, webhook_delivery.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=webhook_delivery)
    )
    due = await fetch_all(conn, DueDeliveryRecord, stmt)
    if due:
        await conn.execute(
            webhook_delivery.update()
            .where(webhook_delivery.c.id.in_([d.id for d in due]))
            .values(next_attempt_at=lease_until)
        )
    return due


async def record_attempt(
    conn: AsyncConnection,
    delivery_id: int,
    *,
    attempts_before: int,
    attempt: Mapping[str, object],
    delivery: Mapping[str, object],
) -> bool:
    """Write an attempt and the delivery's new state, unless another worker recorded
    an attempt of this delivery since it was claimed (then False, nothing written)."""
    result = await conn.execute(
        webhook_delivery.update()
        .where(
            webhook_delivery.c.id == delivery_id,
            webhook_delivery.c.attempts == attempts_before,
            webhook_delivery.c.status == PENDING,
        )
        .values(attempts=attempts_before + 1, **delivery)
    )
    if result.rowcount != 1:
        return False
    await conn.execute(webhook_attempt.insert().values(delivery_id=delivery_id, **attempt))
    return True


async def note_success(conn: AsyncConnection, endpoint_id: int) -> None:
    stmt = webhook_endpoint.update().where(
        webhook_endpoint.c.id == endpoint_id, webhook_endpoint.c.failing_since.is_not(None)
    )
    await conn.execute(stmt.values(failing_since=None))


async def note_failure(conn: AsyncConnection, endpoint_id: int, now: datetime) -> datetime:
    """Since when the endpoint has been failing (now, if it was not)."""
    since = sa.func.coalesce(
        webhook_endpoint.c.failing_since, sa.bindparam("now", now, type_=UTCDateTime())
    )
    stmt = (
        webhook_endpoint.update()
        .where(webhook_endpoint.c.id == endpoint_id)
        .values(failing_since=since)
        .returning(webhook_endpoint.c.failing_since)
    )
    found: datetime = (await conn.execute(stmt)).scalar_one()
    return found


async def mark_notice_delivered(conn: AsyncConnection, notice_id: int, now: datetime) -> None:
    """`deliveredAt` is the first successful delivery (R-ARR-2)."""
    await conn.execute(
        notice.update()
        .where(notice.c.id == notice_id, notice.c.delivered_at.is_(None))
        .values(delivered_at=now)
    )


# --- deliveries as listed ---------------------------------------------------------------


async def get_delivery(conn: AsyncConnection, delivery_id: int) -> WebhookDeliveryRecord | None:
    stmt = sa.select(webhook_delivery).where(webhook_delivery.c.id == delivery_id)
    return await fetch_one(conn, WebhookDeliveryRecord, stmt)


async def delivery_of(
    conn: AsyncConnection, event_id: int, endpoint_id: int
) -> WebhookDeliveryRecord | None:
    stmt = sa.select(webhook_delivery).where(
        webhook_delivery.c.event_id == event_id, webhook_delivery.c.endpoint_id == endpoint_id
    )
    return await fetch_one(conn, WebhookDeliveryRecord, stmt)


async def reschedule(conn: AsyncConnection, delivery_id: int, now: datetime) -> None:
    """Back in the queue at once, with the whole retry schedule ahead of it."""
    await conn.execute(
        webhook_delivery.update()
        .where(webhook_delivery.c.id == delivery_id)
        .values(status=PENDING, attempts=0, next_attempt_at=now)
    )


_LISTED = sa.select(
    webhook_delivery,
    webhook_event.c.type.label("event_type"),
    webhook_event.c.key.label("event_key"),
    webhook_event.c.payload,
).select_from(
    webhook_delivery.join(webhook_event, webhook_event.c.id == webhook_delivery.c.event_id)
)


async def reschedule_failed(
    conn: AsyncConnection, endpoint_id: int, since: datetime, now: datetime
) -> int:
    """Every failed delivery of the endpoint made since `since`, back in the queue; how many."""
    result = await conn.execute(
        webhook_delivery.update()
        .where(
            webhook_delivery.c.endpoint_id == endpoint_id,
            webhook_delivery.c.status == "FAILED",
            webhook_delivery.c.created_at >= since,
        )
        .values(status=PENDING, attempts=0, next_attempt_at=now)
    )
    return int(result.rowcount)


async def page_deliveries(
    conn: AsyncConnection, endpoint_id: int, *, after_id: int | None, limit: int
) -> list[WebhookDeliveryRowRecord]:
    """Newest first."""
    where = [webhook_delivery.c.endpoint_id == endpoint_id]
    if after_id is not None:
        where.append(webhook_delivery.c.id < after_id)
    stmt = _LISTED.where(*where).order_by(webhook_delivery.c.id.desc()).limit(limit)
    return await fetch_all(conn, WebhookDeliveryRowRecord, stmt)


async def delivery_row(conn: AsyncConnection, delivery_id: int) -> WebhookDeliveryRowRecord | None:
    stmt = _LISTED.where(webhook_delivery.c.id == delivery_id)
    return await fetch_one(conn, WebhookDeliveryRowRecord, stmt)


async def count_deliveries(conn: AsyncConnection, endpoint_id: int) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(webhook_delivery)
        .where(webhook_delivery.c.endpoint_id == endpoint_id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def attempts_of(
    conn: AsyncConnection, delivery_ids: Sequence[int]
) -> list[WebhookAttemptRecord]:
    """The attempts of these deliveries, oldest first."""
    if not delivery_ids:
        return []
    stmt = (
        sa.select(webhook_attempt)
        .where(webhook_attempt.c.delivery_id.in_(list(delivery_ids)))
        .order_by(webhook_attempt.c.id)
    )
    return await fetch_all(conn, WebhookAttemptRecord, stmt)
