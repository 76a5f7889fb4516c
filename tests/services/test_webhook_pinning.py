"""R-ARR-2 delivery safety against DNS rebinding: a webhook connection goes to an address
the policy checked at that moment, never to one the HTTP client looked up again."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.domain.notices import NoticeTarget
from imaging_billing.services import webhooks
from imaging_billing.services.webhook_worker import WebhookWorker
from imaging_billing.store.webhook_tables import webhook_delivery

from ..factories import create_account
from ..support.receiver import receiving
from .test_webhooks import admin_of, upload_into_arrears

PUBLIC = "93.184.216.34"


def answering(*answers: list[str]) -> Callable[[str, int], object]:
    """A resolver for the name `receiver.invalid` (which no real DNS resolves): each
    look-up gets the next answer, the last one repeating."""
    queue = list(answers)

    async def resolve(host: str, port: int) -> list[str]:
        assert host == "receiver.invalid"
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return resolve


@pytest.fixture
def worker_for(services: Services) -> Callable[[webhooks.UrlPolicy], WebhookWorker]:
    def make(policy: webhooks.UrlPolicy) -> WebhookWorker:
        return WebhookWorker(
            services.db, services.clock, services.keys, policy=policy, jitter=lambda: 0.0
        )

    return make


async def _endpoint(
    services: Services, account_id: int, url: str, policy: webhooks.UrlPolicy
) -> None:
    await webhooks.create_endpoint(
        services.db,
        services.keys,
        admin_of(account_id),
        target=NoticeTarget.BUSINESS,
        account_id=account_id,
        url=url,
        event_types=(),
        policy=policy,
        now=services.clock.now(),
    )


async def test_the_connection_goes_to_the_address_the_policy_resolved(
    services: Services, worker_for: Callable[[webhooks.UrlPolicy], WebhookWorker]
) -> None:
    # given an endpoint named by a host only the policy's resolver knows, on loopback
    account_id = await create_account(services)
    policy = webhooks.UrlPolicy(allow_private=True, resolve=answering(["127.0.0.1"]))  # type: ignore[arg-type]
    worker = worker_for(policy)
    try:
        async with receiving() as receiver:
            url = receiver.url.replace("127.0.0.1", "receiver.invalid")
            await _endpoint(services, account_id, url, policy)
            # when a notice is due and the worker sends it
            await upload_into_arrears(services, account_id)
            assert await worker.run_once() == 1
    finally:
        await worker.close()
    # then it arrived: the socket went to the resolved address, and the request still
    # names the host it was addressed to
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["host"] == f"receiver.invalid:{receiver.port}"


async def test_a_name_that_turns_private_after_the_check_is_refused_at_connection(
    services: Services, worker_for: Callable[[webhooks.UrlPolicy], WebhookWorker]
) -> None:
    # given a name that answers a public address when the endpoint is made and when the
    # worker checks it, then loopback: a rebinding attacker's name
    account_id = await create_account(services)
    policy = webhooks.UrlPolicy(
        allow_private=False,
        resolve=answering([PUBLIC], [PUBLIC], ["127.0.0.1"]),  # type: ignore[arg-type]
    )
    worker = worker_for(policy)
    try:
        async with receiving() as receiver:
            url = receiver.url.replace("127.0.0.1", "receiver.invalid")
            await _endpoint(services, account_id, url, policy)
            await upload_into_arrears(services, account_id)
            # when the worker sends
            assert await worker.run_once() == 1
    finally:
        await worker.close()
    # then nothing reached loopback, and the attempt names the rule that refused it
    assert receiver.received == []
    async with services.db.read() as conn:
        status, error = (
            await conn.execute(sa.select(webhook_delivery.c.status, webhook_delivery.c.last_error))
        ).one()
    assert status == "PENDING"
    assert "R_ARR_2_WEBHOOK_URL_PRIVATE" in error
