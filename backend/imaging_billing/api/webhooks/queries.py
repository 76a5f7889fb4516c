"""Webhook queries: a target's endpoints (their deliveries hang off each endpoint)."""

from __future__ import annotations

import strawberry

from ...domain.notices import NoticeTarget
from ...services.queries import webhooks as reads
from ..accounts.mutations import account_pk
from ..context import Info
from .types import WebhookEndpoint, endpoint_pk


@strawberry.type
class WebhookQuery:
    @strawberry.field(
        description="R-ARR-2: where a target's notices are delivered. MANAGEMENT: "
        "operators; BUSINESS: the account's admins (and operators), `accountId` required."
    )
    async def webhook_endpoints(
        self, info: Info, target: NoticeTarget, account_id: strawberry.ID | None = None
    ) -> list[WebhookEndpoint]:
        account = account_pk(account_id) if account_id is not None else None
        rows = await reads.endpoints(info.context.reader, target, account)
        return [WebhookEndpoint.from_row(row) for row in rows]

    @strawberry.field(description="One endpoint, with its deliveries.")
    async def webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        row = await reads.endpoint(info.context.reader, endpoint_pk(id))
        return WebhookEndpoint.from_row(row)
