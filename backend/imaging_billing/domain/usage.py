"""Usage series and the run-out forecast shown on the overview (R-EXAM-6, R-GEN-9)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from .clock import local_date
from .exams import Lot
from .prepaid import draw_order


@dataclass(frozen=True)
class DailyUsage:
    day: date
    exams: int


_DAY = timedelta(days=1)


class RunOutReason(StrEnum):
    USED_UP = "USED_UP"  # the last lot is drawn empty before it expires
    LAST_LOT_EXPIRES = "LAST_LOT_EXPIRES"  # what is left expires first
    NOTHING_AVAILABLE = "NOTHING_AVAILABLE"  # nothing is available now
    NO_USAGE = "NO_USAGE"  # no uploads in the window: nothing is drawn


@dataclass(frozen=True)
class LotForecast:
    lot_id: int
    expires_at: datetime
    projected_forfeit: int  # remainder projected to be forfeited at expiry (R-EXAM-2)


@dataclass(frozen=True)
class RunOut:
    average_daily: float
    reason: RunOutReason
    at: datetime | None  # the first moment nothing is available; None with no usage
    days_left: int | None  # whole Asia/Shanghai days from today to `on`
    on: date | None
    lots: tuple[LotForecast, ...] = ()

    @property
    def projected_forfeit_total(self) -> int:
        return sum(lot.projected_forfeit for lot in self.lots)


def daily_series(counts: dict[date, int], today: date, days: int) -> list[DailyUsage]:
    """One point per day, oldest first, zero where nothing was uploaded."""
    days_shown = [today - timedelta(days=back) for back in range(days - 1, -1, -1)]
    return [DailyUsage(day, counts.get(day, 0)) for day in days_shown]


def average_daily(series: list[DailyUsage]) -> float:
    used = sum(point.exams for point in series)
    return used / len(series) if series else 0.0


def run_out(lots: Iterable[Lot], per_day: float, now: datetime) -> RunOut:
    """R-GEN-9: walk the usable lots in draw order (R-EXAM-3) at `per_day` exams a day.

    Each lot is drawn from from the moment the one before it is used up or expires,
    until it is used up or itself expires; what is left at its expiry is forfeited.
    The run-out is the moment the last lot is used up or expires."""
    usable = [lot for lot in draw_order(lots) if lot.usable(now)]
    average = round(per_day, 1)
    if not usable:
        return RunOut(average, RunOutReason.NOTHING_AVAILABLE, now, 0, local_date(now))
    if per_day <= 0:
        forfeits = tuple(LotForecast(lot.id, lot.expires_at, lot.remaining) for lot in usable)
        return RunOut(average, RunOutReason.NO_USAGE, None, None, None, forfeits)
    moment, forecasts, reason = now, [], RunOutReason.USED_UP
    for lot in usable:
        start = max(moment, now)
        days_open = (lot.expires_at - start) / _DAY
        # Compared in days first: a tiny pace would overflow a datetime.
        if lot.remaining / per_day <= days_open:
            forecasts.append(LotForecast(lot.id, lot.expires_at, 0))
            moment, reason = start + timedelta(days=lot.remaining / per_day), RunOutReason.USED_UP
            continue
        drawn = math.floor(days_open * per_day)
        forecasts.append(LotForecast(lot.id, lot.expires_at, lot.remaining - drawn))
        moment, reason = lot.expires_at, RunOutReason.LAST_LOT_EXPIRES
    on = local_date(moment)
    return RunOut(average, reason, moment, (on - local_date(now)).days, on, tuple(forecasts))
