"""Webhook mutations: endpoints, secret rotation, resending and test events."""

from __future__ import annotations

from datetime import datetime, timedelta

import strawberry

from ...domain.notices import NoticeTarget
from ...domain.webhooks import EventType
from ...services import webhooks
from ..accounts.mutations import account_pk
from ..context import Info
from ..errors import UserError, attempt
from .types import WebhookDelivery, WebhookEndpoint, delivery_pk, endpoint_pk


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None,
        description="The signing secret (`whsec_…`), shown this once: keep it now.",
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteWebhookEndpointPayload:
    deleted: bool = False
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ResendFailedWebhookDeliveriesPayload:
    count: int = strawberry.field(default=0, description="Deliveries queued again.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.input
class WebhookEndpointInput:
    target: NoticeTarget
    account_id: strawberry.ID | None = strawberry.field(
        default=None, description="Required for BUSINESS endpoints."
    )
    url: str
    description: str = ""
    event_types: list[EventType] = strawberry.field(
        default_factory=list, description="Empty: every event."
    )
    enabled: bool = True


def _shown(
    found: webhooks.EndpointWithSecret | None, errors: list[UserError]
) -> WebhookEndpointPayload:
    if found is None:
        return WebhookEndpointPayload(user_errors=errors)
    endpoint = WebhookEndpoint.from_row(found.endpoint)
    return WebhookEndpointPayload(endpoint=endpoint, secret=found.secret, user_errors=errors)


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(description="R-ARR-2: a new endpoint; its secret is shown once.")
    async def create_webhook_endpoint(
        self, info: Info, input: WebhookEndpointInput
    ) -> WebhookEndpointPayload:
        c = info.context

        async def run() -> webhooks.EndpointWithSecret:
            return await webhooks.create_endpoint(
                c.db,
                c.services.keys,
                c.principal,
                target=input.target,
                account_id=account_pk(input.account_id) if input.account_id else None,
                url=input.url,
                description=input.description,
                event_types=input.event_types,
                enabled=input.enabled,
                policy=c.services.webhook_policy,
                now=c.now(),
            )

        found, errors = await attempt(c.lang, run())
        return _shown(found, errors)

    @strawberry.mutation(description="Change an endpoint; what is not given stays.")
    async def update_webhook_endpoint(
        self,
        info: Info,
        id: strawberry.ID,
        url: str | None = None,
        description: str | None = None,
        event_types: list[EventType] | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpointPayload:
        c = info.context

        async def run() -> WebhookEndpoint:
            row = await webhooks.update_endpoint(
                c.db,
                c.principal,
                endpoint_pk(id),
                url=url,
                description=description,
                event_types=event_types,
                enabled=enabled,
                policy=c.services.webhook_policy,
            )
            return WebhookEndpoint.from_row(row)

        endpoint, errors = await attempt(c.lang, run())
        return WebhookEndpointPayload(endpoint=endpoint, user_errors=errors)

    @strawberry.mutation(description="Stop delivering to an endpoint; its history stays.")
    async def delete_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> DeleteWebhookEndpointPayload:
        c = info.context

        async def run() -> bool:
            await webhooks.delete_endpoint(c.db, c.principal, endpoint_pk(id), c.now())
            return True

        deleted, errors = await attempt(c.lang, run())
        return DeleteWebhookEndpointPayload(deleted=bool(deleted), user_errors=errors)

    @strawberry.mutation(
        description="A new signing secret, shown once. The old one keeps signing beside "
        "it for `overlapSeconds` (default a day, at most 7 days) so receivers can switch."
    )
    async def rotate_webhook_secret(
        self, info: Info, id: strawberry.ID, overlap_seconds: int = 86_400
    ) -> WebhookEndpointPayload:
        c = info.context

        async def run() -> webhooks.EndpointWithSecret:
            overlap = timedelta(seconds=max(-1, min(overlap_seconds, 10**9)))
            return await webhooks.rotate_secret(
                c.db, c.services.keys, c.principal, endpoint_pk(id), overlap=overlap, now=c.now()
            )

        found, errors = await attempt(c.lang, run())
        return _shown(found, errors)

    @strawberry.mutation(description="Send a delivery again, with a fresh retry schedule.")
    async def resend_webhook_delivery(
        self, info: Info, id: strawberry.ID
    ) -> WebhookDeliveryPayload:
        c = info.context

        async def run() -> WebhookDelivery:
            row = await webhooks.resend_delivery(c.db, c.principal, delivery_pk(id), c.now())
            return WebhookDelivery.from_row(row)

        delivery, errors = await attempt(c.lang, run())
        return WebhookDeliveryPayload(delivery=delivery, user_errors=errors)

    @strawberry.mutation(
        description="Send again every failed delivery to this endpoint made since `since`."
    )
    async def resend_failed_webhook_deliveries(
        self, info: Info, id: strawberry.ID, since: datetime
    ) -> ResendFailedWebhookDeliveriesPayload:
        c = info.context

        async def run() -> int:
            return await webhooks.resend_failed(
                c.db, c.principal, endpoint_pk(id), since=since, now=c.now()
            )

        count, errors = await attempt(c.lang, run())
        return ResendFailedWebhookDeliveriesPayload(count=count or 0, user_errors=errors)

    @strawberry.mutation(description="Queue a `webhook.test` event to this endpoint.")
    async def send_test_webhook(self, info: Info, id: strawberry.ID) -> WebhookDeliveryPayload:
        c = info.context

        async def run() -> WebhookDelivery:
            row = await webhooks.send_test_event(c.db, c.principal, endpoint_pk(id), c.now())
            return WebhookDelivery.from_row(row)

        delivery, errors = await attempt(c.lang, run())
        return WebhookDeliveryPayload(delivery=delivery, user_errors=errors)
