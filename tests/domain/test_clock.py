"""Calendar arithmetic and time-zone hygiene (R-GEN-6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest

from imaging_billing.domain.clock import add_years, require_aware
from imaging_billing.domain.errors import RuleViolation

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


class _NoOffset(tzinfo):
    """A tzinfo that is present but does not know its offset: still a naive time."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


# --- require_aware ----------------------------------------------------------------------


def test_r_gen_6_utc_instant_passes_through_unchanged() -> None:
    # given an instant already in UTC
    moment = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    # when it is checked
    checked = require_aware(moment)
    # then it is the same instant, still in UTC
    assert checked == moment
    assert checked.utcoffset() == timedelta(0)


def test_r_gen_6_shanghai_time_is_normalised_to_utc() -> None:
    # given 16:00 in Asia/Shanghai, as a console user would type it
    shown = datetime(2026, 3, 1, 16, 0, tzinfo=SHANGHAI)
    # when it is checked
    stored = require_aware(shown)
    # then it is stored as the same instant in UTC (08:00Z)
    assert stored == shown
    assert stored.utcoffset() == timedelta(0)
    assert (stored.hour, stored.minute) == (8, 0)


@pytest.mark.parametrize("field", [None, "uploadedAt", "signedOn"])
def test_r_gen_6_naive_time_is_refused_and_names_the_field(field: str | None) -> None:
    # given a wall-clock time with no zone
    naive = _naive(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    # when it is checked / then it is refused with the rule code and the field
    with pytest.raises(RuleViolation) as caught:
        require_aware(naive, field)
    assert caught.value.code == "R_GEN_6_NAIVE_TIME"
    assert caught.value.field == field


def test_r_gen_6_tzinfo_without_an_offset_counts_as_naive() -> None:
    # given a datetime whose tzinfo cannot say its offset
    moment = datetime(2026, 3, 1, 8, 0, tzinfo=_NoOffset())
    # when it is checked / then it is refused like a naive one
    with pytest.raises(RuleViolation) as caught:
        require_aware(moment, "at")
    assert caught.value.code == "R_GEN_6_NAIVE_TIME"


# --- add_years --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "years", "expected"),
    [
        pytest.param(
            datetime(2028, 2, 29, 12, 34, 56, 789_000, tzinfo=UTC),
            1,
            datetime(2029, 2, 28, 12, 34, 56, 789_000, tzinfo=UTC),
            id="29-feb-into-common-year-falls-back-to-28-feb",
        ),
        pytest.param(
            datetime(2028, 2, 29, 9, 0, tzinfo=UTC),
            4,
            datetime(2032, 2, 29, 9, 0, tzinfo=UTC),
            id="29-feb-into-leap-year-stays-29-feb",
        ),
        pytest.param(
            datetime(2028, 2, 29, 9, 0, tzinfo=UTC),
            15,
            datetime(2043, 2, 28, 9, 0, tzinfo=UTC),
            id="29-feb-plus-15-years-volume-storage",
        ),
        pytest.param(
            datetime(2000, 2, 29, 0, 0, tzinfo=UTC),
            100,
            datetime(2100, 2, 28, 0, 0, tzinfo=UTC),
            id="29-feb-into-century-common-year",
        ),
        pytest.param(
            datetime(2028, 2, 29, 9, 0, tzinfo=UTC),
            -1,
            datetime(2027, 2, 28, 9, 0, tzinfo=UTC),
            id="29-feb-backwards",
        ),
        pytest.param(
            datetime(2027, 2, 28, 15, 59, 59, 999_999, tzinfo=UTC),
            1,
            datetime(2028, 2, 28, 15, 59, 59, 999_999, tzinfo=UTC),
            id="28-feb-into-leap-year-stays-28-feb",
        ),
        pytest.param(
            # 05:00 on 29 Feb in Shanghai is still 28 Feb in UTC: Shanghai's calendar counts
            datetime(2028, 2, 28, 21, 0, tzinfo=UTC),
            1,
            datetime(2029, 2, 27, 21, 0, tzinfo=UTC),
            id="shanghai-29-feb-counts-not-the-utc-date",
        ),
        pytest.param(
            # 23:59 UTC on 28 Feb is 1 March in Shanghai: a year later is 1 March there too
            datetime(2027, 2, 28, 23, 59, 59, 999_999, tzinfo=UTC),
            1,
            datetime(2028, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC),
            id="utc-28-feb-evening-is-shanghai-1-march",
        ),
        pytest.param(
            datetime(2027, 3, 1, 0, 0, tzinfo=UTC),
            1,
            datetime(2028, 3, 1, 0, 0, tzinfo=UTC),
            id="1-march-across-a-leap-day",
        ),
        pytest.param(
            datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
            1,
            datetime(2027, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
            id="new-years-eve-last-millisecond",
        ),
        pytest.param(
            datetime(2028, 2, 29, 9, 0, tzinfo=UTC),
            0,
            datetime(2028, 2, 29, 9, 0, tzinfo=UTC),
            id="zero-years-is-identity",
        ),
    ],
)
def test_r_gen_6_add_years_is_the_same_instant_calendar_years_later(
    moment: datetime, years: int, expected: datetime
) -> None:
    # given an instant and a number of years
    # when the years are added
    result = add_years(moment, years)
    # then the calendar date moves, the time of day and zone stay (29 Feb -> 28 Feb)
    assert result == expected
    assert result.tzinfo is moment.tzinfo


def test_r_gen_6_add_years_keeps_the_zone_of_its_input() -> None:
    # given an instant expressed in Asia/Shanghai
    moment = datetime(2026, 6, 1, 10, 0, tzinfo=SHANGHAI)
    # when a year is added
    result = add_years(moment, 1)
    # then the result is in the same zone, at the same wall-clock time
    assert result.tzinfo is SHANGHAI
    assert result == datetime(2027, 6, 1, 10, 0, tzinfo=SHANGHAI)


def test_r_gen_6_add_years_out_of_calendar_range_raises() -> None:
    # given the last representable year
    moment = datetime(9999, 6, 1, tzinfo=UTC)
    # when a year is added / then the calendar overflow is not silently swallowed
    with pytest.raises(ValueError, match="year"):
        add_years(moment, 1)
