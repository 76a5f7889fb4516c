"""Property tests for the pure cloud-exam rules (R-EXAM-2, R-EXAM-3, R-EXAM-6, R-ARR-1,
R-ARR-3, R-ARR-4, R-GEN-6)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from imaging_billing.domain.clock import SHANGHAI, add_years
from imaging_billing.domain.exams import (
    Lot,
    account_status,
    allocate,
    change_arrears,
    draw_order,
    figures,
    settle,
    upload_permission,
)

PROPS = settings(max_examples=200, deadline=None)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _key(lot: Lot) -> tuple[datetime, datetime, int]:
    """The R-EXAM-3 draw key."""
    return (lot.expires_at, lot.purchased_at, lot.id)


# A small grid of instants so that ties on expiry and on purchase are common.
_instants = st.integers(min_value=0, max_value=6).map(lambda h: T0 + h * HOUR)


@st.composite
def lots(draw: st.DrawFn) -> list[Lot]:
    ids = draw(st.lists(st.integers(1, 50), unique=True, max_size=8))
    result = []
    for lot_id in ids:
        quantity = draw(st.integers(1, 6))
        purchased_at = draw(_instants)
        result.append(
            Lot(
                id=lot_id,
                quantity=quantity,
                used=draw(st.integers(0, quantity)),
                storage_years=draw(st.sampled_from([1, 3, 15])),
                purchased_at=purchased_at,
                expires_at=purchased_at + draw(st.integers(0, 6)) * HOUR,
            )
        )
    return result


_now = st.integers(min_value=0, max_value=13).map(lambda h: T0 + h * HOUR)
_count = st.integers(min_value=0, max_value=40)


# --- allocate ---------------------------------------------------------------------------


@PROPS
@given(lots(), _count, _now)
def test_r_exam_3_allocate_returns_one_entry_per_upload(
    pool: list[Lot], count: int, now: datetime
) -> None:
    # given any lots / when `count` uploads are allocated / then one answer per upload
    assert len(allocate(pool, count, now)) == count


@PROPS
@given(lots(), _count, _now)
def test_r_exam_3_allocate_never_over_draws_a_lot(
    pool: list[Lot], count: int, now: datetime
) -> None:
    # given any lots
    by_id = {lot.id: lot for lot in pool}
    # when uploads are allocated
    drawn = Counter(d for d in allocate(pool, count, now) if d is not None)
    # then no lot covers more exams than it had remaining
    for lot_id, n in drawn.items():
        assert n <= by_id[lot_id].remaining


@PROPS
@given(lots(), _count, _now)
def test_r_exam_2_allocate_never_draws_from_an_expired_lot(
    pool: list[Lot], count: int, now: datetime
) -> None:
    # given any lots, some expired at `now` (expiry instant included)
    by_id = {lot.id: lot for lot in pool}
    # when uploads are allocated at `now`
    draws = allocate(pool, count, now)
    # then every covering lot is strictly before its expiry
    for lot_id in draws:
        if lot_id is not None:
            assert now < by_id[lot_id].expires_at


@PROPS
@given(lots(), _count, _now)
def test_r_exam_3_draws_follow_expiry_then_purchase_then_id(
    pool: list[Lot], count: int, now: datetime
) -> None:
    # given any lots
    by_id = {lot.id: lot for lot in pool}
    # when uploads are allocated
    draws = allocate(pool, count, now)
    covered = [d for d in draws if d is not None]
    # then arrears only come after every covered upload
    assert draws[: len(covered)] == covered
    # and the covering lots appear in non-decreasing (expires_at, purchased_at, id) order
    keys = [_key(by_id[lot_id]) for lot_id in covered]
    assert keys == sorted(keys)


@PROPS
@given(lots(), _count, _now)
def test_r_exam_3_a_lot_is_drawn_only_once_every_earlier_lot_is_empty(
    pool: list[Lot], count: int, now: datetime
) -> None:
    # given any lots
    drawn = Counter(d for d in allocate(pool, count, now) if d is not None)
    usable = draw_order(lot for lot in pool if lot.usable(now))
    # when uploads are allocated / then a later lot in draw order is touched only after
    # every earlier usable lot was drawn to zero
    for i, lot in enumerate(usable):
        if drawn[lot.id]:
            for earlier in usable[:i]:
                assert drawn[earlier.id] == earlier.remaining


@PROPS
@given(lots(), _count, _now)
def test_r_arr_1_arrears_only_when_every_usable_lot_is_exhausted(
    pool: list[Lot], count: int, now: datetime
) -> None:
    # given any lots and the exams still available at `now`
    available = sum(lot.remaining for lot in pool if lot.usable(now))
    # when uploads are allocated
    draws = allocate(pool, count, now)
    arrears = draws.count(None)
    # then as many as possible are covered, and arrears appear only past availability
    assert len(draws) - arrears == min(count, available)
    assert (arrears > 0) == (count > available)


@PROPS
@given(lots(), _count, _now)
def test_r_exam_3_allocation_does_not_depend_on_input_order(
    pool: list[Lot], count: int, now: datetime
) -> None:
    # given the same lots in two orders / then the same uploads are covered the same way
    assert allocate(pool, count, now) == allocate(list(reversed(pool)), count, now)


# --- figures ----------------------------------------------------------------------------


@PROPS
@given(lots(), st.integers(0, 1_000), _now)
def test_r_exam_6_bought_equals_available_plus_used_plus_expired(
    pool: list[Lot], arrears: int, now: datetime
) -> None:
    # given any lots and arrears at any instant
    result = figures(pool, arrears, now)
    # then the console figures reconcile and none is negative
    assert result.bought == result.available + result.used + result.expired
    assert result.arrears == arrears
    assert min(result.available, result.used, result.expired, result.bought) >= 0


@PROPS
@given(lots(), _now)
def test_r_exam_6_available_is_exactly_what_allocate_can_draw(
    pool: list[Lot], now: datetime
) -> None:
    # given any lots / when figures say N are available
    available = figures(pool, 0, now).available
    # then allocating N + 1 uploads covers N and leaves exactly one in arrears
    draws = allocate(pool, available + 1, now)
    assert draws.count(None) == 1


@PROPS
@given(lots(), _now)
def test_r_exam_2_available_only_shrinks_as_time_passes(pool: list[Lot], now: datetime) -> None:
    # given any lots / when time moves on without uploads
    earlier = figures(pool, 0, now)
    later = figures(pool, 0, now + HOUR)
    # then availability never grows, expiry never shrinks, totals stay
    assert later.available <= earlier.available
    assert later.expired >= earlier.expired
    assert (later.used, later.bought) == (earlier.used, earlier.bought)


# --- arrears clock ----------------------------------------------------------------------

_offsets = st.integers(min_value=0, max_value=72 * 3600 * 1000).map(
    lambda ms: timedelta(milliseconds=ms)
)


@PROPS
@given(_offsets, _offsets)
def test_r_arr_3_permission_is_allowed_exactly_before_24h_and_never_comes_back(
    first: timedelta, extra: timedelta
) -> None:
    # given an arrears clock started at T0, asked at T0 + first
    since = T0
    permission = upload_permission(since, since + first)
    # then uploads are allowed exactly while less than 24 h have passed
    assert permission.allowed == (first < timedelta(hours=24))
    assert account_status(since, since + first).value == (
        "IN_ARREARS" if permission.allowed else "SUSPENDED"
    )
    # and once refused, they stay refused at every later instant until settled
    if not permission.allowed:
        assert not upload_permission(since, since + first + extra).allowed


@PROPS
@given(st.integers(0, 50), st.integers(0, 50), _offsets)
def test_r_arr_4_clock_is_set_exactly_while_arrears_remain(
    count: int, remaining: int, offset: timedelta
) -> None:
    # given `count` arrears since T0 (clock set iff count > 0) and a new lot
    since = T0 if count else None
    now = T0 + offset
    # when the lot settles what it can
    covered = settle(count, remaining)
    change = change_arrears(count, since, -covered, now)
    # then it covered no more than either side, and the clock is set iff arrears remain
    assert covered == min(count, remaining)
    assert change.count == count - covered
    assert (change.since is None) == (change.count == 0)
    # and a resume is reported only when settlement ended a suspension
    was_suspended = since is not None and not upload_permission(since, now).allowed
    assert change.resumed == (was_suspended and change.count == 0)


# --- add_years (R-GEN-6) ----------------------------------------------------------------

# Calendar properties hold on the Asia/Shanghai calendar that add_years counts in
# (R-GEN-6), so instants are drawn in that zone. Hypothesis takes naive bounds.
_moments = st.datetimes(
    min_value=datetime(1900, 1, 1, tzinfo=UTC).replace(tzinfo=None),
    max_value=datetime(2200, 12, 31, tzinfo=UTC).replace(tzinfo=None),
    timezones=st.just(SHANGHAI),
)
_leap_days = st.builds(
    lambda year, h, m, s, us: datetime(year, 2, 29, h, m, s, us, tzinfo=SHANGHAI),
    st.sampled_from([1904, 2000, 2024, 2028, 2096, 2104, 2196]),
    st.integers(0, 23),
    st.integers(0, 59),
    st.integers(0, 59),
    st.integers(0, 999_999),
)
_any_moment = st.one_of(_moments, _leap_days)
_years = st.integers(min_value=-50, max_value=50)


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


@PROPS
@given(_any_moment, _years)
def test_r_gen_6_add_years_moves_only_the_year_except_29_feb(moment: datetime, years: int) -> None:
    # given any instant / when years are added
    result = add_years(moment, years)
    # then the year moves, time and zone stay, and only 29 Feb into a common year
    # falls back to 28 Feb
    assert result.year == moment.year + years
    assert result.time() == moment.time()
    assert result.tzinfo is moment.tzinfo
    assert result.month == moment.month
    leap_day_lost = (moment.month, moment.day) == (2, 29) and not _is_leap(result.year)
    assert result.day == (28 if leap_day_lost else moment.day)


@PROPS
@given(_any_moment, _years)
def test_r_gen_6_add_years_round_trip(moment: datetime, years: int) -> None:
    # given any instant / when years are added and then taken away again
    back = add_years(add_years(moment, years), -years)
    # then it is the same instant, except that a 29 Feb that passed through a common
    # year comes back as 28 Feb
    if (moment.month, moment.day) == (2, 29) and not _is_leap(moment.year + years):
        assert back == moment - timedelta(days=1)
    else:
        assert back == moment


@PROPS
@given(_any_moment)
def test_r_gen_6_one_year_is_365_or_366_days(moment: datetime) -> None:
    # given any instant / then one calendar year later is 365 or 366 days on
    assert add_years(moment, 1) - moment in (timedelta(days=365), timedelta(days=366))


@PROPS
@given(_any_moment, st.integers(0, 30), st.integers(0, 30))
def test_r_gen_6_add_years_composes_except_through_a_lost_leap_day(
    moment: datetime, a: int, b: int
) -> None:
    # given any instant / when a years and then b years are added
    twice = add_years(add_years(moment, a), b)
    # then it is adding a + b years, except that a 29 Feb that fell back to 28 Feb
    # in year +a stays on 28 Feb even if year +a+b is a leap year
    if (moment.month, moment.day) == (2, 29):
        keeps_29 = _is_leap(moment.year + a) and _is_leap(moment.year + a + b)
        assert twice == moment.replace(year=moment.year + a + b, day=29 if keeps_29 else 28)
    else:
        assert twice == add_years(moment, a + b)


@PROPS
@given(_any_moment, _any_moment, st.integers(0, 50))
def test_r_gen_6_add_years_keeps_calendar_dates_in_order(
    m1: datetime, m2: datetime, years: int
) -> None:
    # given two instants in order / then their dates stay in order years later
    # (only the date: 28 Feb 10:00 and 29 Feb 09:00 both land on 28 Feb)
    early, late = sorted((m1, m2))
    assert add_years(early, years).date() <= add_years(late, years).date()
