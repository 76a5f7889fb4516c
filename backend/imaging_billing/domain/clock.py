"""Calendar arithmetic (R-GEN-6). Pure: callers pass every instant in."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from .errors import RuleViolation

SHANGHAI = ZoneInfo("Asia/Shanghai")  # R-GEN-6: what people see and count days in


def require_aware(moment: datetime, field: str | None = None) -> datetime:
    """Refuse a naive datetime and normalise an aware one to UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RuleViolation("R_GEN_6_NAIVE_TIME", field)
    return moment.astimezone(UTC)


def add_years(moment: datetime, years: int) -> datetime:
    """The same instant `years` calendar years later; 29 Feb falls back to 28 Feb.

    Counted on the Asia/Shanghai calendar people see (R-GEN-6): a lot bought at
    05:00 on 29 Feb in Shanghai (21:00 UTC the day before) expires on 28 Feb."""
    local = moment.astimezone(SHANGHAI)
    target = local.year + years
    try:
        shifted = local.replace(year=target)
    except ValueError:  # 29 February into a common year
        shifted = local.replace(year=target, day=28)
    return shifted.astimezone(moment.tzinfo)


def local_date(moment: datetime) -> date:
    """The calendar day in Asia/Shanghai (R-GEN-6)."""
    return moment.astimezone(SHANGHAI).date()
