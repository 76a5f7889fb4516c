"""A suspended account (R-ARR-3) through the client: uploads refused and kept in the spool,
backed off, and reported once a recharge has settled the arrears."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imaging_billing.api.ids import encode
from imaging_billing.security import KeyBox
from imaging_billing.services.steps.accounts import add_account, add_institution
from imaging_billing.services.steps.uploads import UploadItem, record_uploads
from imaging_billing.store.db import Database
from imaging_gateway import GatewayClient, Reporter, Spool
from imaging_gateway.spool import PENDING, SENT

from ..support import SERVER_SECRET
from ..support.serving import LiveServer
from .conftest import as_operator

CREDIT = """mutation($a: ID!) { creditExamLot(accountId: $a, mode: VOLUME, quantity: 10000) {
  settled userErrors { code } } }"""


async def _in_arrears_since(url: str, since: datetime) -> dict[str, str]:
    """An account with no lot whose first upload, at `since`, started the arrears clock."""
    db = Database(url)
    try:
        async with db.write() as conn:
            account = await add_account(conn, name="Suspended Hospital", now=since)
            issued = await add_institution(
                conn, account_id=account, name="Site", now=since, keys=KeyBox(SERVER_SECRET)
            )
            item = UploadItem(issued.institution_id, "1.2.826.0.1.8.0")
            await record_uploads(conn, account, [item], since)
        return {
            "accountId": str(encode("Account", account)),
            "institutionId": str(encode("Institution", issued.institution_id)),
            "token": issued.token,
        }
    finally:
        await db.dispose()


@pytest.fixture
def suspended(
    tmp_path: Path, seeded: tuple[Path, dict[str, str]]
) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    server = LiveServer(tmp_path, seeded)
    ids = asyncio.run(_in_arrears_since(server.url, datetime.now(UTC) - timedelta(hours=25)))
    server.start()
    yield server, ids
    server.stop()


def test_refused_while_suspended_then_reported_after_a_recharge(
    suspended: tuple[LiveServer, dict[str, str]], tmp_path: Path
) -> None:
    # given a gateway of an account in arrears for 25 hours
    live, ids = suspended
    client = GatewayClient(live.base, ids["institutionId"], ids["token"])
    reporter = Reporter(client, Spool(tmp_path / "spool.sqlite3"))
    now = datetime.now(UTC)
    reporter.spool_study("1.2.826.0.1.8.1", now - timedelta(minutes=1))
    # when it asks and reports
    permission = client.upload_permission()
    refused = reporter.drain(now)
    # then uploads are not permitted, the study is refused for now and stays spooled
    assert not permission.allowed
    assert (refused.sent, refused.deferred, refused.refused) == (0, 1, 0)
    assert reporter.spool.counts()[PENDING] == 1
    assert client.exam("1.2.826.0.1.8.1") is None
    # when an operator records a lot, and the back-off is over
    credited = as_operator(live, CREDIT, {"a": ids["accountId"]})
    assert credited["creditExamLot"]["settled"] == 1
    drained = reporter.drain(now + timedelta(seconds=3))
    # then the study is reported, and uploads are permitted again
    assert drained.sent == 1
    assert reporter.spool.counts()[SENT] == 1
    assert client.upload_permission().allowed
    exam = client.exam("1.2.826.0.1.8.1")
    assert exam is not None
    assert exam.viewable
