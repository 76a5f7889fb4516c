"""Webhook delivery across real server processes (R-ARR-2 delivery decision): uvicorn
subprocesses on one database send the outbox to a real receiver on loopback. A server
killed with SIGKILL mid-delivery loses nothing: once its lease runs out, the next
server sends the same message (same `webhook-id`). Two servers on one PostgreSQL
database deliver each notice exactly once, and the notice records when it arrived."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.domain.notices import NoticeTarget
from imaging_billing.services import webhooks
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.steps.uploads import UploadItem, record_uploads
from imaging_billing.store.tables import notice
from imaging_billing.store.webhook_tables import webhook_delivery

from ..factories import create_account, create_institution
from ..support import PostgresTemplate, SqliteTemplate, make_services
from ..support.receiver import Receiver, receiving, verify
from ..support.serving import LiveServer

OPERATOR = Principal(Role.OPERATOR, 1, "operator")
LOOPBACK = webhooks.UrlPolicy(allow_private=True)
LEASE_SECONDS = 3
NOTICES = 16
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


def server(folder: Path, url: str, **env: str) -> LiveServer:
    folder.mkdir()
    return LiveServer(
        folder,
        None,
        database_url=url,
        env={
            "WEBHOOK_ALLOW_PRIVATE": "1",
            "WEBHOOK_INTERVAL_SECONDS": "0.05",
            "MAIL_INTERVAL_SECONDS": "0",
            "VAR_DIR": str(folder),
            **env,
        },
    )


@contextlib.asynccontextmanager
async def writing(url: str) -> AsyncIterator[Services]:
    """The test's own connection to the servers' database, on the wall clock (the
    servers' clock): what it queues is due at once."""
    built = make_services(url, ManualClock(datetime.now(UTC)))
    try:
        yield built
    finally:
        await built.group_commit.close()
        await built.db.dispose()


async def listen(services: Services, receiver: Receiver) -> str:
    """The operators' endpoint, pointing at the receiver; its secret."""
    created = await webhooks.create_endpoint(
        services.db,
        services.keys,
        OPERATOR,
        target=NoticeTarget.MANAGEMENT,
        account_id=None,
        url=receiver.url,
        policy=LOOPBACK,
        now=services.clock.now(),
    )
    return created.secret


async def into_arrears(services: Services, accounts: int) -> None:
    """Each account's first upload finds nothing available: an arrears notice each."""
    for n in range(accounts):
        account_id = await create_account(services, name=f"Hospital {n}")
        gateway = await create_institution(services, account_id)
        async with services.db.write() as conn:
            item = UploadItem(gateway.institution_pk, f"1.2.{n}", None)
            await record_uploads(conn, account_id, [item], services.clock.now())


async def settled(services: Services, count: int) -> list[tuple[str, int]]:
    """Each delivery's status and recorded attempts, once `count` are DELIVERED (the
    worker records an attempt just after the receiver answers)."""

    async def rows() -> list[tuple[str, int]]:
        async with services.db.read() as conn:
            stmt = sa.select(webhook_delivery.c.status, webhook_delivery.c.attempts)
            return [(s, n) for s, n in (await conn.execute(stmt)).all()]

    deadline = asyncio.get_running_loop().time() + 10
    while True:
        found = await rows()
        done = sum(1 for status, _ in found if status == "DELIVERED")
        if done >= count or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


async def notices_of(url: str) -> list[tuple[int, datetime | None]]:
    """The MANAGEMENT notices (the ones with an endpoint) and when each was delivered."""
    async with writing(url) as services, services.db.read() as conn:
        stmt = sa.select(notice.c.id, notice.c.delivered_at).where(
            notice.c.target == NoticeTarget.MANAGEMENT.value
        )
        return [(i, at) for i, at in (await conn.execute(stmt)).all()]


async def until(receiver: Receiver, condition: Callable[[], object], seconds: float) -> None:
    """Wait for what the receiver gets to meet `condition`, at most `seconds`."""

    async def watch() -> None:
        while not condition():
            receiver.arrived.clear()
            await receiver.arrived.wait()

    await asyncio.wait_for(watch(), seconds)


async def test_a_server_killed_mid_delivery_loses_nothing(
    tmp_path: Path, sqlite_template: SqliteTemplate
) -> None:
    url = sqlite_template.fresh()
    first = server(tmp_path / "first", url, WEBHOOK_LEASE_SECONDS=str(LEASE_SECONDS))
    second = server(tmp_path / "second", url, WEBHOOK_LEASE_SECONDS=str(LEASE_SECONDS))
    # given a receiver that holds its first answer, and an arrears notice queued for it
    async with writing(url) as services, receiving(holds=1) as receiver:
        secret = await listen(services, receiver)
        await into_arrears(services, 1)
        try:
            # when a server takes the delivery and is killed while the receiver holds it
            await asyncio.to_thread(first.start)
            await until(receiver, lambda: receiver.received, 10)
            first.kill()
            # and another server starts on the same database
            await asyncio.to_thread(second.start)
            await until(receiver, lambda: len(receiver.received) == 2, LEASE_SECONDS + 15)
            rows = await settled(services, 1)
        finally:
            first.kill()
            second.stop()
    # then the same message arrived again, signed, and was recorded delivered once
    first_try, second_try = receiver.received
    assert first_try.headers["webhook-id"] == second_try.headers["webhook-id"]
    assert first_try.body == second_try.body
    assert verify(secret, second_try)["type"] == "account.arrears_started"
    [(status, attempts)] = rows
    assert (status, attempts) == ("DELIVERED", 1)
    [(_, delivered_at)] = await notices_of(url)
    assert delivered_at is not None


@pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set")
async def test_two_servers_on_one_postgresql_database_deliver_each_notice_once(
    tmp_path: Path, postgres_template: PostgresTemplate | None
) -> None:
    assert postgres_template is not None
    url = await postgres_template.fresh()
    # given two servers on one database, each claiming two deliveries per round
    servers = [server(tmp_path / name, url, WEBHOOK_BATCH="2") for name in ("a", "b")]
    try:
        async with writing(url) as services, receiving() as receiver:
            secret = await listen(services, receiver)
            await asyncio.gather(*(asyncio.to_thread(s.start) for s in servers))
            # when sixteen accounts fall into arrears while both run
            await into_arrears(services, NOTICES)
            ids = lambda: {r.headers["webhook-id"] for r in receiver.received}  # noqa: E731
            await until(receiver, lambda: len(ids()) == NOTICES, 20)
            await asyncio.sleep(1)  # time for a repeat to show, were there one
            rows = await settled(services, NOTICES)
        for s in servers:
            s.stop()
        # then each notice arrived exactly once, signed, and its notice says when
        assert len(receiver.received) == NOTICES
        assert all(
            verify(secret, r)["type"] == "account.arrears_started" for r in receiver.received
        )
        assert all(row == ("DELIVERED", 1) for row in rows), rows
        delivered = await notices_of(url)
        assert len(delivered) == NOTICES
        assert all(at is not None for _, at in delivered)
    finally:
        for s in servers:
            s.kill()
        await postgres_template.drop(url)
