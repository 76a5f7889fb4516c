"""Arrears, suspension, settlement, viewing, storage, low balance, upload input checks and
console figures (R-ARR-1..5, R-EXAM-4, R-EXAM-5, R-EXAM-6, R-GEN-6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from imaging_billing.domain.errors import MESSAGES, RuleViolation
from imaging_billing.domain.exams import (
    ARREARS_GRACE,
    VOLUME_STORAGE_YEARS,
    AccountStatus,
    ExamFigures,
    Lot,
    account_status,
    change_arrears,
    exam_viewable,
    figures,
    low_balance_due,
    low_balance_threshold,
    settle,
    storage_ends_at,
    suspends_at,
    upload_instant,
    upload_permission,
    validate_study_uid,
)

SINCE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)
DAY = timedelta(hours=24)
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

# The 24-hour arrears boundary (R-ARR-3): offset from the arrears clock start -> allowed?
ARREARS_BOUNDARY = [
    pytest.param(timedelta(0), True, id="at-clock-start"),
    pytest.param(DAY - MS, True, id="24h-minus-1ms"),
    pytest.param(DAY, False, id="exactly-24h"),
    pytest.param(DAY + MS, False, id="24h-plus-1ms"),
    pytest.param(timedelta(days=30), False, id="a-month-later"),
]


def _lot(lot_id: int, quantity: int, used: int, expires_at: datetime) -> Lot:
    return Lot(
        id=lot_id,
        quantity=quantity,
        used=used,
        storage_years=VOLUME_STORAGE_YEARS,
        purchased_at=expires_at - timedelta(days=365),
        expires_at=expires_at,
    )


# --- suspends_at / upload_permission / account_status (R-ARR-3, R-ARR-5) ----------------


def test_r_arr_3_no_arrears_clock_means_no_suspension_deadline() -> None:
    # given an account not in arrears / then there is nothing to suspend at
    assert suspends_at(None) is None


def test_r_arr_3_suspension_is_24_hours_after_the_clock_starts() -> None:
    # given arrears since SINCE / then uploads are suspended 24 h later
    assert suspends_at(SINCE) == SINCE + timedelta(hours=24)
    assert ARREARS_GRACE == timedelta(hours=24)


def test_r_arr_5_account_without_arrears_may_upload() -> None:
    # given no arrears clock
    # when the gateway asks at any time
    permission = upload_permission(None, NOW)
    # then the upload is allowed, with no reason and no deadline
    assert permission.allowed
    assert permission.reason is None
    assert permission.suspends_at is None


@pytest.mark.parametrize(("offset", "allowed"), ARREARS_BOUNDARY)
def test_r_arr_3_uploads_suspended_from_exactly_24h_after_arrears_start(
    offset: timedelta, allowed: bool
) -> None:
    # given arrears since SINCE
    # when the gateway asks at SINCE + offset
    permission = upload_permission(SINCE, SINCE + offset)
    # then uploads are allowed strictly before +24h, refused from +24h on
    assert permission.allowed is allowed
    assert permission.suspends_at == SINCE + DAY
    if allowed:
        assert permission.reason is None
    else:
        assert permission.reason == "R_ARR_3_SUSPENDED"
        assert permission.reason in MESSAGES


@pytest.mark.parametrize(("offset", "allowed"), ARREARS_BOUNDARY)
def test_r_arr_3_account_status_follows_the_24h_boundary(offset: timedelta, allowed: bool) -> None:
    # given arrears since SINCE
    # when the status is read at SINCE + offset
    status = account_status(SINCE, SINCE + offset)
    # then it is IN_ARREARS within the grace, SUSPENDED from +24h on
    expected = AccountStatus.IN_ARREARS if allowed else AccountStatus.SUSPENDED
    assert status is expected


def test_r_arr_3_account_without_arrears_is_active() -> None:
    # given no arrears clock / then the account is ACTIVE
    assert account_status(None, NOW) is AccountStatus.ACTIVE


# --- change_arrears (R-ARR-1, R-ARR-4) --------------------------------------------------


@pytest.mark.parametrize("delta", [1, 3])
def test_r_arr_1_first_arrears_exam_starts_the_clock_now(delta: int) -> None:
    # given an account with no arrears
    # when exams go into arrears at NOW
    change = change_arrears(0, None, delta, NOW)
    # then the count rises and the clock starts at NOW
    assert change.count == delta
    assert change.since == NOW
    assert change.started
    assert not change.resumed


def test_r_arr_1_more_arrears_keep_the_original_clock() -> None:
    # given arrears of 2 since SINCE
    # when 3 more exams go into arrears later
    change = change_arrears(2, SINCE, 3, NOW)
    # then the clock does not restart
    assert change.count == 5
    assert change.since == SINCE
    assert not change.started
    assert not change.resumed


def test_r_arr_4_partial_settlement_keeps_the_clock_and_the_suspension() -> None:
    # given 5 arrears since SINCE and uploads already suspended
    assert not upload_permission(SINCE, NOW).allowed
    # when a new lot covers only 3 of them
    change = change_arrears(5, SINCE, -settle(5, 3), NOW)
    # then 2 stay in arrears, the clock is kept and uploads stay suspended
    assert change.count == 2
    assert change.since == SINCE
    assert not change.resumed
    assert not upload_permission(change.since, NOW).allowed


@pytest.mark.parametrize(("offset", "allowed"), ARREARS_BOUNDARY)
def test_r_arr_4_full_settlement_clears_the_clock_and_resumes_if_suspended(
    offset: timedelta, allowed: bool
) -> None:
    # given 4 arrears since SINCE
    # when a lot settles them all at SINCE + offset
    change = change_arrears(4, SINCE, -4, SINCE + offset)
    # then arrears are gone, the clock is cleared, and "resumed" is set only if
    # uploads had been suspended (the resume notice of R-ARR-2)
    assert change.count == 0
    assert change.since is None
    assert not change.started
    assert change.resumed is (not allowed)
    assert upload_permission(change.since, SINCE + offset).allowed


def test_r_arr_4_voiding_the_last_arrears_exam_also_clears_the_clock() -> None:
    # given one arrears exam, not yet suspended
    # when it is voided (arrears -1)
    change = change_arrears(1, SINCE, -1, SINCE + timedelta(hours=1))
    # then the clock is cleared; nothing was suspended, so nothing resumes
    assert (change.count, change.since, change.started, change.resumed) == (0, None, False, False)


def test_r_arr_4_no_change_without_arrears_stays_clear() -> None:
    # given no arrears / when nothing changes
    change = change_arrears(0, None, 0, NOW)
    # then nothing starts and nothing resumes
    assert (change.count, change.since, change.started, change.resumed) == (0, None, False, False)


def test_r_gen_7_arrears_can_never_go_below_zero() -> None:
    # given 2 arrears / when 3 are taken out
    # then it is refused as a programming error, not silently clamped
    with pytest.raises(ValueError, match="below zero"):
        change_arrears(2, SINCE, -3, NOW)


# --- settle (R-ARR-4) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arrears", "remaining", "covered"),
    [
        pytest.param(0, 10_000, 0, id="no-arrears"),
        pytest.param(3, 10_000, 3, id="lot-larger-than-arrears"),
        pytest.param(10_000, 10_000, 10_000, id="exact-fit"),
        pytest.param(15_000, 10_000, 10_000, id="arrears-larger-than-lot"),
        pytest.param(5, 0, 0, id="empty-lot"),
    ],
)
def test_r_arr_4_new_lot_covers_oldest_arrears_first_up_to_its_size(
    arrears: int, remaining: int, covered: int
) -> None:
    # given arrears and a newly credited lot / when it settles
    # then it covers as many arrears as it can; only its rest becomes available
    assert settle(arrears, remaining) == covered
    assert remaining - settle(arrears, remaining) == max(remaining - arrears, 0)


# --- exam_viewable (R-ARR-3, R-EXAM-5) --------------------------------------------------

STORAGE_END = datetime(2041, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("voided", "covered", "storage_end", "now", "viewable"),
    [
        pytest.param(False, True, STORAGE_END, STORAGE_END - MS, True, id="covered-1ms-before-end"),
        pytest.param(False, True, STORAGE_END, STORAGE_END, False, id="covered-at-storage-end"),
        pytest.param(False, True, STORAGE_END, STORAGE_END + MS, False, id="covered-after-end"),
        pytest.param(False, True, None, NOW, False, id="covered-without-storage-end"),
        pytest.param(False, False, None, NOW, True, id="arrears-exam-stays-viewable"),
        pytest.param(
            False, False, None, NOW + timedelta(days=3650), True, id="arrears-exam-years-later"
        ),
        pytest.param(True, True, STORAGE_END, NOW, False, id="voided-covered"),
        pytest.param(True, False, None, NOW, False, id="voided-arrears"),
    ],
)
def test_r_arr_3_exam_viewability(
    voided: bool, covered: bool, storage_end: datetime | None, now: datetime, viewable: bool
) -> None:
    # given an exam in some state / when the gateway asks if it may be viewed
    # then covered exams are viewable strictly inside storage, arrears exams always,
    # voided exams never
    assert (
        exam_viewable(voided=voided, covered=covered, storage_end=storage_end, now=now) is viewable
    )


def test_r_arr_3_viewing_is_independent_of_upload_suspension() -> None:
    # given a suspended account with a covered exam still in storage
    assert not upload_permission(SINCE, NOW).allowed
    # when the exam is viewed / then it stays viewable
    assert exam_viewable(voided=False, covered=True, storage_end=STORAGE_END, now=NOW)


# --- storage_ends_at (R-EXAM-5) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("uploaded_at", "years", "expected"),
    [
        pytest.param(
            datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
            VOLUME_STORAGE_YEARS,
            datetime(2041, 3, 1, 8, 0, tzinfo=UTC),
            id="volume-15-years",
        ),
        pytest.param(
            datetime(2028, 2, 29, 23, 59, 59, 999_000, tzinfo=UTC),
            VOLUME_STORAGE_YEARS,
            datetime(2043, 2, 28, 23, 59, 59, 999_000, tzinfo=UTC),
            id="volume-29-feb",
        ),
        pytest.param(
            datetime(2028, 2, 29, 6, 0, tzinfo=UTC),
            4,
            datetime(2032, 2, 29, 6, 0, tzinfo=UTC),
            id="annual-29-feb-to-leap-year",
        ),
        pytest.param(
            datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
            1,
            datetime(2027, 3, 1, 8, 0, tzinfo=UTC),
            id="annual-1-year",
        ),
    ],
)
def test_r_exam_5_storage_ends_storage_years_after_upload(
    uploaded_at: datetime, years: int, expected: datetime
) -> None:
    # given an exam's upload time and its lot's storage years
    # then its storage ends that many calendar years after the upload
    assert storage_ends_at(uploaded_at, years) == expected


def test_r_exam_5_arrears_exam_covered_later_counts_from_its_upload() -> None:
    # given an exam uploaded in arrears at SINCE and covered by a lot two days later
    uploaded_at = SINCE
    covered_at = SINCE + timedelta(days=2)
    # when its storage end is computed with the covering lot's 3 years
    end = storage_ends_at(uploaded_at, 3)
    # then it counts from the upload, not from the settlement (R-EXAM-5 decision)
    assert end == datetime(2029, 3, 1, 8, 0, tzinfo=UTC)
    assert end < storage_ends_at(covered_at, 3)


# --- low balance (R-ARR-2 decision) -----------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "last_lot", "threshold"),
    [
        pytest.param(None, 10_000, 1_000, id="default-10pct-of-10000"),
        pytest.param(None, 50_000, 5_000, id="default-10pct-of-50000"),
        pytest.param(None, None, 0, id="no-lot-yet"),
        pytest.param(250, 10_000, 250, id="configured-wins"),
        pytest.param(0, 10_000, 0, id="configured-zero-disables"),
        pytest.param(20_000, 10_000, 20_000, id="configured-above-lot-size"),
    ],
)
def test_r_arr_2_low_balance_threshold(
    configured: int | None, last_lot: int | None, threshold: int
) -> None:
    # given the account's configured threshold and its last lot
    # then the configured value wins, else 10 % of the last lot bought
    assert low_balance_threshold(configured, last_lot) == threshold


@pytest.mark.parametrize(
    ("noticed", "available", "threshold", "due"),
    [
        pytest.param(False, 1_001, 1_000, False, id="above-threshold"),
        pytest.param(False, 1_000, 1_000, True, id="at-threshold"),
        pytest.param(False, 1, 1_000, True, id="last-exam"),
        pytest.param(False, 0, 1_000, False, id="run-out-sends-arrears-notice-instead"),
        pytest.param(True, 500, 1_000, False, id="already-noticed-since-recharge"),
        pytest.param(False, 0, 0, False, id="threshold-zero-never-due"),
        pytest.param(False, 1, 0, False, id="threshold-zero-with-balance"),
    ],
)
def test_r_arr_2_low_balance_notice_is_due_once_between_threshold_and_zero(
    noticed: bool, available: int, threshold: int, due: bool
) -> None:
    # given availability and whether the notice went out since the last recharge
    # then the low-balance notice is due only when 0 < available <= threshold, once
    assert low_balance_due(noticed=noticed, available=available, threshold=threshold) is due


# --- validate_study_uid (R-EXAM-4) ------------------------------------------------------


@pytest.mark.parametrize(
    "uid",
    [
        "1",
        "0",
        "1.2.840.10008.5.1.4.1.1.2",
        "2.25.329800735698586629295641978511506172918",
        "1." * 31 + "23",  # exactly 64 characters
    ],
)
def test_r_exam_4_valid_study_uid_is_accepted_unchanged(uid: str) -> None:
    # given a DICOM UID of 1-64 digits and dots / then it is accepted as is
    assert len(uid) <= 64
    assert validate_study_uid(uid) == uid


@pytest.mark.parametrize(
    "uid",
    [
        pytest.param("", id="empty"),
        pytest.param("1." * 32 + "2", id="65-chars"),
        pytest.param("1.", id="trailing-dot"),
        pytest.param(".1", id="leading-dot"),
        pytest.param("1..2", id="empty-component"),
        pytest.param("1.2.a", id="letter"),
        pytest.param("1,2", id="comma"),
        pytest.param(" 1.2", id="leading-space"),
        pytest.param("1.2 ", id="trailing-space"),
        pytest.param("1.2\x00", id="trailing-nul-padding"),
        pytest.param("\u0661.\u0662", id="arabic-indic-digits"),
        pytest.param("1.2\n3", id="embedded-newline"),
    ],
)
def test_r_exam_4_invalid_study_uid_is_refused(uid: str) -> None:
    # given something that is not a DICOM UID / then it is refused on the UID field
    with pytest.raises(RuleViolation) as caught:
        validate_study_uid(uid)
    assert caught.value.code == "R_EXAM_4_STUDY_UID"
    assert caught.value.field == "studyInstanceUid"


def test_r_exam_4_study_uid_with_trailing_newline_is_refused() -> None:
    # given a UID with a trailing newline, as a sloppy gateway might send it
    # when it is validated / then it is refused like any other non-digit character
    with pytest.raises(RuleViolation) as caught:
        validate_study_uid("1.2.3\n")
    assert caught.value.code == "R_EXAM_4_STUDY_UID"


def test_r_exam_4_study_uid_refusal_names_the_callers_field() -> None:
    # given a batch item's UID field name / when the UID is bad
    # then the refusal names that field
    with pytest.raises(RuleViolation) as caught:
        validate_study_uid("x", field="items[3].studyInstanceUid")
    assert caught.value.field == "items[3].studyInstanceUid"


# --- upload_instant (R-EXAM-5, R-GEN-6) -------------------------------------------------


def test_r_exam_5_unreported_upload_time_is_now() -> None:
    # given the gateway reports no upload time / then the upload happened now
    assert upload_instant(None, NOW) == NOW


@pytest.mark.parametrize(
    ("offset", "expected_offset"),
    [
        pytest.param(-DAY, -DAY, id="exactly-24h-ago"),
        pytest.param(-DAY + MS, -DAY + MS, id="24h-minus-1ms-ago"),
        pytest.param(-timedelta(minutes=3), -timedelta(minutes=3), id="minutes-ago"),
        pytest.param(timedelta(0), timedelta(0), id="now"),
        pytest.param(MS, timedelta(0), id="1ms-ahead-clamped-to-now"),
        pytest.param(timedelta(minutes=5), timedelta(0), id="5min-skew-clamped-to-now"),
    ],
)
def test_r_exam_5_reported_upload_time_within_window_is_kept(
    offset: timedelta, expected_offset: timedelta
) -> None:
    # given a reported upload time within the last 24 h (or within clock skew ahead)
    # when it is checked / then it is kept, never later than now
    assert upload_instant(NOW + offset, NOW) == NOW + expected_offset


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(-DAY - MS, id="24h-plus-1ms-ago"),
        pytest.param(-timedelta(days=3), id="days-ago"),
        pytest.param(timedelta(minutes=5) + MS, id="beyond-clock-skew"),
        pytest.param(timedelta(days=1), id="tomorrow"),
    ],
)
def test_r_exam_5_reported_upload_time_outside_window_is_refused(offset: timedelta) -> None:
    # given a reported upload time more than 24 h old or in the future
    # when it is checked / then it is refused on the uploadedAt field
    with pytest.raises(RuleViolation) as caught:
        upload_instant(NOW + offset, NOW)
    assert caught.value.code == "R_EXAM_5_UPLOAD_TIME"
    assert caught.value.field == "uploadedAt"


def test_r_gen_6_reported_upload_time_in_shanghai_is_stored_in_utc() -> None:
    # given a gateway reporting local Shanghai time, one hour ago
    reported = (NOW - timedelta(hours=1)).astimezone(SHANGHAI)
    # when it is checked
    instant = upload_instant(reported, NOW)
    # then it is the same instant, in UTC
    assert instant == NOW - timedelta(hours=1)
    assert instant.utcoffset() == timedelta(0)


@pytest.mark.parametrize("field", ["uploadedAt", "items[0].uploadedAt"])
def test_r_gen_6_naive_reported_upload_time_is_refused(field: str) -> None:
    # given a gateway reporting a wall-clock time without a zone
    naive = (NOW - timedelta(hours=1)).replace(tzinfo=None)
    # when it is checked / then it is refused as a naive time, naming the field
    with pytest.raises(RuleViolation) as caught:
        upload_instant(naive, NOW, field)
    assert caught.value.code == "R_GEN_6_NAIVE_TIME"
    assert caught.value.field == field


def test_r_gen_6_naive_now_with_reported_time_is_refused() -> None:
    # given a naive `now` (a caller bug) and an aware reported time
    naive_now = NOW.replace(tzinfo=None)
    # when the upload time is computed / then it is refused as a naive time
    with pytest.raises(RuleViolation) as caught:
        upload_instant(NOW - timedelta(hours=1), naive_now)
    assert caught.value.code == "R_GEN_6_NAIVE_TIME"


def test_r_gen_6_naive_now_without_reported_time_is_refused() -> None:
    # given a naive `now` and no reported time
    naive_now = NOW.replace(tzinfo=None)
    # when the upload time is computed / then it is refused rather than passed on naive
    with pytest.raises(RuleViolation) as caught:
        upload_instant(None, naive_now)
    assert caught.value.code == "R_GEN_6_NAIVE_TIME"


# --- figures (R-EXAM-6) -----------------------------------------------------------------


def test_r_exam_6_console_figures_split_bought_into_available_used_expired() -> None:
    # given an unexpired lot (10,000, 4,000 used), a lot expiring exactly now
    # (10,000, 2,000 used) and 7 exams in arrears
    live = _lot(1, 10_000, 4_000, NOW + timedelta(days=100))
    lapsed = _lot(2, 10_000, 2_000, NOW)
    # when the console figures are computed at NOW
    result = figures([live, lapsed], 7, NOW)
    # then the lapsed remainder counts as expired, and the books balance
    assert result == ExamFigures(
        available=6_000, used=6_000, arrears=7, expired=8_000, bought=20_000
    )
    assert result.bought == result.available + result.used + result.expired


def test_r_exam_6_remainder_is_available_until_1ms_before_expiry() -> None:
    # given a lot expiring at NOW
    lot = _lot(1, 10_000, 1_000, NOW)
    # when figures are taken 1 ms before and at the expiry instant
    before = figures([lot], 0, NOW - MS)
    at = figures([lot], 0, NOW)
    # then the 9,000 remainder moves from available to expired at that instant
    assert (before.available, before.expired) == (9_000, 0)
    assert (at.available, at.expired) == (0, 9_000)
    assert before.used == at.used == 1_000


def test_r_exam_6_account_without_lots_shows_only_arrears() -> None:
    # given no lots and 3 exams in arrears / then every figure but arrears is zero
    assert figures([], 3, NOW) == ExamFigures(available=0, used=0, arrears=3, expired=0, bought=0)
