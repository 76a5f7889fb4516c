"""Usage series and the run-out estimate shown on the overview (R-EXAM-6)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True)
class DailyUsage:
    day: date
    exams: int


@dataclass(frozen=True)
class RunOut:
    average_daily: float
    days_left: int | None  # None: no recent use, nothing runs out
    on: date | None


def daily_series(counts: dict[date, int], today: date, days: int) -> list[DailyUsage]:
    """One point per day, oldest first, zero where nothing was uploaded."""
    start = today - timedelta(days=days - 1)
    return [
        DailyUsage(start + timedelta(days=i), counts.get(start + timedelta(days=i), 0))
        for i in range(days)
    ]


def run_out(series: list[DailyUsage], available: int, today: date) -> RunOut:
    """At the average daily use of the series, when does `available` run out?"""
    used = sum(point.exams for point in series)
    average = used / len(series) if series else 0.0
    if average <= 0:
        return RunOut(0.0, None, None)
    days_left = math.floor(available / average)
    return RunOut(round(average, 1), days_left, today + timedelta(days=days_left))
