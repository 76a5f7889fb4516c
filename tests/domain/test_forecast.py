"""R-GEN-9: the run-out forecast walks the usable lots in draw order (R-EXAM-3) and
knows that lots expire (R-EXAM-2): what is left at a lot's expiry is forfeited."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from imaging_billing.domain.exams import Lot
from imaging_billing.domain.usage import (
    DailyUsage,
    RunOutReason,
    average_daily,
    daily_series,
    run_out,
)

NOW = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
DAY = timedelta(days=1)


def lot(lot_id: int, remaining: int, expires_in_days: float, *, quantity: int = 10_000) -> Lot:
    expires = NOW + timedelta(days=expires_in_days)
    return Lot(
        id=lot_id,
        quantity=quantity,
        used=quantity - remaining,
        storage_years=15,
        purchased_at=expires - timedelta(days=365),
        expires_at=expires,
    )


def test_a_lot_that_expires_before_it_is_used_up_forfeits_the_rest() -> None:
    # given 9,970 exams left in one lot that expires on 2027-12-02, used at 1 a day
    only = Lot(
        1, 10_000, 30, 15, datetime(2026, 12, 2, tzinfo=UTC), datetime(2027, 12, 2, tzinfo=UTC)
    )
    # when the forecast is made
    found = run_out([only], 1.0, NOW)
    # then nothing is available from the lot's expiry, not in 9,970 days
    assert found.reason is RunOutReason.LAST_LOT_EXPIRES
    assert found.at == datetime(2027, 12, 2, tzinfo=UTC)
    assert found.on == date(2027, 12, 2)
    assert found.days_left == 366
    # and what the pace leaves unused (365 days and 20 hours drawn) is forfeited
    (forecast,) = found.lots
    assert forecast.projected_forfeit == 9_970 - 365
    assert found.projected_forfeit_total == 9_605


def test_a_lot_used_up_before_its_expiry_runs_out_then() -> None:
    # given 3,000 left in a lot that expires in 300 days, used at 100 a day
    found = run_out([lot(1, 3_000, 300)], 100.0, NOW)
    # then it is used up in 30 days and nothing is forfeited
    assert found.reason is RunOutReason.USED_UP
    assert found.at == NOW + 30 * DAY
    assert found.days_left == 30
    assert found.projected_forfeit_total == 0


def test_several_lots_are_walked_soonest_expiring_first() -> None:
    # given lot 2 expiring in 100 days and lot 1 in 300, 10,000 left in each, 50 a day
    lots = [lot(1, 10_000, 300), lot(2, 10_000, 100)]
    found = run_out(lots, 50.0, NOW)
    # then lot 2 is drawn first and forfeits half; lot 1 takes over at lot 2's expiry
    assert [f.lot_id for f in found.lots] == [2, 1]
    assert [f.projected_forfeit for f in found.lots] == [5_000, 0]
    # and lot 1's 10,000 last exactly its remaining 200 days: used up as it expires
    assert found.reason is RunOutReason.USED_UP
    assert found.at == NOW + 300 * DAY


def test_a_faster_pace_uses_up_both_lots_with_nothing_forfeited() -> None:
    lots = [lot(1, 10_000, 300), lot(2, 10_000, 100)]
    found = run_out(lots, 200.0, NOW)
    assert found.reason is RunOutReason.USED_UP
    assert found.at == NOW + 100 * DAY
    assert found.projected_forfeit_total == 0


def test_no_usage_gives_no_run_out_only_forfeitures() -> None:
    # given two lots and no uploads in the last 30 days
    found = run_out([lot(1, 4_000, 200), lot(2, 10_000, 20)], 0.0, NOW)
    # then there is no run-out date, and every remainder is forfeited at its expiry
    assert found.reason is RunOutReason.NO_USAGE
    assert (found.at, found.on, found.days_left) == (None, None, None)
    assert [(f.lot_id, f.projected_forfeit) for f in found.lots] == [(2, 10_000), (1, 4_000)]


def test_an_account_in_arrears_has_nothing_available_now() -> None:
    # given only an empty lot and an expired one (the account runs in arrears)
    lots = [lot(1, 0, 200), lot(2, 5_000, -1)]
    found = run_out(lots, 40.0, NOW)
    # then nothing is available from now on, and nothing is left to forfeit
    assert found.reason is RunOutReason.NOTHING_AVAILABLE
    assert found.at == NOW
    assert found.days_left == 0
    assert found.lots == ()


def test_growing_usage_is_forecast_at_the_windows_average() -> None:
    # given 20 quiet days and then 10 days of 30 uploads each
    today = date(2026, 12, 1)
    counts = {today - timedelta(days=i): 30 for i in range(10)}
    series = daily_series(counts, today, 30)
    # then the pace is the 30-day average, 10 a day
    assert average_daily(series) == 10.0
    found = run_out([lot(1, 1_000, 365)], average_daily(series), NOW)
    assert found.at == NOW + 100 * DAY


def test_an_empty_series_has_no_pace() -> None:
    assert average_daily([]) == 0.0
    assert average_daily([DailyUsage(date(2026, 12, 1), 0)]) == 0.0


lots_strategy = st.lists(
    st.tuples(st.integers(0, 10_000), st.floats(-10, 400, allow_nan=False)),
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(lots_strategy, st.floats(0, 2_000, allow_nan=False))
def test_the_forecast_accounts_for_every_available_exam(
    specs: list[tuple[int, float]], per_day: float
) -> None:
    lots = [lot(i + 1, remaining, days) for i, (remaining, days) in enumerate(specs)]
    usable = [x for x in lots if x.usable(NOW)]
    found = run_out(lots, per_day, NOW)
    # every usable lot is forecast once, with a forfeit between 0 and its remainder
    assert sorted(f.lot_id for f in found.lots) == sorted(x.id for x in usable)
    by_id = {x.id: x for x in usable}
    for forecast in found.lots:
        assert 0 <= forecast.projected_forfeit <= by_id[forecast.lot_id].remaining
    # the run-out lies between now and the last expiry
    if found.at is not None and usable:
        assert NOW <= found.at <= max(x.expires_at for x in usable)
    # with no pace, everything is forfeited; with nothing usable, it runs out now
    if not usable:
        assert found.reason is RunOutReason.NOTHING_AVAILABLE
    elif per_day == 0:
        assert found.projected_forfeit_total == sum(x.remaining for x in usable)
