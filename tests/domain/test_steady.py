"""domain/steady: an answer is the same at every instant before the turn it names.

Each property computes the figure at `now` and again at instants up to the turn
(just before it, and at random points between): all must agree. At the turn itself
the figure must really change for the exact instants (expiry, suspension, midnight),
or the turn would be needlessly early; for the forecast's computed turns an early
turn is allowed (it only costs a reuse), a late one never.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from imaging_billing.domain.clock import local_date
from imaging_billing.domain.exams import ARREARS_GRACE, Lot, account_status, figures
from imaging_billing.domain.steady import (
    next_expiry,
    next_midnight,
    run_out_changes,
    status_changes,
)
from imaging_billing.domain.usage import run_out

from .test_forecast import NOW
from .test_forecast import lot as forecast_lot

TICK = timedelta(microseconds=1)


def lot(lot_id: int, remaining: int, expires_in: timedelta) -> Lot:
    return forecast_lot(lot_id, remaining, expires_in / timedelta(days=1))


def forecast_seen(lots: list[Lot], per_day: float, at: datetime) -> object:
    """The forecast as a reader sees it, less `at` (which moves with the clock)."""
    return dataclasses.replace(run_out(lots, per_day, at), at=None)


lots_strategy = st.lists(
    st.tuples(
        st.integers(0, 10_000),
        st.timedeltas(timedelta(days=-10), timedelta(days=400)),
    ),
    max_size=6,
)
paces = st.one_of(st.just(0.0), st.floats(0.01, 3_000, allow_nan=False))


@settings(max_examples=400, deadline=None)
@given(lots_strategy, paces, st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_the_forecast_holds_until_its_turn(
    specs: list[tuple[int, timedelta]], per_day: float, fractions: list[float]
) -> None:
    lots = [lot(i + 1, remaining, expires_in) for i, (remaining, expires_in) in enumerate(specs)]
    turn = run_out_changes(lots, per_day, NOW)
    assert turn is not None  # a new day always comes
    assert turn >= NOW
    assert turn <= next_midnight(NOW)
    seen = forecast_seen(lots, per_day, NOW)
    span = turn - NOW
    probes = [NOW + span * f for f in fractions] + [max(NOW, turn - TICK)]
    for probe in probes:
        if probe < turn:
            assert forecast_seen(lots, per_day, probe) == seen, (probe, turn)


def test_a_forfeit_steps_down_at_the_turn() -> None:
    # 100 a day, 10,000 left, 30 days open: 3,000 drawn, 7,000 forfeited; every 864 s
    # one exam fewer is drawn before the expiry.
    lots = [lot(1, 10_000, timedelta(days=30, seconds=400))]
    turn = run_out_changes(lots, 100.0, NOW)
    assert turn is not None
    assert timedelta(seconds=399) < turn - NOW <= timedelta(seconds=400)
    before = run_out(lots, 100.0, NOW).lots[0].projected_forfeit
    after = run_out(lots, 100.0, turn + timedelta(milliseconds=2)).lots[0].projected_forfeit
    assert (before, after) == (10_000 - 3_000, 10_000 - 2_999)


def test_a_lot_used_up_just_in_time_turns_when_it_no_longer_would_be() -> None:
    # 100 left at 100 a day, expiring in a day and an hour: used up with an hour to
    # spare now; an hour on, it expires first and forfeits what the last day missed.
    lots = [lot(1, 100, timedelta(days=1, hours=1))]
    turn = run_out_changes(lots, 100.0, NOW)
    assert turn is not None
    assert timedelta(minutes=59) < turn - NOW <= timedelta(hours=1)
    assert run_out(lots, 100.0, NOW).lots[0].projected_forfeit == 0
    assert run_out(lots, 100.0, turn + timedelta(milliseconds=2)).lots[0].projected_forfeit == 1


def test_the_run_out_date_turns_at_the_midnight_it_crosses() -> None:
    # 1,000 left at 100 a day: used up 10 days from now, at 12:00 Shanghai; its day
    # changes when now + 10 days reaches the next midnight, i.e. at midnight tonight.
    lots = [lot(1, 1_000, timedelta(days=200))]
    turn = run_out_changes(lots, 100.0, NOW)
    assert turn is not None
    assert next_midnight(NOW) - turn <= timedelta(milliseconds=1)
    assert run_out(lots, 100.0, NOW).on == local_date(NOW) + timedelta(days=10)


@settings(max_examples=200, deadline=None)
@given(lots_strategy, st.integers(0, 500))
def test_figures_hold_until_the_next_expiry_and_change_at_it(
    specs: list[tuple[int, timedelta]], arrears: int
) -> None:
    lots = [lot(i + 1, remaining, expires_in) for i, (remaining, expires_in) in enumerate(specs)]
    turn = next_expiry((x.expires_at for x in lots), NOW)
    seen = figures(lots, arrears, NOW)
    if turn is None:
        assert figures(lots, arrears, NOW + timedelta(days=5_000)) == seen
        return
    assert figures(lots, arrears, turn - TICK) == seen
    expiring = sum(x.remaining for x in lots if x.expires_at == turn)
    assert (figures(lots, arrears, turn) == seen) == (expiring == 0)


@given(st.timedeltas(timedelta(hours=-48), timedelta(hours=48)))
def test_status_holds_until_the_suspension(since: timedelta) -> None:
    arrears_since = NOW - since
    turn = status_changes(arrears_since, NOW)
    seen = account_status(arrears_since, NOW)
    if turn is None:
        assert NOW >= arrears_since + ARREARS_GRACE
        assert account_status(arrears_since, NOW + timedelta(days=400)) == seen
        return
    assert account_status(arrears_since, turn - TICK) == seen
    assert account_status(arrears_since, turn) != seen


def test_an_account_without_arrears_has_no_suspension_to_wait_for() -> None:
    assert status_changes(None, NOW) is None


@given(st.datetimes(timezones=st.just(UTC)))
def test_the_next_midnight_is_the_first_instant_of_the_next_shanghai_day(
    moment: datetime,
) -> None:
    turn = next_midnight(moment)
    assert local_date(turn) == local_date(moment) + timedelta(days=1)
    assert local_date(turn - TICK) == local_date(moment)
