"""Cloud-exam rules: lots, allocation, arrears, settlement, expiry, voids (R-EXAM, R-ARR).

Everything here is pure: callers load state, pass `now`, and persist what comes back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .clock import add_years, require_aware
from .errors import RuleViolation
from .prepaid import PrepaidCredit
from .prepaid import draw_order as draw_order  # R-EXAM-3, beside the other rules

LOT_UNIT = 10_000  # R-EXAM-1: whole 10,000s of exams
MAX_LOT = 10**9  # larger is a typo, not a purchase
MAX_STORAGE_YEARS = 100  # as placeOrder allows; keeps storage ends inside the calendar
VOLUME_STORAGE_YEARS = 15  # R-EXAM-1: a VOLUME exam is stored 15 years
LOT_USE_BY_YEARS = 1  # R-EXAM-2
ARREARS_GRACE = timedelta(hours=24)  # R-ARR-3
UPLOAD_BACKDATE_LIMIT = timedelta(hours=24)  # how late a gateway may report an upload
CLOCK_SKEW = timedelta(minutes=5)
MAX_UID_LENGTH = 64  # DICOM PS3.5 §9.1
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class LotMode(StrEnum):
    VOLUME = "VOLUME"
    ANNUAL = "ANNUAL"


class AccountStatus(StrEnum):
    ACTIVE = "ACTIVE"
    IN_ARREARS = "IN_ARREARS"
    SUSPENDED = "SUSPENDED"


@dataclass(frozen=True)
class LotTerms:
    mode: LotMode
    quantity: int
    storage_years: int


@dataclass(frozen=True)
class Lot(PrepaidCredit):
    """A lot as the rules see it. `used` counts exams it covers (voids excluded)."""

    id: int
    quantity: int
    used: int
    storage_years: int
    purchased_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ExamFigures:
    """R-EXAM-6. bought = available + used + expired always holds."""

    available: int
    used: int
    arrears: int
    expired: int
    bought: int


@dataclass(frozen=True)
class UploadPermission:
    allowed: bool
    reason: str | None
    suspends_at: datetime | None


def lot_terms(mode: LotMode, quantity: int, years: int | None) -> LotTerms:
    """Validate a lot purchase (R-EXAM-1) and return its storage terms."""
    if not LOT_UNIT <= quantity <= MAX_LOT or quantity % LOT_UNIT:
        raise RuleViolation("R_EXAM_1_UNIT", "quantity")
    if mode is LotMode.VOLUME:
        if years not in (None, VOLUME_STORAGE_YEARS):
            raise RuleViolation("R_EXAM_1_YEARS", "years")
        return LotTerms(mode, quantity, VOLUME_STORAGE_YEARS)
    if years is None or not 1 <= years <= MAX_STORAGE_YEARS:
        raise RuleViolation("R_EXAM_1_YEARS", "years")
    return LotTerms(mode, quantity, years)


def lot_expires_at(purchased_at: datetime) -> datetime:
    """R-EXAM-2: one calendar year after purchase."""
    return add_years(purchased_at, LOT_USE_BY_YEARS)


def allocate(lots: Iterable[Lot], count: int, now: datetime) -> list[int | None]:
    """Cover `count` uploads made at `now`, in order.

    Returns one entry per upload: the id of the lot that covers it, or None when
    nothing is available and the upload goes into arrears (R-ARR-1).
    """
    draws: list[int | None] = []
    for lot in draw_order(lot for lot in lots if lot.usable(now)):
        take = min(lot.remaining, count - len(draws))
        draws.extend([lot.id] * take)
        if len(draws) == count:
            return draws
    return draws + [None] * (count - len(draws))


def settle(arrears_count: int, lot_remaining: int) -> int:
    """R-ARR-4: how many of the oldest arrears exams a new lot covers."""
    return min(arrears_count, lot_remaining)


def storage_ends_at(uploaded_at: datetime, storage_years: int) -> datetime:
    """R-EXAM-5: counted from the upload, also for exams covered later."""
    return add_years(uploaded_at, storage_years)


def suspends_at(arrears_since: datetime | None) -> datetime | None:
    return None if arrears_since is None else arrears_since + ARREARS_GRACE


def upload_permission(arrears_since: datetime | None, now: datetime) -> UploadPermission:
    """R-ARR-3 / R-ARR-5: may the account's institutions upload at `now`?"""
    deadline = suspends_at(arrears_since)
    if deadline is not None and now >= deadline:
        return UploadPermission(False, "R_ARR_3_SUSPENDED", deadline)
    return UploadPermission(True, None, deadline)


