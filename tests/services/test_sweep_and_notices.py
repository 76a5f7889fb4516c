"""Service-level scenarios of time passing: expiry sweeps (R-EXAM-2), notices (R-ARR-2/3),
voids, draw order (R-EXAM-3), storage ends (R-EXAM-5) and refused uploads (R-EXAM-4/5).

Every scenario ends by checking the figures against the ledger (R-GEN-7)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from imaging_billing.api.context import Services
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.exams import ExamFigures, LotMode, lot_terms
from imaging_billing.domain.ledger import Cause
from imaging_billing.domain.notices import NoticeKind
from imaging_billing.services import voiding
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.reading import exam_figures
from imaging_billing.services.reconcile import reconcile_account
from imaging_billing.services.steps.lots import Credit, credit_lot
from imaging_billing.services.steps.uploads import (
    UploadItem,
    UploadOutcome,
    UploadStatus,
    record_uploads,
)
from imaging_billing.services.sweep import SweepReport, run_sweep
from imaging_billing.store import accounts, exams, ledger, lots, notices

from ..factories import create_account, create_institution

BOTH = {"BUSINESS", "MANAGEMENT"}
OPERATOR = Principal(Role.OPERATOR, 1, "operator")


@dataclass
class Site:
    """An account with one institution, driven through the services."""

    services: Services
    account_id: int
    institution_id: int

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    async def upload(self, *uids: str, at: datetime | None = None) -> list[UploadOutcome]:
        items = [UploadItem(self.institution_id, uid, at) for uid in uids]
        async with self.services.db.write() as conn:
            return await record_uploads(conn, self.account_id, items, self.now)

    async def upload_at(self, *pairs: tuple[str, datetime | None]) -> list[UploadOutcome]:
        items = [UploadItem(self.institution_id, uid, at) for uid, at in pairs]
        async with self.services.db.write() as conn:
            return await record_uploads(conn, self.account_id, items, self.now)

    async def upload_many(self, prefix: str, count: int) -> None:
        outcomes = await self.upload(*(f"{prefix}.{n}" for n in range(1, count + 1)))
        assert all(o.status is UploadStatus.ACCEPTED for o in outcomes)

    async def credit(
        self, quantity: int = 10_000, mode: LotMode = LotMode.VOLUME, years: int | None = None
    ) -> Credit:
        async with self.services.db.write() as conn:
            return await credit_lot(
                conn,
                account_id=self.account_id,
                terms=lot_terms(mode, quantity, years),
                now=self.now,
                actor="operator:1",
                cause=Cause.OPERATOR,
            )

    async def void(self, exam_id: int, reason: str = "wrong patient") -> None:
        await voiding.void_exam(
            self.services.db,
            OPERATOR,
            exam_id=exam_id,
            reason=reason,
            idempotency_key=None,
            now=self.now,
        )

    async def sweep(self) -> SweepReport:
        return await run_sweep(self.services.db, self.now)

    async def figures(self) -> ExamFigures:
        async with self.services.db.read() as conn:
            return await exam_figures(conn, await self.account(conn), self.now)

    async def account(self, conn: Any = None) -> Any:
        if conn is None:
            async with self.services.db.read() as own:
                return await self.account(own)
        row = await accounts.get_account(conn, self.account_id)
        assert row is not None
        return row

    async def notices(self, kind: NoticeKind) -> list[Any]:
        async with self.services.db.read() as conn:
            return await notices.page_notices(
                conn, self.account_id, after_id=None, limit=1_000, kinds=[kind.value]
            )

    async def entries(self, *types: str, lot_id: int | None = None) -> list[Any]:
        async with self.services.db.read() as conn:
            rows = await ledger.page_entries(
                conn,
                self.account_id,
                after_id=None,
                limit=1_000,
                types=list(types) or None,
                lot_id=lot_id,
            )
        return sorted(rows, key=lambda row: row.id)

    async def ledger_count(self) -> int:
        async with self.services.db.read() as conn:
            return await ledger.count_entries(conn, self.account_id)

    async def lot(self, lot_id: int) -> Any:
        async with self.services.db.read() as conn:
            row = await lots.get_lot(conn, lot_id)
        assert row is not None
        return row

    async def exam(self, exam_id: int) -> Any:
        async with self.services.db.read() as conn:
            row = await exams.get_exam(conn, exam_id)
        assert row is not None
        return row

    async def exam_by_uid(self, uid: str) -> Any:
        async with self.services.db.read() as conn:
            return await exams.by_uid(conn, self.account_id, uid)

    async def assert_reconciles(self) -> None:
        async with self.services.db.read() as conn:
            assert await reconcile_account(conn, self.account_id) == []


@pytest.fixture
async def site(services: Services) -> Site:
    account_id = await create_account(services)
    gateway = await create_institution(services, account_id)
    return Site(services, account_id, gateway.institution_pk)


def targets(rows: list[Any]) -> list[str]:
    return sorted(row.target for row in rows)


# --- R-EXAM-2: expiry ------------------------------------------------------------------


async def test_r_exam_2_remainder_is_forfeited_at_exactly_the_expiry_instant(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-2: figures show the remainder expired from the instant itself, before any sweep;
    the sweep then writes one EXPIRY entry of -remainder, and a second sweep writes nothing."""
    # given a lot bought now, three exams drawn from it
    credit = await site.credit()
    await site.upload("1.2.3.1", "1.2.3.2", "1.2.3.3")
    expires_at = (await site.lot(credit.lot_id)).expires_at
    assert expires_at == datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
    # when the sweep runs one microsecond before the expiry instant
    clock.set(expires_at - timedelta(microseconds=1))
    early = await site.sweep()
    # then nothing expires yet
    assert early.lots_expired == 0
    assert await site.entries("EXPIRY") == []
    assert await site.figures() == ExamFigures(
        available=9_997, used=3, arrears=0, expired=0, bought=10_000
    )
    # when the clock reaches the instant, the figures already show the forfeit
    clock.set(expires_at)
    before_sweep = await site.figures()
    assert before_sweep == ExamFigures(available=0, used=3, arrears=0, expired=9_997, bought=10_000)
    # and the sweep writes exactly one EXPIRY entry of the remainder
    report = await site.sweep()
    assert (report.lots_expired, report.exams_forfeited) == (1, 9_997)
    expiry = await site.entries("EXPIRY")
    assert [(e.lot_id, e.quantity, e.cause, e.occurred_at) for e in expiry] == [
        (credit.lot_id, -9_997, "SWEEP", expires_at)
    ]
    assert await site.figures() == before_sweep
    # then a second sweep writes nothing
    count = await site.ledger_count()
    again = await site.sweep()
    assert (again.lots_expired, again.exams_forfeited) == (0, 0)
    assert await site.ledger_count() == count
    assert len(await site.entries("EXPIRY")) == 1
    await site.assert_reconciles()


