"""Calendar arithmetic (R-GEN-6). Pure: callers pass every instant in."""

from __future__ import annotations

from datetime import UTC, datetime

from .errors import RuleViolation


def require_aware(moment: datetime, field: str | None = None) -> datetime:
    """Refuse a naive datetime and normalise an aware one to UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RuleViolation("R_GEN_6_NAIVE_TIME", field)
    return moment.astimezone(UTC)


def add_years(moment: datetime, years: int) -> datetime:
    """The same instant `years` calendar years later; 29 Feb falls back to 28 Feb."""
    target = moment.year + years
    try:
        return moment.replace(year=target)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=target, day=28)
