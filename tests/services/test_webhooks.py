"""Notices leave the building (R-ARR-2 delivery decision): the outbox is written with
the change that causes it, a worker sends each delivery to a real HTTP receiver on
loopback, signed per Standard Webhooks and checked with the reference library, retried
on the published schedule and recorded attempt by attempt."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.notices import NoticeTarget
from imaging_billing.domain.webhooks import DISABLE_AFTER, RETRY_SCHEDULE, EventType
from imaging_billing.services import webhooks
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.steps.outbox import enqueue, global_id
from imaging_billing.services.steps.uploads import UploadItem, record_uploads
from imaging_billing.services.sweep import run_sweep
from imaging_billing.services.webhook_worker import LEASE, WebhookWorker
from imaging_billing.store import webhooks as outbox
from imaging_billing.store.db import Database
from imaging_billing.store.tables import notice
from imaging_billing.store.webhook_tables import webhook_attempt, webhook_delivery, webhook_event

from ..factories import create_account, create_institution, credit_lot
from ..support.receiver import Receiver, receiving, reference_clock, verifies, verify

OPERATOR = Principal(Role.OPERATOR, 1, "operator")
LOOPBACK = webhooks.UrlPolicy(allow_private=True)
PUBLIC_ONLY = webhooks.UrlPolicy(allow_private=False)


def admin_of(account_id: int) -> Principal:
    return Principal(Role.ACCOUNT_ADMIN, 7, "admin", account_id=account_id, kind="user")


@pytest.fixture
async def worker(services: Services) -> AsyncIterator[WebhookWorker]:
    # No jitter: the schedule is exact, so the test can step the clock to each retry.
    built = WebhookWorker(
        services.db, services.clock, services.keys, policy=LOOPBACK, jitter=lambda: 0.0
    )
    yield built
    await built.close()


async def endpoint_for(
    services: Services,
    receiver: Receiver,
    *,
    account_id: int | None,
    event_types: tuple[EventType, ...] = (),
) -> webhooks.EndpointWithSecret:
    target = NoticeTarget.BUSINESS if account_id else NoticeTarget.MANAGEMENT
    principal = admin_of(account_id) if account_id else OPERATOR
    return await webhooks.create_endpoint(
        services.db,
        services.keys,
        principal,
        target=target,
        account_id=account_id,
        url=receiver.url,
        event_types=event_types,
        policy=LOOPBACK,
        now=services.clock.now(),
    )


async def upload_into_arrears(services: Services, account_id: int) -> None:
    gateway = await create_institution(services, account_id)
    async with services.db.write() as conn:
        await record_uploads(
            conn,
            account_id,
            [UploadItem(gateway.institution_pk, "1.2.3", None)],
            services.clock.now(),
        )


async def count(services: Services, table: sa.Table) -> int:
    async with services.db.read() as conn:
        return int((await conn.execute(sa.select(sa.func.count()).select_from(table))).scalar_one())


async def test_an_arrears_notice_reaches_both_platforms_signed_per_standard_webhooks(
    services: Services,
    worker: WebhookWorker,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an account with a BUSINESS endpoint and the platform's MANAGEMENT endpoint
    account_id = await create_account(services, name="Alpha Hospital")
    async with receiving() as business, receiving() as management:
        mine = await endpoint_for(services, business, account_id=account_id)
        ops = await endpoint_for(services, management, account_id=None)
        # when an upload finds nothing available (arrears start) and the worker runs
        await upload_into_arrears(services, account_id)
        sent = await worker.run_once()
    # then each receiver got the ARREARS_STARTED event once, verified by the reference
    # library with its own endpoint's secret and not with the other's
    assert sent == 2
    assert len(business.received) == len(management.received) == 1
    with reference_clock(monkeypatch, clock):
        event = verify(mine.secret, business.received[0])
        assert verify(ops.secret, management.received[0])["data"]["target"] == "MANAGEMENT"
        assert not verifies(ops.secret, business.received[0])
    assert event["type"] == "account.arrears_started"
    assert event["version"] == 1
    assert event["account"] == {"id": str(encode("Account", account_id)), "name": "Alpha Hospital"}
    assert event["occurredAt"] == clock.now().isoformat().replace("+00:00", "Z")
    # and the figures at that instant travel with it, so a receiver need not call back
    assert event["data"]["figures"]["arrears"] == 1
    assert event["data"]["figures"]["status"] == "IN_ARREARS"
    assert business.received[0].headers["webhook-id"] == event["id"]
    # and both notices are marked delivered
    async with services.db.read() as conn:
        delivered = (await conn.execute(sa.select(notice.c.delivered_at))).scalars().all()
    assert delivered == [clock.now(), clock.now()]


async def test_a_receiver_failing_three_times_gets_the_event_once_more_on_the_schedule(
    services: Services, worker: WebhookWorker, clock: ManualClock
) -> None:
    # given a MANAGEMENT endpoint whose receiver answers 500 three times, then 200
    account_id = await create_account(services)
    async with receiving([500, 500, 500]) as receiver:
        await endpoint_for(services, receiver, account_id=None)
        await upload_into_arrears(services, account_id)
        start = clock.now()
        # when the worker runs at once, and again as the clock reaches each retry
        assert await worker.run_once() == 1
        for wait in RETRY_SCHEDULE[1:4]:
            clock.advance(wait - timedelta(milliseconds=1))
            assert await worker.run_once() == 0  # not due yet
            clock.advance(timedelta(milliseconds=1))
            assert await worker.run_once() == 1
        # then nothing more is sent however long we wait
        clock.advance(timedelta(days=3))
        assert await worker.run_once() == 0
    # and the receiver saw four requests of one message: three refused, one taken
    assert len(receiver.received) == 4
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    async with services.db.read() as conn:
        attempts = (
            await conn.execute(
                sa.select(
                    webhook_attempt.c.status_code,
                    webhook_attempt.c.attempted_at,
                    webhook_attempt.c.next_retry_at,
                ).order_by(webhook_attempt.c.id)
            )
        ).all()
        status = (await conn.execute(sa.select(webhook_delivery.c.status))).scalar_one()
    assert [a.status_code for a in attempts] == [500, 500, 500, 200]
    offsets = [a.attempted_at - start for a in attempts]
    assert offsets == [
        timedelta(0),
        timedelta(seconds=5),
        timedelta(seconds=5, minutes=5),
        timedelta(seconds=5, minutes=35),
    ]
    assert [a.next_retry_at for a in attempts] == [
        attempts[1].attempted_at,
        attempts[2].attempted_at,
        attempts[3].attempted_at,
        None,
    ]
    assert status == "DELIVERED"


async def test_a_delivery_is_failed_once_the_schedule_is_used_up(
    services: Services, worker: WebhookWorker, clock: ManualClock
) -> None:
    # given a receiver that always answers 503
    account_id = await create_account(services)
    async with receiving([503] * 20) as receiver:
        await endpoint_for(services, receiver, account_id=account_id)
        await upload_into_arrears(services, account_id)
        # when the clock runs through the whole schedule
        for wait in RETRY_SCHEDULE:
            clock.advance(wait)
            await worker.run_once()
        clock.advance(timedelta(days=2))
        await worker.run_once()
    # then it was tried once per step of the schedule, and is failed, with no next retry
    assert len(receiver.received) == len(RETRY_SCHEDULE)
    async with services.db.read() as conn:
        row = (
            await conn.execute(
                sa.select(webhook_delivery.c.status, webhook_delivery.c.next_attempt_at)
            )
        ).one()
        delivered = (await conn.execute(sa.select(notice.c.delivered_at))).scalars().all()
    assert tuple(row) == ("FAILED", None)
    assert delivered == [None, None]


async def test_a_ledger_change_that_rolls_back_leaves_no_notice_and_no_delivery(
    services: Services,
) -> None:
    # given a MANAGEMENT endpoint listening
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    async with receiving() as receiver:
        await endpoint_for(services, receiver, account_id=None)
    item = UploadItem(gateway.institution_pk, "1.2.3", None)

    async def upload_that_fails_after_writing() -> None:
        async with services.db.write() as conn:
            await record_uploads(conn, account_id, [item], services.clock.now())
            # inside the transaction the arrears notice and its delivery are there
            assert await count_in(conn, webhook_delivery) == 1
            raise RuntimeError("the ledger change failed")

    # when an upload into arrears is written in a transaction that then fails
    with pytest.raises(RuntimeError, match="ledger change failed"):
        await upload_that_fails_after_writing()
    # then neither the notice nor its event nor its delivery exists
    assert await count(services, notice) == 0
    assert await count(services, webhook_event) == 0
    assert await count(services, webhook_delivery) == 0


async def count_in(conn: object, table: sa.Table) -> int:
    result = await conn.execute(sa.select(sa.func.count()).select_from(table))  # type: ignore[attr-defined]
    return int(result.scalar_one())


async def test_an_event_is_enqueued_once_however_often_it_is_written(services: Services) -> None:
    # given a MANAGEMENT endpoint
    account_id = await create_account(services)
    async with receiving() as receiver:
        await endpoint_for(services, receiver, account_id=None)
    # when the same event key is enqueued twice (two instances writing the same notice)
    async with services.db.write() as conn:
        for _ in range(2):
            await enqueue(
                conn,
                EventType.LOW_BALANCE,
                key="ntc_same",
                target=NoticeTarget.MANAGEMENT,
                account_id=account_id,
                data={},
                now=services.clock.now(),
            )
    # then one event and one delivery exist
    assert await count(services, webhook_event) == 1
    assert await count(services, webhook_delivery) == 1


async def test_an_endpoint_gets_only_the_event_types_it_chose(
    services: Services, worker: WebhookWorker, clock: ManualClock
) -> None:
    # given one endpoint for low balance only and one for every event
    account_id = await create_account(services)
    lot_id = await credit_lot(services, account_id, quantity=10_000)
    async with receiving() as low_only, receiving() as everything:
        await endpoint_for(
            services, low_only, account_id=account_id, event_types=(EventType.LOW_BALANCE,)
        )
        await endpoint_for(services, everything, account_id=account_id)
        # when a lot comes within 30 days of expiry and the sweep notices it
        clock.advance(timedelta(days=340))
        await run_sweep(services.db, clock.now())
        await worker.run_once()
    # then only the endpoint taking every event got the lot warning, naming the lot
    assert low_only.received == []
    [got] = everything.received
    event = json.loads(got.body)
    assert event["type"] == "lot.expiring_30d"
    assert event["data"]["lotId"] == global_id("ExamLot", lot_id) == str(encode("ExamLot", lot_id))


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://example.com/hook", "R_ARR_2_WEBHOOK_URL_SCHEME"),
        ("file:///etc/passwd", "R_ARR_2_WEBHOOK_URL_SCHEME"),
        ("http://127.0.0.1:8000/hook", "R_ARR_2_WEBHOOK_URL_PRIVATE"),
        ("http://localhost/hook", "R_ARR_2_WEBHOOK_URL_PRIVATE"),
        ("http://[::1]/hook", "R_ARR_2_WEBHOOK_URL_PRIVATE"),
        ("http://10.1.2.3/hook", "R_ARR_2_WEBHOOK_URL_PRIVATE"),
        ("http://192.168.0.1/hook", "R_ARR_2_WEBHOOK_URL_PRIVATE"),
        ("http://169.254.169.254/latest/meta-data", "R_ARR_2_WEBHOOK_URL_PRIVATE"),
        ("http://[::ffff:127.0.0.1]/hook", "R_ARR_2_WEBHOOK_URL_PRIVATE"),
        ("http://user:pw@example.com/hook", "R_ARR_2_WEBHOOK_URL_INVALID"),
        ("https://", "R_ARR_2_WEBHOOK_URL_INVALID"),
        ("not a url", "R_ARR_2_WEBHOOK_URL_INVALID"),
    ],
)
async def test_endpoint_urls_outside_the_rules_are_refused_naming_the_rule(
    services: Services, url: str, code: str
) -> None:
    # given an account admin; when she points an endpoint at the URL
    account_id = await create_account(services)
    with pytest.raises(RuleViolation) as refused:
        await webhooks.create_endpoint(
            services.db,
            services.keys,
            admin_of(account_id),
            target=NoticeTarget.BUSINESS,
            account_id=account_id,
            url=url,
            policy=PUBLIC_ONLY,
            now=services.clock.now(),
        )
    # then it is refused with the rule it breaks, on the url field, and nothing is kept
    assert (refused.value.code, refused.value.field) == (code, "url")
    assert await count(services, webhook_delivery) == 0


async def test_admins_manage_their_account_endpoints_and_only_operators_management_ones(
    services: Services,
) -> None:
    # given two accounts
    mine = await create_account(services, name="Mine")
    other = await create_account(services, name="Other")
    async with receiving() as receiver:
        url = receiver.url

    async def create(principal: Principal, target: NoticeTarget, account_id: int | None) -> str:
        try:
            await webhooks.create_endpoint(
                services.db,
                services.keys,
                principal,
                target=target,
                account_id=account_id,
                url=url,
                policy=LOOPBACK,
                now=services.clock.now(),
            )
        except RuleViolation as refused:
            return refused.code
        return "ok"

    viewer = Principal(Role.ACCOUNT_VIEWER, 8, "viewer", account_id=mine, kind="user")
    # when each tries; then only the rightful ones succeed
    assert await create(admin_of(mine), NoticeTarget.BUSINESS, mine) == "ok"
    assert await create(admin_of(mine), NoticeTarget.BUSINESS, other) == "ACCOUNT_NOT_FOUND"
    assert await create(admin_of(mine), NoticeTarget.MANAGEMENT, None) == "FORBIDDEN"
    assert await create(viewer, NoticeTarget.BUSINESS, mine) == "FORBIDDEN"
    assert await create(OPERATOR, NoticeTarget.MANAGEMENT, None) == "ok"
    assert await create(OPERATOR, NoticeTarget.BUSINESS, other) == "ok"


async def test_a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends(
    services: Services,
    worker: WebhookWorker,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given an endpoint whose secret is rotated with a one-hour overlap
    account_id = await create_account(services)
    async with receiving() as receiver:
        created = await endpoint_for(services, receiver, account_id=account_id)
        admin = admin_of(account_id)
        rotated = await webhooks.rotate_secret(
            services.db,
            services.keys,
            admin,
            created.endpoint.id,
            overlap=timedelta(hours=1),
            now=clock.now(),
        )
        # when a test event is sent during the overlap, and another after it
        await webhooks.send_test_event(services.db, admin, created.endpoint.id, clock.now())
        await worker.run_once()
        clock.advance(timedelta(hours=1))
        await webhooks.send_test_event(services.db, admin, created.endpoint.id, clock.now())
        await worker.run_once()
    during, after = receiver.received
    # then the reference library accepts the first with either secret, the second only
    # with the new one; the secrets differ and are whsec_ + base64 of 32 bytes
    assert rotated.secret != created.secret
    assert rotated.secret.startswith("whsec_")
    assert len(rotated.secret) == 6 + 44
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    with reference_clock(monkeypatch, clock):
        clock.advance(-timedelta(hours=1))
        assert verifies(created.secret, during)
        assert verifies(rotated.secret, during)
        assert verify(rotated.secret, during)["type"] == "webhook.test"
        clock.advance(timedelta(hours=1))
        assert verifies(rotated.secret, after)
        assert not verifies(created.secret, after)


async def test_a_delivery_never_runs_inside_the_request_that_caused_it(
    services: Services,
) -> None:
    # given a MANAGEMENT endpoint whose receiver is listening
    account_id = await create_account(services)
    async with receiving() as receiver:
        await endpoint_for(services, receiver, account_id=None)
        # when an upload causes a notice, and no worker runs
        await upload_into_arrears(services, account_id)
    # then the receiver heard nothing: the delivery waits in the outbox
    assert receiver.received == []
    async with services.db.read() as conn:
        status = (await conn.execute(sa.select(webhook_delivery.c.status))).scalar_one()
    assert status == "PENDING"


async def test_a_delivery_claimed_by_a_worker_that_died_is_sent_once_its_lease_runs_out(
    services: Services, worker: WebhookWorker, clock: ManualClock
) -> None:
    # given a due delivery claimed by a worker that then died before sending it
    account_id = await create_account(services)
    async with receiving() as receiver:
        await endpoint_for(services, receiver, account_id=None)
        await upload_into_arrears(services, account_id)
        async with services.db.write() as conn:
            assert len(await outbox.claim_due(conn, clock.now(), clock.now() + LEASE, 10)) == 1
        # when another worker looks before the lease ends, and after
        assert await worker.run_once() == 0
        clock.advance(LEASE)
        assert await worker.run_once() == 1
    # then the event was sent, once
    assert len(receiver.received) == 1


async def test_two_server_instances_deliver_each_event_once(
    services: Services, clock: ManualClock
) -> None:
    # given twelve queued test events and two workers, each on its own engine (as two
    # server processes on one database), taking three deliveries per round
    account_id = await create_account(services)
    other = Database(services.db.url)
    workers = [
        WebhookWorker(db, clock, services.keys, policy=LOOPBACK, batch=3)
        for db in (services.db, other)
    ]
    async with receiving() as receiver:
        created = await endpoint_for(services, receiver, account_id=account_id)
        for _ in range(12):
            await webhooks.send_test_event(
                services.db, admin_of(account_id), created.endpoint.id, clock.now()
            )

        async def drain(worker: WebhookWorker) -> int:
            sent = 0
            while taken := await worker.run_once():
                sent += taken
            return sent

        # when both drain the queue at once
        counts = await asyncio.gather(*(drain(w) for w in workers))
    for worker in workers:
        await worker.close()
    await other.dispose()
    # then every event arrived exactly once, and both took part
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == len(set(ids)) == 12
    assert sum(counts) == 12
    assert all(counts), counts


async def test_an_endpoint_failing_for_days_is_disabled_and_the_operators_are_told(
    services: Services, worker: WebhookWorker, clock: ManualClock
) -> None:
    # given an account's endpoint that never answers 2xx, and the operators' endpoint
    account_id = await create_account(services)
    admin = admin_of(account_id)
    async with receiving([503] * 50) as broken, receiving() as operators:
        mine = await endpoint_for(services, broken, account_id=account_id)
        await endpoint_for(services, operators, account_id=None)
        # when it fails at once, and still fails four days on
        await webhooks.send_test_event(services.db, admin, mine.endpoint.id, clock.now())
        await worker.run_once()
        first_failure = clock.now()
        clock.advance(DISABLE_AFTER - timedelta(days=1))
        await webhooks.send_test_event(services.db, admin, mine.endpoint.id, clock.now())
        await worker.run_once()
        still_on = await endpoint_state(services, mine.endpoint.id)
        # and again once it has failed for the whole period
        clock.advance(timedelta(days=1))
        await webhooks.send_test_event(services.db, admin, mine.endpoint.id, clock.now())
        await worker.run_once()
        await worker.run_once()  # the operators' event, queued by the last failure
        disabled = await endpoint_state(services, mine.endpoint.id)
        # then nothing more goes to it
        tried = len(broken.received)
        clock.advance(timedelta(days=2))
        await worker.run_once()
    assert still_on == (True, first_failure, None)
    assert disabled == (False, first_failure, clock.now() - timedelta(days=2))
    assert len(broken.received) == tried
    # and the operators heard which endpoint, and since when it has failed
    [told] = [json.loads(r.body) for r in operators.received]
    assert told["type"] == "webhook.endpoint_disabled"
    assert told["data"]["endpointId"] == global_id("WebhookEndpoint", mine.endpoint.id)
    assert told["data"]["failingSince"] == first_failure.isoformat()
    # when an admin enables it again, the days of failure are forgotten
    await webhooks.update_endpoint(
        services.db, admin, mine.endpoint.id, enabled=True, policy=LOOPBACK
    )
    assert await endpoint_state(services, mine.endpoint.id) == (True, None, None)


async def endpoint_state(services: Services, endpoint_id: int) -> tuple[bool, object, object]:
    async with services.db.read() as conn:
        found = await outbox.get_endpoint(conn, endpoint_id)
    assert found is not None
    return found.enabled, found.failing_since, found.disabled_at
