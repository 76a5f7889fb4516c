"""Cloud-exam lots: purchase terms, use-by date, draw order and allocation
(R-EXAM-1, R-EXAM-2, R-EXAM-3, R-ARR-1)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.exams import (
    LOT_UNIT,
    VOLUME_STORAGE_YEARS,
    Lot,
    LotMode,
    allocate,
    draw_order,
    lot_expires_at,
    lot_terms,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MS = timedelta(milliseconds=1)


def make_lot(
    lot_id: int,
    *,
    quantity: int = 10,
    used: int = 0,
    storage_years: int = VOLUME_STORAGE_YEARS,
    purchased_at: datetime = NOW - timedelta(days=30),
    expires_at: datetime | None = None,
) -> Lot:
    return Lot(
        id=lot_id,
        quantity=quantity,
        used=used,
        storage_years=storage_years,
        purchased_at=purchased_at,
        expires_at=expires_at if expires_at is not None else lot_expires_at(purchased_at),
    )


# --- lot_terms (R-EXAM-1) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "quantity", "years", "storage_years"),
    [
        (LotMode.VOLUME, 10_000, None, 15),
        (LotMode.VOLUME, 20_000, 15, 15),
        (LotMode.ANNUAL, 10_000, 1, 1),
        (LotMode.ANNUAL, 100_000, 15, 15),
        (LotMode.ANNUAL, 50_000, 30, 30),
    ],
)
def test_r_exam_1_valid_purchase_gets_its_storage_terms(
    mode: LotMode, quantity: int, years: int | None, storage_years: int
) -> None:
    # given a purchase in whole 10,000s
    # when its terms are computed
    terms = lot_terms(mode, quantity, years)
    # then the lot keeps mode and size, and stores each exam for the right number of years
    assert terms.mode is mode
    assert terms.quantity == quantity
    assert terms.storage_years == storage_years


def test_r_exam_1_guide_example_volume_and_annual_15_years_store_alike() -> None:
    # given the guide's example: 100,000 exams stored for 15 years, bought either way
    volume = lot_terms(LotMode.VOLUME, 100_000, None)
    annual = lot_terms(LotMode.ANNUAL, 100_000, 15)
    # then both cover the same exams for the same storage period
    assert (volume.quantity, volume.storage_years) == (annual.quantity, annual.storage_years)


@pytest.mark.parametrize("mode", list(LotMode))
@pytest.mark.parametrize("quantity", [0, -10_000, 1, 5_000, 9_999, 10_001, 15_000, 99_999])
def test_r_exam_1_quantity_not_in_whole_10000s_is_refused(mode: LotMode, quantity: int) -> None:
    # given a quantity that is not a positive multiple of 10,000
    # when the purchase is validated / then it is refused on the quantity field
    with pytest.raises(RuleViolation) as caught:
        lot_terms(mode, quantity, 1 if mode is LotMode.ANNUAL else None)
    assert caught.value.code == "R_EXAM_1_UNIT"
    assert caught.value.field == "quantity"


def test_r_exam_1_minimum_lot_is_exactly_one_unit() -> None:
    # given the smallest lot the guide allows
    # when it is validated
    terms = lot_terms(LotMode.VOLUME, LOT_UNIT, None)
    # then it is accepted
    assert terms.quantity == 10_000


@pytest.mark.parametrize("years", [1, 14, 16, 0])
def test_r_exam_1_volume_lot_cannot_choose_other_than_15_years(years: int) -> None:
    # given a VOLUME purchase naming a storage period other than 15 years
    # when it is validated / then the years field is refused
    with pytest.raises(RuleViolation) as caught:
        lot_terms(LotMode.VOLUME, 10_000, years)
    assert caught.value.code == "R_EXAM_1_YEARS"
    assert caught.value.field == "years"


@pytest.mark.parametrize("years", [None, 0, -1])
def test_r_exam_1_annual_lot_needs_at_least_one_year(years: int | None) -> None:
    # given an ANNUAL purchase with no or fewer than one storage year
    # when it is validated / then the years field is refused
    with pytest.raises(RuleViolation) as caught:
        lot_terms(LotMode.ANNUAL, 10_000, years)
    assert caught.value.code == "R_EXAM_1_YEARS"
    assert caught.value.field == "years"


def test_r_exam_1_bad_quantity_is_reported_before_bad_years() -> None:
    # given a purchase that breaks both the unit and the years rule
    # when it is validated / then the quantity is named first
    with pytest.raises(RuleViolation) as caught:
        lot_terms(LotMode.ANNUAL, 5_000, None)
    assert caught.value.code == "R_EXAM_1_UNIT"


# --- lot_expires_at (R-EXAM-2) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("purchased_at", "expires_at"),
    [
        pytest.param(
            datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
            datetime(2027, 3, 1, 8, 0, tzinfo=UTC),
            id="ordinary-day",
        ),
        pytest.param(
            datetime(2028, 2, 29, 15, 30, tzinfo=UTC),
            datetime(2029, 2, 28, 15, 30, tzinfo=UTC),
            id="29-feb-expires-28-feb",
        ),
        pytest.param(
            datetime(2027, 2, 28, 15, 30, tzinfo=UTC),
            datetime(2028, 2, 28, 15, 30, tzinfo=UTC),
            id="28-feb-before-leap-day",
        ),
        pytest.param(
            datetime(2026, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
            datetime(2027, 12, 31, 23, 59, 59, 999_000, tzinfo=UTC),
            id="last-millisecond-of-year",
        ),
    ],
)
def test_r_exam_2_lot_expires_one_calendar_year_after_purchase(
    purchased_at: datetime, expires_at: datetime
) -> None:
    # given a purchase instant / when its use-by instant is computed
    # then it is the same instant one calendar year later
    assert lot_expires_at(purchased_at) == expires_at


@pytest.mark.parametrize(
    ("offset", "expired"),
    [
        pytest.param(-MS, False, id="1ms-before-expiry"),
        pytest.param(timedelta(0), True, id="at-expiry-instant"),
        pytest.param(MS, True, id="1ms-after-expiry"),
    ],
)
def test_r_exam_2_remainder_is_forfeited_at_the_expiry_instant(
    offset: timedelta, expired: bool
) -> None:
    # given a lot with a remainder
    lot = make_lot(1, quantity=10, used=3, purchased_at=NOW - timedelta(days=400))
    # when it is looked at around its expiry instant
    at = lot.expires_at + offset
    # then it is expired from that instant on, and only usable before it
    assert lot.expired(at) is expired
    assert lot.usable(at) is not expired


def test_r_exam_6_remaining_is_quantity_minus_used() -> None:
    # given a lot of 10,000 with 2,500 used
    lot = make_lot(1, quantity=10_000, used=2_500)
    # then 7,500 remain
    assert lot.remaining == 7_500


def test_r_exam_3_used_up_lot_is_not_usable_even_before_expiry() -> None:
    # given a lot that is unexpired but fully used
    lot = make_lot(1, quantity=10, used=10)
    # then it cannot cover an upload
    assert not lot.expired(NOW)
    assert not lot.usable(NOW)


# --- draw_order (R-EXAM-3) --------------------------------------------------------------


def test_r_exam_3_soonest_expiry_first_regardless_of_purchase_or_id() -> None:
    # given three lots where the later-bought, higher-id one expires first
    late = make_lot(1, purchased_at=NOW - timedelta(days=10), expires_at=NOW + timedelta(days=90))
    soon = make_lot(2, purchased_at=NOW - timedelta(days=5), expires_at=NOW + timedelta(days=10))
    mid = make_lot(3, purchased_at=NOW - timedelta(days=1), expires_at=NOW + timedelta(days=30))
    # when they are put in draw order
    ordered = draw_order([late, soon, mid])
    # then the soonest expiry comes first
    assert [lot.id for lot in ordered] == [2, 3, 1]


def test_r_exam_3_same_expiry_earlier_purchase_first() -> None:
    # given two lots expiring together, the higher id bought earlier
    expires = NOW + timedelta(days=30)
    a = make_lot(1, purchased_at=NOW - timedelta(days=2), expires_at=expires)
    b = make_lot(2, purchased_at=NOW - timedelta(days=3), expires_at=expires)
    # when they are put in draw order / then the earlier purchase is first
    assert [lot.id for lot in draw_order([a, b])] == [2, 1]


def test_r_exam_3_same_expiry_and_purchase_lower_id_first() -> None:
    # given three lots expiring and bought at the same instants
    lots = [make_lot(lot_id) for lot_id in (7, 3, 5)]
    # when they are put in draw order / then the lower id is first
    assert [lot.id for lot in draw_order(lots)] == [3, 5, 7]


def test_r_exam_3_order_is_across_both_modes() -> None:
    # given an ANNUAL 1-year lot and a VOLUME lot; the VOLUME lot expires first
    annual = make_lot(1, storage_years=1, expires_at=NOW + timedelta(days=60))
    volume = make_lot(2, storage_years=15, expires_at=NOW + timedelta(days=20))
    # when they are put in draw order / then the storage mode plays no part
    assert [lot.id for lot in draw_order([annual, volume])] == [2, 1]


def test_r_exam_3_29_feb_purchase_ties_with_28_feb_purchase_on_expiry() -> None:
    # given a lot bought 28 Feb 2028 12:00 and one bought 29 Feb 2028 12:00:
    # both expire 28 Feb 2029 12:00 (R-GEN-6)
    feb28 = make_lot(2, purchased_at=datetime(2028, 2, 28, 12, 0, tzinfo=UTC))
    feb29 = make_lot(1, purchased_at=datetime(2028, 2, 29, 12, 0, tzinfo=UTC))
    assert feb28.expires_at == feb29.expires_at
    # when they are put in draw order / then the earlier purchase wins the tie despite its id
    assert [lot.id for lot in draw_order([feb29, feb28])] == [2, 1]


def test_r_exam_3_draw_order_accepts_any_iterable_and_leaves_input_alone() -> None:
    # given lots in a list
    lots = [make_lot(2), make_lot(1)]
    # when they are ordered from a generator
    ordered = draw_order(lot for lot in lots)
    # then a new, ordered list is returned and the input list is untouched
    assert [lot.id for lot in ordered] == [1, 2]
    assert [lot.id for lot in lots] == [2, 1]


# --- allocate (R-EXAM-3, R-ARR-1) -------------------------------------------------------


def test_r_exam_3_one_lot_covers_every_upload_it_can() -> None:
    # given a single lot with 10 remaining
    lot = make_lot(4, quantity=10, used=0)
    # when 3 exams are uploaded
    draws = allocate([lot], 3, NOW)
    # then all three are covered by that lot
    assert draws == [4, 4, 4]


def test_r_exam_3_upload_spills_into_the_next_lot_in_draw_order() -> None:
    # given a soon-expiring lot with 2 left and a later one with 10 left
    soon = make_lot(9, quantity=10, used=8, expires_at=NOW + timedelta(days=5))
    later = make_lot(1, quantity=10, used=0, expires_at=NOW + timedelta(days=200))
    # when 5 exams are uploaded
    draws = allocate([later, soon], 5, NOW)
    # then the soon lot is emptied first, then the later one is drawn
    assert draws == [9, 9, 1, 1, 1]


@pytest.mark.parametrize(
    ("expiry_offset", "covered_by"),
    [
        pytest.param(-MS, 2, id="expired-1ms-before-upload"),
        pytest.param(timedelta(0), 2, id="expires-at-upload-instant"),
        pytest.param(MS, 1, id="expires-1ms-after-upload"),
    ],
)
def test_r_exam_2_lot_expiring_at_the_upload_instant_is_not_drawn(
    expiry_offset: timedelta, covered_by: int
) -> None:
    # given a lot expiring around the upload instant and a long-lived fallback lot
    edge = make_lot(1, quantity=10, expires_at=NOW + expiry_offset)
    fallback = make_lot(2, quantity=10, expires_at=NOW + timedelta(days=300))
    # when one exam is uploaded at NOW
    draws = allocate([edge, fallback], 1, NOW)
    # then the edge lot covers it only while strictly before its expiry
    assert draws == [covered_by]


def test_r_exam_2_upload_at_expiry_instant_of_only_lot_goes_into_arrears() -> None:
    # given an account whose only lot expires exactly now
    lot = make_lot(1, quantity=10_000, used=5, expires_at=NOW)
    # when an exam is uploaded at that instant
    draws = allocate([lot], 1, NOW)
    # then nothing covers it: it is recorded as arrears
    assert draws == [None]


def test_r_arr_1_uploads_beyond_availability_go_into_arrears_at_the_tail() -> None:
    # given 3 exams available across two lots
    a = make_lot(1, quantity=10, used=9, expires_at=NOW + timedelta(days=1))
    b = make_lot(2, quantity=10, used=8, expires_at=NOW + timedelta(days=2))
    # when 6 exams are uploaded
    draws = allocate([a, b], 6, NOW)
    # then 3 are covered in order and the last 3 are arrears
    assert draws == [1, 2, 2, None, None, None]


def test_r_arr_1_no_lots_at_all_means_every_upload_is_arrears() -> None:
    # given an account with no lots / when 2 exams are uploaded
    # then both are arrears
    assert allocate([], 2, NOW) == [None, None]


def test_r_exam_3_used_up_lot_is_skipped() -> None:
    # given a used-up lot that would otherwise be drawn first
    empty = make_lot(1, quantity=10, used=10, expires_at=NOW + timedelta(days=1))
    spare = make_lot(2, quantity=10, used=0, expires_at=NOW + timedelta(days=9))
    # when an exam is uploaded / then the lot with a remainder covers it
    assert allocate([empty, spare], 1, NOW) == [2]


def test_r_exam_3_zero_uploads_draw_nothing() -> None:
    # given a usable lot / when nothing is uploaded / then nothing is drawn
    assert allocate([make_lot(1)], 0, NOW) == []


def test_r_exam_3_exact_fit_leaves_no_arrears() -> None:
    # given exactly 4 exams available
    lots = [make_lot(1, quantity=10, used=8), make_lot(2, quantity=10, used=8)]
    # when 4 exams are uploaded / then all are covered, none in arrears
    assert allocate(lots, 4, NOW) == [1, 1, 2, 2]


def test_r_exam_3_allocate_accepts_a_one_shot_iterable() -> None:
    # given lots handed over as a generator, as a repository might stream them
    lots = (make_lot(lot_id, quantity=1) for lot_id in (2, 1))
    # when 3 exams are uploaded / then the generator is read once and the order holds
    assert allocate(lots, 3, NOW) == [1, 2, None]
