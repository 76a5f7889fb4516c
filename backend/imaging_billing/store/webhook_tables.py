"""Tables of webhook delivery: endpoints, the outbox of events and their deliveries.

An event and its delivery rows are written in the transaction of the change that causes
them (the notice's), so there is never a notice without its deliveries, nor the other way
round. The worker (services/webhook_worker.py) only reads and updates them afterwards.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, table_of


def _ts(nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable)


class WebhookEndpoint(SQLModel, table=True):
    """Where a target's notices go: MANAGEMENT endpoints (no account) are the operators',
    BUSINESS endpoints belong to one account."""

    __tablename__ = "webhook_endpoint"
    __table_args__ = (sa.Index("ix_webhook_endpoint_target", "target", "account_id"),)
    id: int | None = Field(default=None, primary_key=True)
    target: str = Field(max_length=20)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=500)
    # Space-separated event types; empty: every event.
    event_types: str = Field(default="", max_length=1000)
    enabled: bool = True
    # The signing secret sealed with the server secret (security.KeyBox), like institution
    # keys: the server must recompute HMACs, so it cannot keep a one-way hash, and a copy
    # of the database alone yields no secret to sign with.
    secret: str = Field(max_length=200)
    # After a rotation the previous secret signs too, until this instant.
    previous_secret: str | None = Field(default=None, max_length=200)
    previous_valid_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(max_length=200)
    deleted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # The first failed attempt since the last success; an endpoint failing for days is
    # disabled (domain/webhooks.py DISABLE_AFTER) and operators are told.
    failing_since: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    disabled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class WebhookEvent(SQLModel, table=True):
    """One event for one target, as sent (the JSON envelope). `key` is unique: a notice
    (or a paid order) is enqueued once whoever writes it."""

    __tablename__ = "webhook_event"
    __table_args__ = (sa.UniqueConstraint("key", name="uq_webhook_event_key"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100)
    type: str = Field(max_length=60)
    target: str = Field(max_length=20)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    notice_id: int | None = Field(default=None, foreign_key="notice.id", index=True)
    occurred_at: datetime = Field(sa_column=_ts())
    payload: str = Field(max_length=20_000)


class WebhookDelivery(SQLModel, table=True):
    """An event to one endpoint. `next_attempt_at` is when the worker may take it; while
    an attempt is under way it is pushed out by a lease, so a crashed worker's delivery
    is taken again once the lease runs out."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        sa.UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_delivery_event_endpoint"),
        sa.Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        sa.Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="webhook_event.id")
    endpoint_id: int = Field(foreign_key="webhook_endpoint.id")
    status: str = Field(max_length=20)  # PENDING, DELIVERED, FAILED
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    last_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    last_latency_ms: int | None = None
    delivered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempt"
    __table_args__ = (sa.Index("ix_webhook_attempt_delivery", "delivery_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id")
    attempted_at: datetime = Field(sa_column=_ts())
    status_code: int | None = None
    latency_ms: int
    error: str | None = Field(default=None, max_length=500)
    # When the next attempt is due after this one; None: delivered, or given up.
    next_retry_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


webhook_endpoint = table_of(WebhookEndpoint)
webhook_event = table_of(WebhookEvent)
webhook_delivery = table_of(WebhookDelivery)
webhook_attempt = table_of(WebhookAttempt)
