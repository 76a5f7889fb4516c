"""Notices by e-mail (R-ARR-2 delivery decision): the mails are written with the notice,
sent by a worker to a real SMTP server in the test process (aiosmtpd), retried when the
server refuses for now, written as .eml files when no server is configured."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.domain.webhooks import RETRY_SCHEDULE
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.mail_worker import (
    DirectoryTransport,
    MailWorker,
    SmtpTransport,
    mail_transport,
)
from imaging_billing.services.principals import Role
from imaging_billing.services.steps.mail import mail_notice
from imaging_billing.services.steps.uploads import UploadItem, record_uploads
from imaging_billing.store import access, notices
from imaging_billing.store.mail_tables import mail_delivery
from imaging_billing.store.tables import notice

from ..factories import create_account, create_institution
from ..support.smtp import MailServer, smtp_server

SENDER = "Imaging Billing <billing@example.cn>"


class RolledBack(Exception):
    pass


async def add_person(
    services: Services,
    email: str,
    role: Role,
    account_id: int | None,
    *,
    disabled: bool = False,
) -> None:
    now = services.clock.now()
    async with services.db.write() as conn:
        await access.insert_user(
            conn,
            email=email,
            name=email,
            password_hash="-",
            role=role.value,
            account_id=account_id,
            created_at=now,
            created_by="test",
            disabled_at=now if disabled else None,
        )


async def two_accounts_and_their_people(services: Services) -> tuple[int, int]:
    """Alpha with two admins (one disabled) and a viewer, Beta with an admin, an operator."""
    alpha = await create_account(services, name="Alpha Hospital")
    beta = await create_account(services, name="Beta Hospital")
    await add_person(services, "admin@alpha.example.cn", Role.ACCOUNT_ADMIN, alpha)
    await add_person(services, "gone@alpha.example.cn", Role.ACCOUNT_ADMIN, alpha, disabled=True)
    await add_person(services, "viewer@alpha.example.cn", Role.ACCOUNT_VIEWER, alpha)
    await add_person(services, "admin@beta.example.cn", Role.ACCOUNT_ADMIN, beta)
    await add_person(services, "ops@platform.example.cn", Role.OPERATOR, None)
    return alpha, beta


async def upload_into_arrears(services: Services, account_id: int) -> None:
    gateway = await create_institution(services, account_id)
    async with services.db.write() as conn:
        await record_uploads(
            conn,
            account_id,
            [UploadItem(gateway.institution_pk, "1.2.3", None)],
            services.clock.now(),
        )


def smtp_worker(services: Services, server: MailServer) -> MailWorker:
    # No jitter: the schedule is exact, so the test can step the clock to each retry.
    transport = mail_transport(server.url, Path("unused"))
    return MailWorker(services.db, services.clock, transport, sender=SENDER, jitter=lambda: 0.0)


async def mail_rows(services: Services) -> list[sa.Row[tuple[str, str, int, str | None]]]:
    stmt = sa.select(
        mail_delivery.c.recipient,
        mail_delivery.c.status,
        mail_delivery.c.attempts,
        mail_delivery.c.last_error,
    ).order_by(mail_delivery.c.id)
    async with services.db.read() as conn:
        return list((await conn.execute(stmt)).all())


@pytest.fixture
async def server() -> AsyncIterator[MailServer]:
    async with smtp_server() as started:
        yield started


async def test_an_arrears_notice_is_mailed_once_to_the_admins_and_operators(
    services: Services, server: MailServer, clock: ManualClock
) -> None:
    # given two accounts with their people, and an operator
    alpha, _ = await two_accounts_and_their_people(services)
    worker = smtp_worker(services, server)
    # when Alpha goes into arrears and the worker runs, twice
    await upload_into_arrears(services, alpha)
    assert await worker.run_once() == 2
    assert await worker.run_once() == 0
    # then Alpha's enabled admin got the BUSINESS notice and the operator the MANAGEMENT
    # one, once each; Beta's admin, the viewer and the disabled admin got nothing
    assert sorted(m.recipients[0] for m in server.accepted) == [
        "admin@alpha.example.cn",
        "ops@platform.example.cn",
    ]
    assert all(len(m.recipients) == 1 for m in server.accepted)
    mail = server.accepted[0].message
    assert mail["To"] == "admin@alpha.example.cn"
    assert mail["From"] == SENDER
    # and it reads in zh-CN with English below, the figures of the instant in both
    assert mail["Subject"] == "Alpha Hospital：已进入欠费 / Alpha Hospital: arrears have started"
    body = mail.get_content()
    assert body.index("已无可用检查") < body.index("No exams are available")
    assert "  欠费: 1" in body
    assert "  In arrears: 1" in body
    assert "  状态: 欠费中" in body
    assert "  Status: In arrears" in body
    # and the subject travels encoded (RFC 2047), the body as UTF-8
    raw = server.accepted[0].raw
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()
    assert b"=?utf-8?" in head
    # and each mail is recorded as sent, each notice as delivered
    assert [r.status for r in await mail_rows(services)] == ["DELIVERED", "DELIVERED"]
    async with services.db.read() as conn:
        delivered = (await conn.execute(sa.select(notice.c.delivered_at))).scalars().all()
    assert delivered == [clock.now(), clock.now()]


async def test_a_server_refusing_with_451_then_accepting_gets_the_mail_once(
    services: Services, clock: ManualClock
) -> None:
    # given an admin, and a mail server that answers 451 to the first message
    account = await create_account(services, name="Alpha Hospital")
    await add_person(services, "admin@alpha.example.cn", Role.ACCOUNT_ADMIN, account)
    async with smtp_server(["451 4.3.0 try again later"]) as refusing:
        worker = smtp_worker(services, refusing)
        await upload_into_arrears(services, account)
        # when the worker runs at once, then just before and at the first retry
        assert await worker.run_once() == 1
        [row] = await mail_rows(services)
        assert (row.status, row.attempts) == ("PENDING", 1)
        assert row.last_error is not None
        assert "451" in row.last_error
        clock.advance(RETRY_SCHEDULE[1] - timedelta(milliseconds=1))
        assert await worker.run_once() == 0
        clock.advance(timedelta(milliseconds=1))
        assert await worker.run_once() == 1
        clock.advance(timedelta(days=2))
        assert await worker.run_once() == 0
    # then the server refused it once and took it once
    assert refusing.refused == 1
    assert len(refusing.accepted) == 1
    [row] = await mail_rows(services)
    assert (row.status, row.attempts) == ("DELIVERED", 2)


async def test_a_mailbox_refused_for_good_fails_the_mail_at_once(
    services: Services, clock: ManualClock
) -> None:
    # given a mail server that answers 550 (no such mailbox)
    account = await create_account(services)
    await add_person(services, "admin@alpha.example.cn", Role.ACCOUNT_ADMIN, account)
    async with smtp_server(["550 5.1.1 no such mailbox"]) as refusing:
        worker = smtp_worker(services, refusing)
        await upload_into_arrears(services, account)
        # when the worker runs, and again much later
        assert await worker.run_once() == 1
        clock.advance(timedelta(days=2))
        assert await worker.run_once() == 0
    # then the mail is failed with the server's answer, and was not tried again
    [row] = await mail_rows(services)
    assert (row.status, row.attempts) == ("FAILED", 1)
    assert row.last_error is not None
    assert row.last_error.startswith("550")
    assert refusing.refused == 1


async def test_an_unreachable_server_is_retried_on_the_schedule(
    services: Services, clock: ManualClock
) -> None:
    # given an admin, and an SMTP_URL where nothing listens (the server was stopped)
    account = await create_account(services)
    await add_person(services, "admin@alpha.example.cn", Role.ACCOUNT_ADMIN, account)
    async with smtp_server() as stopped:
        url = stopped.url
    worker = MailWorker(
        services.db, services.clock, mail_transport(url, Path("unused")), sender=SENDER
    )
    await upload_into_arrears(services, account)
    # when the worker runs
    assert await worker.run_once() == 1
    # then the failure is recorded and the mail waits for its next attempt
    [row] = await mail_rows(services)
    assert (row.status, row.attempts) == ("PENDING", 1)
    assert row.last_error


async def test_without_smtp_url_mails_are_written_as_eml_files(
    services: Services, tmp_path: Path
) -> None:
    # given an admin, and no SMTP server configured
    account = await create_account(services, name="Alpha Hospital")
    await add_person(services, "admin@alpha.example.cn", Role.ACCOUNT_ADMIN, account)
    outbox = tmp_path / "outbox"
    transport = mail_transport(None, outbox)
    assert isinstance(transport, DirectoryTransport)
    worker = MailWorker(services.db, services.clock, transport, sender=SENDER)
    # when Alpha goes into arrears and the worker runs
    await upload_into_arrears(services, account)
    assert await worker.run_once() == 1
    # then one .eml file holds the mail, readable by any mail program
    [written] = list(outbox.iterdir())
    assert written.suffix == ".eml"
    mail = message_from_bytes(written.read_bytes(), policy=default)
    assert isinstance(mail, EmailMessage)
    assert mail["To"] == "admin@alpha.example.cn"
    assert mail["Subject"].startswith("Alpha Hospital：已进入欠费")
    assert "In arrears: 1" in mail.get_content()


async def upload_then_roll_back(services: Services, account: int, institution_pk: int) -> None:
    async with services.db.write() as conn:
        items = [UploadItem(institution_pk, "1.2.3", None)]
        await record_uploads(conn, account, items, services.clock.now())
        assert await conn.scalar(sa.select(sa.func.count()).select_from(mail_delivery)) == 1
        raise RolledBack


async def test_a_rolled_back_change_leaves_no_mail(services: Services) -> None:
    # given an admin
    account = await create_account(services)
    await add_person(services, "admin@alpha.example.cn", Role.ACCOUNT_ADMIN, account)
    gateway = await create_institution(services, account)
    # when the upload that gives a notice is rolled back (its mail was written with it)
    with pytest.raises(RolledBack):
        await upload_then_roll_back(services, account, gateway.institution_pk)
    # then neither the notice nor its mail is left
    assert await mail_rows(services) == []
    async with services.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(notice)) == 0


async def test_a_notice_written_twice_is_mailed_once_per_person(services: Services) -> None:
    # given a notice already mailed to an admin
    account = await create_account(services)
    await add_person(services, "admin@alpha.example.cn", Role.ACCOUNT_ADMIN, account)
    await upload_into_arrears(services, account)
    # when its mails are written again (a repeat of the code that writes them)
    async with services.db.write() as conn:
        ids = (await conn.execute(sa.select(notice.c.id))).scalars().all()
        for notice_id in ids:
            row = await notices.get_notice(conn, notice_id)
            assert row is not None
            await mail_notice(conn, row, services.clock.now())
    # then there is still one mail per notice and person
    assert [r.recipient for r in await mail_rows(services)] == ["admin@alpha.example.cn"]


async def test_the_server_sends_mail_from_its_lifespan(
    services: Services, server: MailServer, tmp_path: Path
) -> None:
    # given an admin and a queued mail, and a server configured with SMTP_URL
    account = await create_account(services)
    await add_person(services, "admin@alpha.example.cn", Role.ACCOUNT_ADMIN, account)
    await upload_into_arrears(services, account)
    settings = Settings.from_env(
        {"SMTP_URL": server.url, "MAIL_INTERVAL_SECONDS": "0.05", "VAR_DIR": str(tmp_path)}
    )
    settings = dataclasses.replace(settings, sweep_interval_seconds=0, tune_gc=False)
    app = create_app(settings, services)
    # when the server runs, with no request made
    async with app.router.lifespan_context(app):
        assert await asyncio.to_thread(server.arrived.wait, 10)
    # then its mail worker sent the mail
    assert [m.recipients for m in server.accepted] == [["admin@alpha.example.cn"]]


def test_smtp_url_is_read_with_its_credentials_and_tls() -> None:
    # given SMTP URLs with and without TLS
    plain = SmtpTransport.from_url("smtp://bill%40ops:p%40ss@mail.example.cn:2525")
    tls = SmtpTransport.from_url("smtps://mail.example.cn")
    # then the credentials are unquoted, and smtps means TLS on port 465 by default
    assert (plain.hostname, plain.port, plain.username, plain.password) == (
        "mail.example.cn",
        2525,
        "bill@ops",
        "p@ss",
    )
    assert not plain.use_tls
    assert (tls.port, tls.use_tls, tls.username) == (465, True, None)
    with pytest.raises(ValueError, match="SMTP_URL"):
        SmtpTransport.from_url("http://mail.example.cn")
