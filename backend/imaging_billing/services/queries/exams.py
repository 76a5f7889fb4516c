"""Lots, exams, figures and forecasts as a principal may read them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain import exams as rules
from ...domain import steady
from ...domain.errors import RuleViolation
from ...domain.usage import DailyUsage, RunOut, average_daily
from ...domain.usage import run_out as forecast
from ...store import exams, lookups, lots
from ...store.records import AccountRecord, ExamRecord, LotRecord
from .. import reading
from ..reader import Reader
from ..reading import may_read
from . import Page
from .accounts import accounts_by_id, visible_institution


async def lots_of_accounts(reader: Reader, account_ids: Sequence[int]) -> list[list[LotRecord]]:
    """Every lot of each visible account, by purchase; none of another account's."""
    found = await reader.run(lookups.lots_of_accounts, account_ids)
    see = reader.principal.can_see_account
    return [found[key] if see(key) else [] for key in account_ids]


async def lots_by_id(reader: Reader, keys: Sequence[int]) -> list[LotRecord | None]:
    found = await reader.run(lookups.lots_by_id, keys)
    return [
        row
        if (row := found.get(key)) is not None
        and may_read(reader.principal, "ExamLot", account_id=row.account_id)
        else None
        for key in keys
    ]


def lots_page(
    account_lots: Sequence[LotRecord],
    *,
    after_id: int | None,
    limit: int,
    unexpired_at: datetime | None,
) -> Page[LotRecord]:
    """A page of an account's lots (by purchase) cut from all of them: an account holds
    tens of lots, and the figures and forecast beside the page read the same ones."""
    kept = [r for r in account_lots if unexpired_at is None or r.expires_at > unexpired_at]
    after = [r for r in kept if after_id is None or r.id > after_id]
    return Page(after[:limit], len(kept))


def rule_lots(account_lots: Sequence[LotRecord]) -> list[rules.Lot]:
    """The lots as the rules take them: made once per request for the figures and the
    forecast beside them (200 lots took 0.5 ms each time)."""
    return [lots.to_lot(row) for row in account_lots]


def figures(
    account: AccountRecord, account_lots: Sequence[rules.Lot], now: datetime
) -> rules.ExamFigures:
    """R-EXAM-6, right at `now` whether or not the expiry sweep has run."""
    return rules.figures(account_lots, account.arrears_count, now)


async def _exams_page(
    conn: AsyncConnection,
    account_id: int,
    narrow: exams.ExamFilter,
    after_id: int | None,
    offset: int,
    limit: int,
) -> Page[ExamRecord]:
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
) -> Page[ExamRecord]:
    """Uploaded exams, newest first, within [since, until) and of one institution."""
    reader.principal.require_account(account_id)
    narrow = exams.ExamFilter(institution_id=institution_id, since=since, until=until)
    return await reader.run(_exams_page, account_id, narrow, after_id, offset, limit)


async def exam_of_account(reader: Reader, account_id: int, study_uid: str) -> ExamRecord | None:
    """R-EXAM-4: the account's exam by its UID."""
    reader.principal.require_account(account_id)
    row = await reader.run(exams.by_uid, account_id, study_uid)
    if row is None or not may_read(
        reader.principal, "Exam", account_id=row.account_id, institution_id=row.institution_id
    ):
        return None
    return row


async def find_exam(reader: Reader, institution_id: int, study_uid: str) -> ExamRecord | None:
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
    reader: Reader, keys: Sequence[tuple[int, int]], now: datetime
) -> list[list[DailyUsage]]:
    """For each (account, days) asked, its uploads per day over the last `days` days.
    The chart and the forecast beside it ask together: each account is read once, over
    the longest window asked of it (not the longest anyone may ask: a year of days
    cost more than the chart), and each window is cut from that read."""
    longest: dict[int, int] = {}
    for account_id, days in keys:
        longest[account_id] = max(days, longest.get(account_id, 0))
    read = {
        account_id: await daily_usage(reader, account_id, now, days)
        for account_id, days in longest.items()
    }
    return [last_days(read[account_id], days) for account_id, days in keys]


def last_days(series: Sequence[DailyUsage], days: int) -> list[DailyUsage]:
    """The last `days` days of a longer series, today included."""
    check_usage_days(days)
    return list(series[-days:])


def check_usage_days(days: int) -> None:
    if not 1 <= days <= reading.MAX_USAGE_DAYS:
        raise RuleViolation("USAGE_DAYS", "days", {"limit": reading.MAX_USAGE_DAYS})


FORECAST_DAYS = reading.FORECAST_DAYS


def run_out(
    account_lots: Sequence[rules.Lot], usage: Sequence[DailyUsage], now: datetime
) -> RunOut:
    """R-GEN-9: the lots walked in draw order at the last 30 days' pace."""
    return forecast(account_lots, _pace(usage), now)


def run_out_changes(
    account_lots: Sequence[rules.Lot], usage: Sequence[DailyUsage], now: datetime
) -> datetime | None:
    """The first instant at which the clock alone changes `run_out` (domain/steady.py)."""
    return steady.run_out_changes(account_lots, _pace(usage), now)


def _pace(usage: Sequence[DailyUsage]) -> float:
    return average_daily(last_days(usage, FORECAST_DAYS))
