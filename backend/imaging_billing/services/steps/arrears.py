"""The step of every change of arrears (uploads, settlement, voids): the account row and
the notices it triggers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.exams import change_arrears
from ...domain.notices import NoticeKind, notice_rows
from ...store import accounts
from ...store.records import AccountRecord
from .outbox import record_notices


async def apply_arrears_change(
    conn: AsyncConnection, account: AccountRecord, delta: int, now: datetime, **extra: object
) -> None:
    """Write the account's new arrears state and the notices it triggers (R-ARR-2)."""
    change = change_arrears(account.arrears_count, account.arrears_since, delta, now)
    values: dict[str, object] = {"arrears_count": change.count, "arrears_since": change.since}
    rows: list[dict[str, object]] = []
    if change.started:
        rows += notice_rows(NoticeKind.ARREARS_STARTED, account_id=account.id, now=now)
    if change.since is None:
        values["suspension_noticed"] = False
    if change.resumed:
        rows += notice_rows(NoticeKind.UPLOADS_RESUMED, account_id=account.id, now=now)
    await accounts.update_account(conn, account.id, **values, **extra)
    await record_notices(conn, rows, now)