def account_status(arrears_since: datetime | None, now: datetime) -> AccountStatus:
    if arrears_since is None:
        return AccountStatus.ACTIVE
    if upload_permission(arrears_since, now).allowed:
        return AccountStatus.IN_ARREARS
    return AccountStatus.SUSPENDED


def exam_viewable(
    *, voided: bool, covered: bool, storage_end: datetime | None, now: datetime
) -> bool:
    """R-ARR-3: covered exams inside their storage period and arrears exams stay viewable."""
    if voided:
        return False
    if not covered:
        return True
    return storage_end is not None and now < storage_end


def figures(lots: Sequence[Lot], arrears: int, now: datetime) -> ExamFigures:
    """R-EXAM-6, right at any instant, before or after an expiry sweep."""
    available = sum(lot.remaining for lot in lots if not lot.expired(now))
    expired = sum(lot.remaining for lot in lots if lot.expired(now))
    return ExamFigures(
        available=available,
        used=sum(lot.used for lot in lots),
        arrears=arrears,
        expired=expired,
        bought=sum(lot.quantity for lot in lots),
    )


def low_balance_threshold(configured: int | None, last_lot_quantity: int | None) -> int:
    """R-ARR-2 decision: the configured threshold, else 10 % of the last lot bought."""
    if configured is not None:
        return configured
    return (last_lot_quantity or 0) // 10


def low_balance_due(*, noticed: bool, available: int, threshold: int) -> bool:
    """A low-balance notice is due once per recharge, when availability falls to the
    threshold but not yet to zero (running out sends the arrears notice instead)."""
    return not noticed and 0 < available <= threshold


def validate_study_uid(uid: str, field: str = "studyInstanceUid") -> str:
    if not (0 < len(uid) <= MAX_UID_LENGTH) or not _UID.fullmatch(uid):
        raise RuleViolation("R_EXAM_4_STUDY_UID", field)
    return uid


def upload_instant(reported: datetime | None, now: datetime, field: str = "uploadedAt") -> datetime:
    """The exam's upload time: as reported by the gateway (within a day, not ahead), else now."""
    require_aware(now, "now")
    if reported is None:
        return now
    reported = require_aware(reported, field)
    if reported > now + CLOCK_SKEW or reported < now - UPLOAD_BACKDATE_LIMIT:
        raise RuleViolation("R_EXAM_5_UPLOAD_TIME", field)
    return min(reported, now)


@dataclass(frozen=True)
class ArrearsChange:
    count: int
    since: datetime | None
    started: bool  # R-ARR-1: the clock starts now
    resumed: bool  # R-ARR-4: cleared while uploads were suspended


def change_arrears(count: int, since: datetime | None, delta: int, now: datetime) -> ArrearsChange:
    """Move the arrears count; start the clock at the first arrears exam and clear it
    when none remain (R-ARR-1, R-ARR-4). A partial settlement keeps the clock."""
    new_count = count + delta
    if new_count < 0:
        raise ValueError("arrears cannot go below zero")
    if new_count == 0:
        was_suspended = not upload_permission(since, now).allowed
        return ArrearsChange(0, None, started=False, resumed=count > 0 and was_suspended)
    if count == 0:
        return ArrearsChange(new_count, now, started=True, resumed=False)
    return ArrearsChange(new_count, since, started=False, resumed=False)