async def test_r_exam_2_an_upload_at_the_expiry_instant_is_not_drawn_from_the_lot(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-2 / R-ARR-1: at the expiry instant the lot is no longer usable: the upload goes
    into arrears even though the sweep has not run."""
    # given a lot whose expiry instant has come, not yet swept
    credit = await site.credit()
    clock.set((await site.lot(credit.lot_id)).expires_at)
    # when an exam is uploaded
    [outcome] = await site.upload("1.2.3.9")
    # then it is accepted in arrears and the lot is untouched
    assert outcome.status is UploadStatus.ACCEPTED
    assert outcome.exam is not None
    assert outcome.exam.lot_id is None
    assert (await site.lot(credit.lot_id)).used == 0
    assert await site.figures() == ExamFigures(
        available=0, used=0, arrears=1, expired=10_000, bought=10_000
    )
    await site.sweep()
    await site.assert_reconciles()


# --- R-ARR-2: notices ------------------------------------------------------------------


async def test_r_arr_2_lot_expiring_notices_30_and_7_days_ahead_once_each_to_both_platforms(
    site: Site, clock: ManualClock
) -> None:
    """R-ARR-2 decision: 30 and 7 days before a lot with a remainder expires, one notice each,
    to the business and the management platform; repeated sweeps do not repeat them."""
    # given a lot with a remainder
    credit = await site.credit()
    await site.upload("1.2.5.1")
    expires_at = (await site.lot(credit.lot_id)).expires_at
    # when sweeps run up to just before 30 days ahead
    clock.set(expires_at - timedelta(days=30, seconds=1))
    assert (await site.sweep()).expiry_warnings == 0
    assert await site.notices(NoticeKind.LOT_EXPIRING_30D) == []
    # when the sweep runs 30 days ahead, then again, then 8 days ahead
    clock.set(expires_at - timedelta(days=30))
    assert (await site.sweep()).expiry_warnings == 1
    assert (await site.sweep()).expiry_warnings == 0
    clock.set(expires_at - timedelta(days=8))
    assert (await site.sweep()).expiry_warnings == 0
    # then one 30-day notice went to each platform, naming the lot and its remainder
    thirty = await site.notices(NoticeKind.LOT_EXPIRING_30D)
    assert targets(thirty) == sorted(BOTH)
    assert {row.lot_id for row in thirty} == {credit.lot_id}
    assert json.loads(thirty[0].detail)["remaining"] == 9_999
    assert await site.notices(NoticeKind.LOT_EXPIRING_7D) == []
    # when the sweep runs 7 days ahead, and twice more before expiry
    clock.set(expires_at - timedelta(days=7))
    assert (await site.sweep()).expiry_warnings == 1
    clock.set(expires_at - timedelta(days=1))
    assert (await site.sweep()).expiry_warnings == 0
    assert (await site.sweep()).expiry_warnings == 0
    # then one 7-day notice went to each platform, and the 30-day ones were not repeated
    seven = await site.notices(NoticeKind.LOT_EXPIRING_7D)
    assert targets(seven) == sorted(BOTH)
    assert {row.lot_id for row in seven} == {credit.lot_id}
    assert len(await site.notices(NoticeKind.LOT_EXPIRING_30D)) == 2
    await site.assert_reconciles()


async def test_r_arr_2_a_lot_first_seen_5_days_before_expiry_gets_only_the_7_day_notice(
    site: Site, clock: ManualClock
) -> None:
    """R-ARR-2 decision: a sweep that first sees a lot 5 days out sends the 7-day notice
    only (a 30-day warning would be wrong by then), and never the 30-day one later."""
    # given a lot never swept until 5 days before its expiry
    credit = await site.credit()
    expires_at = (await site.lot(credit.lot_id)).expires_at
    clock.set(expires_at - timedelta(days=5))
    # when the sweep runs, twice
    first = await site.sweep()
    second = await site.sweep()
    # then only the 7-day notice went out, once per platform
    assert (first.expiry_warnings, second.expiry_warnings) == (1, 0)
    assert targets(await site.notices(NoticeKind.LOT_EXPIRING_7D)) == sorted(BOTH)
    assert await site.notices(NoticeKind.LOT_EXPIRING_30D) == []
    await site.assert_reconciles()


async def test_r_arr_2_low_balance_notice_once_per_lot_at_10_percent_of_the_last_lot(
    site: Site,
) -> None:
    """R-ARR-2 decision: when availability falls to 10 % of the last lot bought, one
    low-balance notice to each platform; none while it keeps falling; again after a new lot
    is credited and availability falls to the threshold again."""
    # given a lot of 10,000 with 1,001 left (threshold 1,000)
    await site.credit()
    await site.upload_many("1.2.6.1", 8_999)
    assert await site.notices(NoticeKind.LOW_BALANCE) == []
    # when one more exam brings availability to 1,000, and ten more follow
    await site.upload("1.2.6.2.1")
    first = await site.notices(NoticeKind.LOW_BALANCE)
    await site.upload(*(f"1.2.6.3.{n}" for n in range(10)))
    # then one notice per platform, carrying the figures that triggered it
    assert targets(first) == sorted(BOTH)
    assert json.loads(first[0].detail) == {"available": 1_000, "threshold": 1_000}
    assert len(await site.notices(NoticeKind.LOW_BALANCE)) == 2
    # when a new lot is credited and availability falls to 10 % of it again
    await site.credit()
    assert (await site.figures()).available == 10_990
    await site.upload_many("1.2.6.4", 9_989)
    assert len(await site.notices(NoticeKind.LOW_BALANCE)) == 2
    await site.upload("1.2.6.5.1")
    # then a second low-balance notice went to each platform, and only one
    await site.upload("1.2.6.5.2")
    again = await site.notices(NoticeKind.LOW_BALANCE)
    assert len(again) == 4
    assert targets(again[:2]) == sorted(BOTH)
    assert (await site.figures()).available == 999
    await site.assert_reconciles()


async def test_r_arr_3_the_sweep_notices_a_suspension_once_and_a_refused_upload_adds_none(
    site: Site, clock: ManualClock
) -> None:
    """R-ARR-2/3: the sweep writes UPLOADS_SUSPENDED once the arrears clock is 24 h old, to
    both platforms, once; an upload refused afterwards does not write it again."""
    # given an account whose first upload found nothing available
    await site.upload("1.2.7.1")
    started = (await site.account()).arrears_since
    assert started == clock.now()
    assert targets(await site.notices(NoticeKind.ARREARS_STARTED)) == sorted(BOTH)
    # when the sweep runs one second before 24 hours
    clock.set(started + timedelta(hours=24, seconds=-1))
    assert (await site.sweep()).suspensions_noticed == 0
    assert await site.notices(NoticeKind.UPLOADS_SUSPENDED) == []
    # when it runs at 24 hours, and again
    clock.set(started + timedelta(hours=24))
    assert (await site.sweep()).suspensions_noticed == 1
    assert (await site.sweep()).suspensions_noticed == 0
    # then one suspension notice per platform
    assert targets(await site.notices(NoticeKind.UPLOADS_SUSPENDED)) == sorted(BOTH)
    # when a new upload then arrives
    [refused] = await site.upload("1.2.7.2")
    # then it is refused, not recorded, and the notice is not repeated
    assert refused.status is UploadStatus.REFUSED
    assert refused.error is not None
    assert refused.error.code == "R_ARR_3_SUSPENDED"
    assert await site.exam_by_uid("1.2.7.2") is None
    assert len(await site.notices(NoticeKind.UPLOADS_SUSPENDED)) == 2
    assert (await site.figures()).arrears == 1
    await site.assert_reconciles()


async def test_r_arr_3_a_refused_upload_notices_the_suspension_and_the_sweep_adds_none(
    site: Site, clock: ManualClock
) -> None:
    """R-ARR-2/3: when a refused upload meets the suspension before the sweep does, it writes
    the notice; the sweep and later refusals do not write it again."""
    # given arrears 24 hours old and no sweep yet
    await site.upload("1.2.8.1")
    clock.advance(timedelta(hours=24))
    # when two uploads are refused, and the sweep runs
    await site.upload("1.2.8.2")
    await site.upload("1.2.8.3")
    report = await site.sweep()
    # then exactly one suspension notice per platform
    assert report.suspensions_noticed == 0
    assert targets(await site.notices(NoticeKind.UPLOADS_SUSPENDED)) == sorted(BOTH)
    await site.assert_reconciles()


# --- voids -----------------------------------------------------------------------------


async def test_void_of_a_covered_exam_returns_its_credit_to_the_unexpired_lot(
    site: Site,
) -> None:
    """R-GEN-5/R-GEN-7: voiding a covered exam writes VOID +1 on its lot; the exam no longer
    counts as used and its credit is available again."""
    # given two exams drawn from a lot
    credit = await site.credit()
    first, _ = await site.upload("1.2.9.1", "1.2.9.2")
    assert first.exam is not None
    # when an operator voids the first with a reason
    await site.void(first.exam.id, "reported against the wrong account")
    # then one VOID +1 entry on the lot, the exam marked voided, the credit back
    voids = await site.entries("VOID")
    assert [(v.lot_id, v.exam_id, v.quantity, v.cause) for v in voids] == [
        (credit.lot_id, first.exam.id, 1, "OPERATOR")
    ]
    assert voids[0].reason == "reported against the wrong account"
    exam = await site.exam(first.exam.id)
    assert exam.voided_at == site.now
    assert (await site.lot(credit.lot_id)).used == 1
    assert await site.figures() == ExamFigures(
        available=9_999, used=1, arrears=0, expired=0, bought=10_000
    )
    await site.assert_reconciles()


async def test_void_of_an_exam_whose_lot_was_swept_forfeits_the_returned_credit(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-2 with a void: the lot's remainder is already forfeited, so the returned credit
    follows it: VOID +1 then EXPIRY -1. Availability is unchanged; expired +1, used -1."""
    # given a lot with two exams, expired and swept
    credit = await site.credit()
    first, _ = await site.upload("1.2.10.1", "1.2.10.2")
    assert first.exam is not None
    clock.set((await site.lot(credit.lot_id)).expires_at + timedelta(days=3))
    await site.sweep()
    before = await site.figures()
    assert before == ExamFigures(available=0, used=2, arrears=0, expired=9_998, bought=10_000)
    # when the first exam is voided
    await site.void(first.exam.id)
    # then VOID +1 and EXPIRY -1 for that exam, on that lot
    mine = [e for e in await site.entries() if e.exam_id == first.exam.id]
    assert [(e.type, e.quantity, e.lot_id) for e in mine] == [
        ("CONSUMPTION", -1, credit.lot_id),
        ("VOID", 1, credit.lot_id),
        ("EXPIRY", -1, credit.lot_id),
    ]
    after = await site.figures()
    assert after == ExamFigures(available=0, used=1, arrears=0, expired=9_999, bought=10_000)
    # and a later sweep forfeits nothing more
    assert (await site.sweep()).exams_forfeited == 0
    await site.assert_reconciles()


async def test_void_after_expiry_before_the_sweep_leaves_the_credit_for_the_sweep(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-2 with a void before the sweep: VOID +1 only; the sweep forfeits it with the
    rest of the remainder."""
    # given an expired lot with one exam, not yet swept
    credit = await site.credit()
    [outcome] = await site.upload("1.2.11.1")
    assert outcome.exam is not None
    clock.set((await site.lot(credit.lot_id)).expires_at)
    # when the exam is voided, then the sweep runs
    await site.void(outcome.exam.id)
    assert await site.figures() == ExamFigures(
        available=0, used=0, arrears=0, expired=10_000, bought=10_000
    )
    report = await site.sweep()
    # then the sweep forfeited the whole lot in one entry
    assert report.exams_forfeited == 10_000
    assert [e.quantity for e in await site.entries("EXPIRY")] == [-10_000]
    await site.assert_reconciles()


async def test_void_of_arrears_exams_leaves_arrears_and_the_last_one_resumes_uploads(
    site: Site, clock: ManualClock
) -> None:
    """R-ARR-1/3/4 with voids: a voided arrears exam leaves arrears (VOID -1, no lot); the
    clock runs on while others remain; voiding the last clears it, and when uploads were
    suspended they resume with an UPLOADS_RESUMED notice to both platforms."""
    # given two arrears exams; the clock started at the first
    first, second = await site.upload("1.2.12.1", "1.2.12.2")
    assert first.exam is not None
    assert second.exam is not None
    started = (await site.account()).arrears_since
    # when the first is voided an hour later
    clock.advance(timedelta(hours=1))
    await site.void(first.exam.id)
    # then arrears fall to 1 and the clock keeps its start
    account = await site.account()
    assert (account.arrears_count, account.arrears_since) == (1, started)
    voids = await site.entries("VOID")
    assert [(v.quantity, v.lot_id, v.exam_id) for v in voids] == [(-1, None, first.exam.id)]
    # when uploads are suspended and then the last arrears exam is voided
    clock.set(started + timedelta(hours=25))
    await site.sweep()
    assert (await site.upload("1.2.12.3"))[0].status is UploadStatus.REFUSED
    await site.void(second.exam.id)
    # then no arrears, no clock, a resumed notice to both platforms, and uploads go on
    account = await site.account()
    assert (account.arrears_count, account.arrears_since) == (0, None)
    assert targets(await site.notices(NoticeKind.UPLOADS_RESUMED)) == sorted(BOTH)
    assert (await site.upload("1.2.12.3"))[0].status is UploadStatus.ACCEPTED
    assert (await site.figures()).arrears == 1
    await site.assert_reconciles()


async def test_void_of_the_last_arrears_exam_before_suspension_sends_no_resumed_notice(
    site: Site, clock: ManualClock
) -> None:
    """R-ARR-4: the clock is cleared; uploads were never suspended, so nothing 'resumes'."""
    # given one arrears exam, 2 hours old
    [outcome] = await site.upload("1.2.13.1")
    assert outcome.exam is not None
    clock.advance(timedelta(hours=2))
    # when it is voided
    await site.void(outcome.exam.id)
    # then the clock is cleared without a resumed notice
    account = await site.account()
    assert (account.arrears_count, account.arrears_since) == (0, None)
    assert await site.notices(NoticeKind.UPLOADS_RESUMED) == []
    await site.assert_reconciles()


async def test_voiding_an_exam_twice_is_refused_and_writes_nothing(site: Site) -> None:
    """R-GEN-5: a second void of the same exam is refused with EXAM_ALREADY_VOIDED."""
    # given a voided exam
    credit = await site.credit()
    [outcome] = await site.upload("1.2.14.1")
    assert outcome.exam is not None
    await site.void(outcome.exam.id)
    count = await site.ledger_count()
    # when it is voided again
    with pytest.raises(RuleViolation) as refused:
        await site.void(outcome.exam.id, "again")
    # then refused, naming the exam, and nothing was written
    assert (refused.value.code, refused.value.field) == ("EXAM_ALREADY_VOIDED", "examId")
    assert await site.ledger_count() == count
    assert (await site.lot(credit.lot_id)).used == 0
    assert (await site.exam(outcome.exam.id)).void_reason == "wrong patient"
    await site.assert_reconciles()


# --- R-EXAM-3: draw order --------------------------------------------------------------


async def test_r_exam_3_the_soonest_expiring_lot_is_drawn_first_across_modes(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-3: an ANNUAL lot expiring sooner is drawn before a VOLUME lot bought later,
    whatever their ids."""
    # given a VOLUME lot bought on 2 March and, recorded after it, an ANNUAL lot of 1 March
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    later = await site.credit()
    clock.set(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    sooner = await site.credit(mode=LotMode.ANNUAL, years=2)
    assert sooner.lot_id > later.lot_id
    # when an exam is uploaded
    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))
    [outcome] = await site.upload("1.2.15.1")
    # then the ANNUAL lot covers it, for its 2 storage years
    assert outcome.exam is not None
    assert outcome.exam.lot_id == sooner.lot_id
    assert outcome.exam.storage_ends_at == datetime(2028, 3, 3, 8, 0, tzinfo=UTC)
    await site.assert_reconciles()


async def test_r_exam_3_same_expiry_draws_the_earlier_purchase_before_the_lower_id(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-3 tie-break: lots bought on 28 and 29 Feb 2028 both expire on 28 Feb 2029
    (R-GEN-6); the earlier purchase is drawn first even when recorded second (higher id)."""
    # given the 29 Feb lot recorded first, then the 28 Feb one
    clock.set(datetime(2028, 2, 29, 8, 0, tzinfo=UTC))
    leap_day = await site.credit()
    clock.set(datetime(2028, 2, 28, 8, 0, tzinfo=UTC))
    day_before = await site.credit()
    same = {(await site.lot(c.lot_id)).expires_at for c in (leap_day, day_before)}
    assert same == {datetime(2029, 2, 28, 8, 0, tzinfo=UTC)}
    assert day_before.lot_id > leap_day.lot_id
    # when exams are uploaded
    clock.set(datetime(2028, 3, 1, 8, 0, tzinfo=UTC))
    outcomes = await site.upload("1.2.16.1", "1.2.16.2")
    # then the 28 Feb purchase covers them
    assert {o.exam.lot_id for o in outcomes if o.exam is not None} == {day_before.lot_id}
    assert (await site.lot(leap_day.lot_id)).used == 0
    await site.assert_reconciles()


async def test_r_exam_3_same_expiry_and_purchase_draws_the_lower_id_first(site: Site) -> None:
    """R-EXAM-3 last tie-break: two lots bought at the same instant: the lower id first."""
    # given two lots credited at the same instant, the second of another mode
    first = await site.credit()
    second = await site.credit(mode=LotMode.ANNUAL, years=5)
    assert first.lot_id < second.lot_id
    # when exams are uploaded
    outcomes = await site.upload("1.2.17.1", "1.2.17.2", "1.2.17.3")
    # then the lower id covers them
    assert {o.exam.lot_id for o in outcomes if o.exam is not None} == {first.lot_id}
    assert (await site.lot(second.lot_id)).used == 0
    await site.assert_reconciles()


# --- R-EXAM-5: upload time and storage end -----------------------------------------------


async def test_r_exam_5_an_arrears_exam_covered_later_is_stored_from_its_upload_time(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-5 decision: an exam uploaded in arrears gets its storage end when a later lot
    covers it, counted from its upload time with that lot's storage years."""
    # given an exam uploaded 2 hours before it was reported, with nothing available
    uploaded = clock.now() - timedelta(hours=2)
    [outcome] = await site.upload("1.2.18.1", at=uploaded)
    assert outcome.exam is not None
    assert (outcome.exam.lot_id, outcome.exam.storage_ends_at) == (None, None)
    # when a 3-year ANNUAL lot is credited 30 hours later
    clock.advance(timedelta(hours=30))
    credit = await site.credit(mode=LotMode.ANNUAL, years=3)
    # then it covers the exam, stored 3 years from the upload
    assert credit.settled == 1
    exam = await site.exam(outcome.exam.id)
    assert exam.lot_id == credit.lot_id
    assert exam.covered_at == clock.now()
    assert exam.uploaded_at == uploaded
    assert exam.storage_ends_at == datetime(2029, 3, 1, 6, 0, tzinfo=UTC)
    settlements = await site.entries("SETTLEMENT")
    assert [(s.exam_id, s.lot_id, s.quantity) for s in settlements] == [
        (exam.id, credit.lot_id, -1)
    ]
    await site.assert_reconciles()


async def test_r_exam_5_reported_upload_times_inside_the_window_are_kept_others_refused(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-5: the gateway's upload time is the exam's, within the last 24 hours and no more
    than 5 minutes ahead; outside that window the upload is refused and nothing is drawn."""
    # given a lot
    credit = await site.credit()
    now = clock.now()
    # when uploads report various times
    outcomes = await site.upload_at(
        ("1.2.19.1", now - timedelta(hours=2)),
        ("1.2.19.2", now + timedelta(minutes=5, seconds=1)),
        ("1.2.19.3", now - timedelta(hours=24, seconds=1)),
        ("1.2.19.4", now - timedelta(hours=24)),
        ("1.2.19.5", now + timedelta(minutes=5)),
    )
    # then 2 hours ago is kept as the upload time, storage counted from it
    statuses = [o.status for o in outcomes]
    assert statuses == [
        UploadStatus.ACCEPTED,
        UploadStatus.REFUSED,
        UploadStatus.REFUSED,
        UploadStatus.ACCEPTED,
        UploadStatus.ACCEPTED,
    ]
    kept = outcomes[0].exam
    assert kept is not None
    assert kept.uploaded_at == now - timedelta(hours=2)
    assert kept.recorded_at == now
    assert kept.storage_ends_at == datetime(2041, 3, 1, 6, 0, tzinfo=UTC)
    # and a time within the clock skew is never later than now
    ahead = outcomes[4].exam
    assert ahead is not None
    assert ahead.uploaded_at <= now
    # and the future or too old ones are refused with the rule, not recorded
    for refused in (outcomes[1], outcomes[2]):
        assert refused.exam is None
        assert refused.error is not None
        assert (refused.error.code, refused.error.field) == ("R_EXAM_5_UPLOAD_TIME", "uploadedAt")
        assert await site.exam_by_uid(refused.study_uid) is None
    assert (await site.lot(credit.lot_id)).used == 3
    assert len(await site.entries("CONSUMPTION")) == 3
    # when a refused study is reported again with a good time, it is accepted
    [retry] = await site.upload("1.2.19.2")
    assert retry.status is UploadStatus.ACCEPTED
    await site.assert_reconciles()


INVALID_UIDS = [
    "",
    "abc",
    "1.2.840.x",
    "1..2",
    "1.2.",
    ".1.2",
    " 1.2.3",
    "1.2.3 ",
    "1,2,3",
    "1" * 65,
    "1.2.840.10008.５",  # a full-width digit
]


async def test_r_exam_4_invalid_study_uids_are_refused_and_nothing_is_written(
    site: Site,
) -> None:
    """R-EXAM-4: a Study Instance UID is 1-64 digits and dots; anything else is refused with
    R_EXAM_4_STUDY_UID on studyInstanceUid, and the valid items of the batch go through."""
    # given a lot
    credit = await site.credit()
    longest = "1." + "2" * 62
    assert len(longest) == 64
    # when a batch mixes invalid UIDs with the longest valid one
    outcomes = await site.upload(*INVALID_UIDS, longest)
    # then every invalid one is refused by rule and field, the valid one accepted
    for outcome in outcomes[:-1]:
        assert outcome.status is UploadStatus.REFUSED, outcome.study_uid
        assert outcome.exam is None
        assert outcome.error is not None
        assert (outcome.error.code, outcome.error.field) == (
            "R_EXAM_4_STUDY_UID",
            "studyInstanceUid",
        )
    assert outcomes[-1].status is UploadStatus.ACCEPTED
    assert (await site.lot(credit.lot_id)).used == 1
    assert len(await site.entries("CONSUMPTION", "ARREARS")) == 1
    await site.assert_reconciles()


async def test_r_exam_4_a_uid_with_a_trailing_newline_is_refused_not_counted_twice(
    site: Site,
) -> None:
    """R-EXAM-4: '1.2.3\\n' is not a DICOM UID; accepting it would count study 1.2.3 twice."""
    # given a lot and study 1.2.20.1 already recorded
    credit = await site.credit()
    await site.upload("1.2.20.1")
    # when the same study is reported with a trailing newline
    [outcome] = await site.upload("1.2.20.1\n")
    # then it is refused by R-EXAM-4 and nothing more is drawn
    assert outcome.status is UploadStatus.REFUSED
    assert outcome.error is not None
    assert outcome.error.code == "R_EXAM_4_STUDY_UID"
    assert (await site.lot(credit.lot_id)).used == 1
    await site.assert_reconciles()


async def test_r_exam_4_a_recorded_study_re_reported_a_day_later_is_a_duplicate(
    site: Site, clock: ManualClock
) -> None:
    """R-EXAM-4: reporting the same study again is the same answer. A gateway retrying a day
    later with the study's original upload time must get the recorded exam back, not a
    refusal (R-EXAM-5 guards new uploads, not repeats)."""
    # given a study recorded with its upload time
    await site.credit()
    uploaded = clock.now() - timedelta(hours=1)
    [first] = await site.upload("1.2.21.1", at=uploaded)
    assert first.exam is not None
    # when the gateway reports it again, with the same time, 30 hours later
    clock.advance(timedelta(hours=30))
    [again] = await site.upload("1.2.21.1", at=uploaded)
    # then it is a duplicate of the same exam, nothing drawn
    assert again.status is UploadStatus.DUPLICATE
    assert again.exam is not None
    assert again.exam.id == first.exam.id
    assert (await site.figures()).used == 1
    await site.assert_reconciles()
