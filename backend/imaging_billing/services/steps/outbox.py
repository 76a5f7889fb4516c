"""The transactional outbox (R-ARR-2 delivery decision): a notice and the webhook
deliveries it owes are written in one transaction, the one of the ledger change that
causes the notice. The worker (services/webhook_worker.py) sends them afterwards.

Every notice of the services is written through `record_notices`; nothing is enqueued
when its target has no enabled endpoint taking the event, so an upload pays for the
outbox only when a notice is due and someone listens. Each event has a unique key
(the notice's, or the paid order's and target's): it is enqueued once however often
the code that writes it runs.

The same transaction writes the notice's e-mails to the people behind its target
(services/steps/mail.py), sent by the mail worker."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.notices import NoticeKind, NoticeTarget
from ...domain.webhooks import EVENT_OF_NOTICE, EventType, envelope, wants
from ...store import notices, webhooks
from ...store.records import NoticeRecord
from .mail import mail_notice
from .snapshot import account_snapshot, global_id


async def record_notices(
    conn: AsyncConnection, rows: Sequence[Mapping[str, object]], now: datetime
) -> list[NoticeRecord]:
    """Write the notices and, for each, an event to every enabled endpoint of its target."""
    written = await notices.append(conn, rows)
    for row in written:
        await mail_notice(conn, row, now)
        event_type = EVENT_OF_NOTICE[NoticeKind(row.kind)]
        data: dict[str, object] = {
            "noticeId": global_id("Notice", row.id),
            "target": row.target,
            **json.loads(row.detail),
        }
        if row.lot_id is not None:
            data["lotId"] = global_id("ExamLot", row.lot_id)
        await enqueue(
            conn,
            event_type,
            key=f"ntc_{row.id}",
            target=NoticeTarget(row.target),
            account_id=row.account_id,
            data=data,
            now=now,
            notice_id=row.id,
        )
    return written


async def record_order_paid(
    conn: AsyncConnection, *, order_id: int, account_id: int, data: dict[str, object], now: datetime
) -> None:
    """An order paid and fulfilled (R-GEN-4): an event to both platforms."""
    data = {"orderId": global_id("Order", order_id), **data}
    await record_event(conn, EventType.ORDER_PAID, f"ord_{order_id}", account_id, data, now)


async def record_event(
    conn: AsyncConnection,
    event_type: EventType,
    key: str,
    account_id: int,
    data: dict[str, object],
    now: datetime,
) -> None:
    """An event that is news for systems, not a notice for people (no mail): to both
    platforms, once per `key` and target."""
    for target in NoticeTarget:
        await enqueue(
            conn,
            event_type,
            key=f"{key}_{target.value.lower()}",
            target=target,
            account_id=account_id,
            data={**data, "target": target.value},
            now=now,
        )


async def enqueue(
    conn: AsyncConnection,
    event_type: EventType,
    *,
    key: str,
    target: NoticeTarget,
    account_id: int | None,
    data: dict[str, object],
    now: datetime,
    notice_id: int | None = None,
    only: int | None = None,
) -> int | None:
    """The event's id, when some endpoint takes it and it was not enqueued before.
    `only`: to that one endpoint (a test event), whatever its filter."""
    if only is not None:
        endpoints = [only]
    else:
        scope = account_id if target is NoticeTarget.BUSINESS else None
        endpoints = [
            endpoint_id
            for endpoint_id, chosen in await webhooks.enabled_endpoints(conn, target.value, scope)
            if wants(chosen, event_type.value)
        ]
    if not endpoints:
        return None
    account, snapshot = (
        (None, {}) if account_id is None else await account_snapshot(conn, account_id, now)
    )
    payload = envelope(
        event_type,
        event_id=key,
        occurred_at=now,
        account=account,
        data={**data, "figures": snapshot} if snapshot else data,
    )
    event_id = await webhooks.insert_event(
        conn,
        key=key,
        type=event_type.value,
        target=target.value,
        account_id=account_id,
        notice_id=notice_id,
        occurred_at=now,
        payload=payload,
    )
    if event_id is not None:
        await webhooks.insert_deliveries(conn, event_id, endpoints, now)
    return event_id


async def disable_failing_endpoint(
    conn: AsyncConnection,
    *,
    endpoint_id: int,
    account_id: int | None,
    target: NoticeTarget,
    url: str,
    failing_since: datetime,
    now: datetime,
) -> None:
    """Stop sending to an endpoint that has failed for days, and tell the operators
    (its pending deliveries wait; re-enabling it sends them)."""
    await webhooks.update_endpoint(conn, endpoint_id, enabled=False, disabled_at=now)
    await enqueue(
        conn,
        EventType.ENDPOINT_DISABLED,
        key=f"dis_{endpoint_id}_{int(now.timestamp())}",
        target=NoticeTarget.MANAGEMENT,
        account_id=account_id,
        data={
            "endpointId": global_id("WebhookEndpoint", endpoint_id),
            "endpointTarget": target.value,
            "url": url,
            "failingSince": failing_since.isoformat(),
        },
        now=now,
    )
