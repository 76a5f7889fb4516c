"""Webhook endpoints and their deliveries, as a principal may read them: MANAGEMENT
endpoints are the operators', an account's BUSINESS endpoints its admins' (and the
operators'); to anyone else they look unknown."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.errors import RuleViolation
from ...domain.notices import NoticeTarget
from ...store import webhooks
from ...store.records import (
    WebhookAttemptRecord,
    WebhookDeliveryRowRecord,
    WebhookEndpointRecord,
)
from ..reader import Reader
from . import Page


async def endpoints(
    reader: Reader, target: NoticeTarget, account_id: int | None
) -> list[WebhookEndpointRecord]:
    """A target's endpoints; BUSINESS needs the account."""
    principal = reader.principal
    if target is NoticeTarget.MANAGEMENT:
        principal.require_operator()
        account_id = None
    else:
        if account_id is None:
            raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
        principal.require_account_admin(account_id)
    return await reader.run(webhooks.list_endpoints, target.value, account_id)


async def endpoint(reader: Reader, endpoint_id: int) -> WebhookEndpointRecord:
    """MANAGEMENT endpoints: operators; BUSINESS ones: their account's admins and the
    operators; another account's look unknown."""
    found = await reader.run(webhooks.get_endpoint, endpoint_id)
    if found is None:
        raise RuleViolation("WEBHOOK_ENDPOINT_NOT_FOUND")
    if found.account_id is None:
        reader.principal.require_operator()
    else:
        reader.principal.require_account_admin(
            found.account_id, missing="WEBHOOK_ENDPOINT_NOT_FOUND"
        )
    return found


@dataclass(frozen=True)
class DeliveryPage:
    page: Page[WebhookDeliveryRowRecord]
    attempts: dict[int, list[WebhookAttemptRecord]]


async def _deliveries(
    conn: AsyncConnection, endpoint_id: int, after_id: int | None, limit: int
) -> DeliveryPage:
    rows = await webhooks.page_deliveries(conn, endpoint_id, after_id=after_id, limit=limit)
    found: dict[int, list[WebhookAttemptRecord]] = defaultdict(list)
    for attempt in await webhooks.attempts_of(conn, [r.id for r in rows]):
        found[attempt.delivery_id].append(attempt)
    total = await webhooks.count_deliveries(conn, endpoint_id)
    return DeliveryPage(Page(rows, total), dict(found))


async def deliveries_page(
    reader: Reader, endpoint: WebhookEndpointRecord, *, after_id: int | None, limit: int
) -> DeliveryPage:
    """An endpoint's deliveries, newest first, each with its attempts (one statement for
    the attempts of the whole page). `endpoint` was read through `endpoint()`."""
    return await reader.run(_deliveries, endpoint.id, after_id, limit)
