"""R-ARR-2 delivery safety against DNS rebinding: a webhook connection goes to an address
the policy checked at that moment, never to one the HTTP client looked up again."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.domain.notices import NoticeTarget
from imaging_billing.services import webhooks
from imaging_billing.services.webhook_worker import WebhookWorker
from imaging_billing.store.webhook_tables import webhook_delivery

from ..factories import create_account
from ..support.receiver import Receiver, receiving
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


async def deliver_one(services: Services, policy: webhooks.UrlPolicy) -> tuple[Receiver, str]:
    """An endpoint at `receiver.invalid` (the receiver's port, on loopback), a notice due
    to it, one round of the worker: what the receiver got, and the delivery's last error."""
    account_id = await create_account(services)
    worker = WebhookWorker(services.db, services.clock, services.keys, policy=policy)
    try:
        async with receiving() as receiver:
            await webhooks.create_endpoint(
                services.db,
                services.keys,
                admin_of(account_id),
                target=NoticeTarget.BUSINESS,
                account_id=account_id,
                url=receiver.url.replace("127.0.0.1", "receiver.invalid"),
                event_types=(),
                policy=policy,
                now=services.clock.now(),
            )
            await upload_into_arrears(services, account_id)
            assert await worker.run_once() == 1
    finally:
        await worker.close()
    async with services.db.read() as conn:
        error = (await conn.execute(sa.select(webhook_delivery.c.last_error))).scalar_one()
    return receiver, error or ""


async def test_the_connection_goes_to_the_address_the_policy_resolved(
    services: Services,
) -> None:
    # given an endpoint named by a host only the policy's resolver knows, on loopback
    policy = webhooks.UrlPolicy(allow_private=True, resolve=answering(["127.0.0.1"]))  # type: ignore[arg-type]
    # when a notice is due and the worker sends it
    receiver, error = await deliver_one(services, policy)
    # then it arrived: the socket went to the resolved address, and the request still
    # names the host it was addressed to
    assert error == ""
    assert len(receiver.received) == 1
    assert receiver.received[0].headers["host"] == f"receiver.invalid:{receiver.port}"


async def test_a_name_that_turns_private_after_the_check_is_refused_at_connection(
    services: Services,
) -> None:
    # given a name that answers a public address when the endpoint is made and when the
    # worker checks it, then loopback: a rebinding attacker's name
    policy = webhooks.UrlPolicy(
        allow_private=False,
        resolve=answering([PUBLIC], [PUBLIC], ["127.0.0.1"]),  # type: ignore[arg-type]
    )
    # when the worker sends
    receiver, error = await deliver_one(services, policy)
    # then nothing reached loopback, and the attempt names the rule that refused it
    assert receiver.received == []
    assert "R_ARR_2_WEBHOOK_URL_PRIVATE" in error
