"""Until when an answer stays right as the clock moves on, nothing else changing.

Figures derived at read time change with `now` only at known instants: a lot or pack
expires (R-EXAM-2, R-AI-1), arrears turn into a suspension (R-ARR-3), a new
Asia/Shanghai day begins (R-GEN-6: daily usage, the forecast's pace and its dates),
and the run-out forecast's own turning points (R-GEN-9). Each function here names
the first instant after `now` at which its figure may read otherwise; `None` when the
clock alone never changes it. Reusing an answer before that instant shows what
computing it again would show.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from .clock import SHANGHAI, local_date
from .exams import Lot, suspends_at
from .prepaid import draw_order

_DAY = timedelta(days=1)
# Turning points of the forecast come from float arithmetic (days as fractions);
# naming them this much early can only cost a reuse, never show a stale figure.
_MARGIN = timedelta(milliseconds=1)


def earliest(*moments: datetime | None) -> datetime | None:
    present = [moment for moment in moments if moment is not None]
    return min(present) if present else None


def next_midnight(now: datetime) -> datetime:
    """The start of the next Asia/Shanghai day (R-GEN-6)."""
    return _midnight_after(local_date(now))


def _midnight_after(day: date) -> datetime:
    return datetime.combine(day + _DAY, time(), SHANGHAI)


def next_expiry(expiries: Iterable[datetime], now: datetime) -> datetime | None:
    """R-EXAM-2, R-AI-1: the next of these expiry instants; at it the remainder is
    forfeited."""
    return earliest(*(moment for moment in expiries if moment > now))


def status_changes(arrears_since: datetime | None, now: datetime) -> datetime | None:
    """R-ARR-3: arrears become a suspension when the grace ends."""
    deadline = suspends_at(arrears_since)
    return deadline if deadline is not None and deadline > now else None


def run_out_changes(lots: Iterable[Lot], per_day: float, now: datetime) -> datetime | None:
    """R-GEN-9: the first instant at which `usage.run_out(lots, per_day, ·)` may differ
    from its answer at `now` in anything but `at` (which, where it counts from now,
    moves with the clock itself).

    The walk of `run_out` is followed: while a lot is drawn from `now` on, its start
    moves with the clock (an offset from now); once a lot expires before it is used
    up, the next one starts at that fixed expiry. A moving start turns the forecast
    where a lot's use-up meets its expiry and where its forfeit, floor(days open x
    pace), steps down; a moving run-out date turns at the midnight it crosses."""
    lots = list(lots)
    turns = [
        next_expiry((lot.expires_at for lot in lots), now),
        next_midnight(now),
    ]  # usable lots; days_left, `on`
    usable = [lot for lot in draw_order(lots) if lot.usable(now)]
    if usable and per_day > 0:
        offset = timedelta(0)  # the drawn lot's start, less now: it moves with the clock
        for lot in usable:
            days_open = (lot.expires_at - now - offset) / _DAY
            if lot.remaining / per_day <= days_open:  # used up before it expires...
                used_up_in = timedelta(days=lot.remaining / per_day)
                turns.append(_after(now, lot.expires_at - offset - used_up_in))  # ...until then
                offset += used_up_in
                continue
            reach = math.floor(days_open * per_day)  # drawn before it expires
            turns.append(_after(now, lot.expires_at - offset - timedelta(days=reach / per_day)))
            break  # drawn until it expires: the lots after it start at that fixed moment
        else:  # the run-out moment is now + offset: `on` is its day
            turns.append(_after(now, _midnight_after(local_date(now + offset)) - offset))
    return earliest(*turns)


def _after(now: datetime, turn: datetime) -> datetime:
    """A computed turning point, a margin early, and never before `now`."""
    return max(turn - _MARGIN, now)
