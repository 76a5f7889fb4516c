"""Lots, exams, figures and forecasts as a principal may read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain import exams as rules
from ...domain.errors import RuleViolation
from ...domain.usage import DailyUsage, RunOut, average_daily
from ...domain.usage import run_out as forecast
from ...store import exams, lookups, lots
from .. import reading
from ..reader import Reader
from ..reading import may_read
from . import Page
from .accounts import accounts_by_id, visible_institution


async def lots_of_accounts(reader: Reader, account_ids: Sequence[int]) -> list[list[Row[Any]]]:
    """Every lot of each visible account, by purchase; none of another account's."""
    found = await reader.run(lookups.lots_of_accounts, account_ids)
    see = reader.principal.can_see_account
    return [found[key] if see(key) else [] for key in account_ids]


async def lots_by_id(reader: Reader, keys: Sequence[int]) -> list[Row[Any] | None]:
    found = await reader.run(lookups.lots_by_id, keys)
    return [
        row
        if (row := found.get(key)) is not None
        and may_read(reader.principal, "ExamLot", account_id=row.account_id)
        else None
        for key in keys
    ]


def lots_page(
    account_lots: Sequence[Row[Any]],
    *,
    after_id: int | None,
    limit: int,
    unexpired_at: datetime | None,
) -> Page[Row[Any]]:
    """A page of an account's lots (by purchase) cut from all of them: an account holds
    tens of lots, and the figures and forecast beside the page read the same ones."""
    kept = [r for r in account_lots if unexpired_at is None or r.expires_at > unexpired_at]
    after = [r for r in kept if after_id is None or r.id > after_id]
    return Page(after[:limit], len(kept))


def figures(
    account: Row[Any], account_lots: Sequence[Row[Any]], now: datetime
) -> rules.ExamFigures:
    """R-EXAM-6, right at `now` whether or not the expiry sweep has run."""
    return rules.figures([lots.to_lot(row) for row in account_lots], account.arrears_count, now)


async def _exams_page(
    conn: AsyncConnection,
    account_id: int,
    narrow: exams.ExamFilter,
    after_id: int | None,
    offset: int,
    limit: int,
) -> Page[Row[Any]]:
    rows = await exams.page_exams(
        conn, account_id, after_id=after_id, offset=offset, limit=limit, narrow=narrow
    )
    return Page(rows, await exams.count_exams(conn, account_id, narrow))


async def exams_page(
    reader: Reader,
    account_id: int,
    *,
    after_id: int | None,
    offset: int,
    limit: int,
    institution_id: int | None,
    since: datetime | None,
    until: datetime | None,
) -> Page[Row[Any]]:
    """Uploaded exams, newest first, within [since, until) and of one institution."""
    reader.principal.require_account(account_id)
    narrow = exams.ExamFilter(institution_id=institution_id, since=since, until=until)
    return await reader.run(_exams_page, account_id, narrow, after_id, offset, limit)


async def exam_of_account(reader: Reader, account_id: int, study_uid: str) -> Row[Any] | None:
    """R-EXAM-4: the account's exam by its UID."""
    reader.principal.require_account(account_id)
    row = await reader.run(exams.by_uid, account_id, study_uid)
    if row is None or not may_read(
        reader.principal, "Exam", account_id=row.account_id, institution_id=row.institution_id
    ):
        return None
    return row


async def find_exam(reader: Reader, institution_id: int, study_uid: str) -> Row[Any] | None:
    """R-EXAM-4: by institution and UID; a gateway sees only its own uploads. A UID no
    upload could have is refused as such, not answered "no such exam"."""
    institution = await visible_institution(reader, institution_id)
    rules.validate_study_uid(study_uid)
    return await exam_of_account(reader, institution.account_id, study_uid)


async def upload_permission(
    reader: Reader, institution_id: int, now: datetime
) -> rules.UploadPermission:
    """R-ARR-5: may this institution upload now?"""
    institution = await visible_institution(reader, institution_id)
    (account,) = await accounts_by_id(reader, [institution.account_id])
    assert account is not None
    return rules.upload_permission(account.arrears_since, now)


async def daily_usage(
    reader: Reader, account_id: int, now: datetime, days: int
) -> list[DailyUsage]:
    """Exams recorded per Asia/Shanghai day over the last `days` days, today included."""
    reader.principal.require_account(account_id)
    return await reader.run(reading.daily_usage, account_id, now, days)


async def usage_of_accounts(
    reader: Reader, account_ids: Sequence[int], now: datetime
) -> list[list[DailyUsage]]:
    """Each account's uploads per day over the longest window anyone may ask for: the
    chart and the forecast beside it then cut their windows from one read."""
    return [
        await daily_usage(reader, account_id, now, reading.MAX_USAGE_DAYS)
        for account_id in account_ids
    ]


def last_days(series: Sequence[DailyUsage], days: int) -> list[DailyUsage]:
    """The last `days` days of a longer series, today included."""
    if not 1 <= days <= reading.MAX_USAGE_DAYS:
        raise RuleViolation("USAGE_DAYS", "days", {"limit": reading.MAX_USAGE_DAYS})
    return list(series[-days:])


def run_out(account_lots: Sequence[Row[Any]], usage: Sequence[DailyUsage], now: datetime) -> RunOut:
    """R-GEN-9: the lots walked in draw order at the last 30 days' pace."""
    pace = average_daily(last_days(usage, reading.FORECAST_DAYS))
    return forecast([lots.to_lot(row) for row in account_lots], pace, now)
