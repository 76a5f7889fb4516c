"""Read-side use cases: figures, permissions and look-ups shown to people and gateways."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import exams as rules
from ..domain.clock import SHANGHAI, local_date
from ..domain.errors import RuleViolation
from ..domain.usage import DailyUsage, RunOut, average_daily, daily_series, run_out
from ..store import accounts, exams, lots
from .principals import Principal


async def exam_figures(conn: AsyncConnection, account: Any, now: datetime) -> rules.ExamFigures:
    """R-EXAM-6, right at `now` whether or not the expiry sweep has run."""
    rows = await lots.account_lots(conn, account.id)
    return rules.figures([lots.to_lot(row) for row in rows], account.arrears_count, now)


async def visible_account(conn: AsyncConnection, principal: Principal, account_id: int) -> Row[Any]:
    row = await accounts.get_account(conn, account_id)
    if row is None or not principal.can_see_account(row.id):
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    return row


async def visible_institution(
    conn: AsyncConnection, principal: Principal, institution_id: int
) -> Row[Any]:
    row = await accounts.get_institution(conn, institution_id)
    if row is None or not principal.can_see_account(row.account_id):
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    return row


@dataclass(frozen=True)
class Permission:
    institution: Row[Any]
    permission: rules.UploadPermission


async def upload_permission(
    conn: AsyncConnection, principal: Principal, institution_id: int, now: datetime
) -> Permission:
    """R-ARR-5: one indexed read of the account row."""
    institution = await visible_institution(conn, principal, institution_id)
    account = await accounts.get_account(conn, institution.account_id)
    assert account is not None
    return Permission(institution, rules.upload_permission(account.arrears_since, now))


async def find_exam(
    conn: AsyncConnection, principal: Principal, institution_id: int, study_uid: str
) -> Row[Any] | None:
    institution = await visible_institution(conn, principal, institution_id)
    return await exams.by_uid(conn, institution.account_id, study_uid)


MAX_USAGE_DAYS = 366


async def daily_usage(
    conn: AsyncConnection, account_id: int, now: datetime, days: int
) -> list[DailyUsage]:
    """Exams recorded per Shanghai day over the last `days` days, today included."""
    if not 1 <= days <= MAX_USAGE_DAYS:
        raise RuleViolation("PAGE_SIZE", "days")
    today = local_date(now)
    since = datetime.combine(today - timedelta(days=days - 1), time(), SHANGHAI)
    counts = await exams.daily_counts(conn, account_id, since)
    return daily_series(counts, today, days)


FORECAST_DAYS = 30


async def run_out_estimate(conn: AsyncConnection, account: Any, now: datetime) -> RunOut:
    """R-GEN-9: the lots walked in draw order at the last 30 days' pace."""
    series = await daily_usage(conn, account.id, now, FORECAST_DAYS)
    rows = await lots.account_lots(conn, account.id)
    return run_out([lots.to_lot(row) for row in rows], average_daily(series), now)
