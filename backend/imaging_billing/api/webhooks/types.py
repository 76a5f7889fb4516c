"""Webhook endpoints, deliveries and attempts as the API shows them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry import relay

from ...domain.notices import NoticeTarget
from ...domain.webhooks import DeliveryStatus, EventType
from ...services.queries import webhooks as reads
from ...services.records import (
    WebhookAttemptRecord,
    WebhookDeliveryRowRecord,
    WebhookEndpointRecord,
)
from .. import connections as conn_
from .. import ids
from ..connections import Connection
from ..context import Info

strawberry.enum(
    EventType,
    name="WebhookEventType",
    description="What an event reports. The payload's `type`: "
    + ", ".join(f"{t.name} `{t.value}`" for t in EventType)
    + ".",
)
strawberry.enum(DeliveryStatus, name="WebhookDeliveryStatus")


def endpoint_pk(value: strawberry.ID) -> int:
    return ids.decode(value, "WebhookEndpoint", missing="WEBHOOK_ENDPOINT_NOT_FOUND", field="id")


def delivery_pk(value: strawberry.ID) -> int:
    return ids.decode(value, "WebhookDelivery", missing="WEBHOOK_DELIVERY_NOT_FOUND", field="id")


@strawberry.type(description="One attempt to send a delivery.")
class WebhookAttempt:
    attempted_at: datetime
    status_code: int | None = strawberry.field(description="null: no answer (see `error`).")
    latency_ms: int
    error: str | None
    next_retry_at: datetime | None = strawberry.field(
        description="When the next attempt was scheduled; null: delivered or given up."
    )

    @classmethod
    def from_row(cls, row: WebhookAttemptRecord) -> WebhookAttempt:
        return cls(
            attempted_at=row.attempted_at,
            status_code=row.status_code,
            latency_ms=row.latency_ms,
            error=row.error,
            next_retry_at=row.next_retry_at,
        )


@strawberry.type(description="One event to one endpoint, with its attempts.")
class WebhookDelivery:
    id: strawberry.ID
    event_type: EventType
    event_id: str = strawberry.field(description="The `webhook-id` header and payload `id`.")
    status: DeliveryStatus
    attempt_count: int = strawberry.field(description="Attempts since it was (re)queued.")
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_latency_ms: int | None
    last_error: str | None
    delivered_at: datetime | None
    payload: str = strawberry.field(description="The JSON body as sent.")
    attempts: list[WebhookAttempt]

    @classmethod
    def from_row(
        cls, row: WebhookDeliveryRowRecord, attempts: list[WebhookAttemptRecord] | None = None
    ) -> WebhookDelivery:
        return cls(
            id=strawberry.ID(str(ids.encode("WebhookDelivery", row.id))),
            event_type=EventType(row.event_type),
            event_id=row.event_key,
            status=DeliveryStatus(row.status),
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            last_attempt_at=row.last_attempt_at,
            last_status_code=row.last_status_code,
            last_latency_ms=row.last_latency_ms,
            last_error=row.last_error,
            delivered_at=row.delivered_at,
            payload=row.payload,
            attempts=[WebhookAttempt.from_row(a) for a in attempts or []],
        )


@strawberry.type(description="Where a target's notices are delivered, signed.")
class WebhookEndpoint:
    id: strawberry.ID
    target: NoticeTarget
    account_id: relay.GlobalID | None
    url: str
    description: str
    event_types: list[EventType] = strawberry.field(description="Empty: every event.")
    enabled: bool
    created_at: datetime
    previous_secret_valid_until: datetime | None = strawberry.field(
        description="After a rotation, the old secret also signs until then."
    )
    failing_since: datetime | None = strawberry.field(
        description="The first failed attempt since the last success."
    )
    disabled_at: datetime | None = strawberry.field(
        description="When it was disabled for failing for days (enable it to resume)."
    )
    pk: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: WebhookEndpointRecord) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(str(ids.encode("WebhookEndpoint", row.id))),
            target=NoticeTarget(row.target),
            account_id=ids.encode("Account", row.account_id) if row.account_id else None,
            url=row.url,
            description=row.description,
            event_types=[EventType(t) for t in row.event_types.split()],
            enabled=row.enabled,
            created_at=row.created_at,
            previous_secret_valid_until=row.previous_valid_until,
            failing_since=row.failing_since,
            disabled_at=row.disabled_at,
            pk=row.id,
        )

    @strawberry.field(description="Deliveries to this endpoint, newest first.")
    async def deliveries(
        self, info: Info, first: int, after: str | None = None
    ) -> Connection[WebhookDelivery]:
        size = conn_.page_size(first)
        reader = info.context.reader
        found = await reads.endpoint(reader, self.pk)
        page = await reads.deliveries_page(
            reader, found, after_id=conn_.after_pk(after), limit=size + 1
        )
        return conn_.build(
            page.page.rows,
            size,
            page.page.total,
            lambda row: WebhookDelivery.from_row(row, page.attempts.get(row.id)),
        )
