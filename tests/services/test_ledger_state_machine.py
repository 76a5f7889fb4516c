"""The cloud-exam ledger as a state machine.

Hypothesis plays an account's life at random: lots of both modes are credited, gateways
report batches of studies (replays, stale reports, floods), time jumps by hours or by
months, the expiry sweep runs and an operator voids exams. Every step goes through the
real services on a real database, and after every step the figures an account shows
must equal those of a small reference model of shared/domain.md (R-EXAM-2..6,
R-ARR-1..4), and reconciliation must find the cached counters equal to the append-only
ledger (R-GEN-7).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.exams import (
    AccountStatus,
    ExamFigures,
    LotMode,
    account_status,
    lot_terms,
)
from imaging_billing.domain.ledger import Cause
from imaging_billing.services import reading
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.reconcile import reconcile_account
from imaging_billing.services.steps.accounts import add_account, add_institution
from imaging_billing.services.steps.lots import credit_lot
from imaging_billing.services.steps.uploads import (
    UploadItem,
    UploadOutcome,
    UploadStatus,
    record_uploads,
)
from imaging_billing.services.sweep import run_sweep
from imaging_billing.services.voiding import void_exam
from imaging_billing.store import accounts as account_store
from imaging_billing.store import lots as lot_store
from imaging_billing.store.tables import exam as exam_table

from ..support import START, Databases, PostgresDatabases, SqliteDatabases
from ..support.machines import ServicesMachine, play

# The reference model's own reading of the rules, independent of imaging_billing.domain.
LOT_SIZES = (10_000, 20_000)  # R-EXAM-1: whole 10,000s
VOLUME_YEARS = 15  # R-EXAM-1
ARREARS_GRACE = timedelta(hours=24)  # R-ARR-3
REPORT_WINDOW = timedelta(hours=24)  # a gateway may report an upload up to a day late
CLOCK_SKEW = timedelta(minutes=5)  # ... and a little ahead of the server's clock
LARGE_BATCH = 10_000  # one record_uploads call of the flood rule
# Floods are the costly steps (an exam row and a ledger entry per study, and a bigger ledger
# to reconcile after it): a busy account floods at most about this many exams, enough to run
# one 10,000 lot dry or to owe a little more than one; and it buys only when running low, so
# that what is available stays within a flood's reach.
FLOOD_BUDGET = 10_050
CREDIT_CEILING = 10_000
OPERATOR = Principal(Role.OPERATOR, 1, "operator")
SHANGHAI = ZoneInfo("Asia/Shanghai")  # R-GEN-6: the calendar people see


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def years_later(moment: datetime, years: int) -> datetime:
    """R-GEN-6: the same instant whole calendar years later on the Asia/Shanghai calendar
    people see, 29 February falling back to 28 February."""
    local = moment.astimezone(SHANGHAI)
    year = local.year + years
    day = 28 if (local.month, local.day) == (2, 29) and not _leap(year) else local.day
    return local.replace(year=year, day=day).astimezone(UTC)


def _next_leap_days(now: datetime) -> list[datetime]:
    """28 and 29 February (Shanghai) of the next leap year whose 29th is still ahead, at
    now's time of day: a lot bought on each expires at the same instant (R-EXAM-3 ties)."""
    local = now.astimezone(SHANGHAI)
    year = local.year
    while not (_leap(year) and local.replace(year=year, month=2, day=29) > local):
        year += 1
    return [local.replace(year=year, month=2, day=day).astimezone(UTC) for day in (28, 29)]


# ---------------------------------------------------------------- the reference model


@dataclass
class ModelLot:
    id: int
    mode: LotMode
    quantity: int
    storage_years: int
    purchased_at: datetime
    expires_at: datetime  # R-EXAM-2: one calendar year after purchase
    used: int = 0
    forfeited: int = 0  # what the sweep (and voids after it) wrote off
    swept: bool = False

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at  # R-EXAM-2: at the instant itself

    def remaining(self) -> int:
        return self.quantity - self.used


@dataclass(eq=False)
class ModelExam:
    uid: str
    institution_id: int
    uploaded_at: datetime
    lot_id: int | None  # None: in arrears (R-ARR-1)
    storage_ends_at: datetime | None
    id: int = 0  # the database's id, learned from the service's answer
    voided: bool = False


@dataclass(frozen=True)
class Expected:
    """What one upload of a batch should get back."""

    status: UploadStatus
    uid: str
    exam: ModelExam | None = None
    code: str | None = None


class Model:
    """The rules of shared/domain.md for one account, in plain Python."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.lots: dict[int, ModelLot] = {}
        self.exams: dict[str, ModelExam] = {}  # by study UID (R-EXAM-4)
        self.arrears: dict[int, ModelExam] = {}  # uncovered, not voided, by exam id
        self.arrears_since: datetime | None = None

    # -- reading

    def figures(self) -> ExamFigures:
        """R-EXAM-6 at this instant: an expired lot's remainder is `expired`, swept or not."""
        lots = self.lots.values()
        return ExamFigures(
            available=sum(lot.remaining() for lot in lots if not lot.expired(self.now)),
            used=sum(lot.used for lot in lots),
            arrears=len(self.arrears),
            expired=sum(lot.remaining() for lot in lots if lot.expired(self.now)),
            bought=sum(lot.quantity for lot in lots),
        )

    def suspends_at(self) -> datetime | None:
        return None if self.arrears_since is None else self.arrears_since + ARREARS_GRACE

    def may_upload(self) -> bool:
        """R-ARR-3: refused from 24 hours after the arrears clock started."""
        deadline = self.suspends_at()
        return deadline is None or self.now < deadline

    def status(self) -> AccountStatus:
        if self.arrears_since is None:
            return AccountStatus.ACTIVE
        return AccountStatus.IN_ARREARS if self.may_upload() else AccountStatus.SUSPENDED

    def usable_lots(self) -> list[ModelLot]:
        """R-EXAM-3: unexpired lots with a remainder, soonest expiry first; ties go to the
        earlier purchase, then the lower id."""
        usable = [
            lot for lot in self.lots.values() if lot.remaining() and not lot.expired(self.now)
        ]
        return sorted(usable, key=lambda lot: (lot.expires_at, lot.purchased_at, lot.id))

    def oldest_arrears(self) -> list[ModelExam]:
        """R-ARR-4: oldest upload first (ties: the exam recorded first)."""
        return sorted(self.arrears.values(), key=lambda e: (e.uploaded_at, e.id))

    # -- changing

    def upload(self, items: list[UploadItem]) -> tuple[list[Expected], list[ModelExam]]:
        """R-EXAM-3/4/5, R-ARR-1/3: the answers to a batch and the exams it records.

        The new exams still lack their database ids: `learn_ids` adds them."""
        answers: list[Expected | None] = [None] * len(items)
        fresh: dict[str, tuple[int, datetime]] = {}
        for index, item in enumerate(items):
            at = item.uploaded_at
            if at is not None and not self.now - REPORT_WINDOW <= at <= self.now + CLOCK_SKEW:
                answers[index] = Expected(
                    UploadStatus.REFUSED, item.study_uid, None, "R_EXAM_5_UPLOAD_TIME"
                )
                continue
            fresh.setdefault(item.study_uid, (index, self.now if at is None else min(at, self.now)))
        new = [uid for uid in fresh if uid not in self.exams]
        if new and not self.may_upload():
            refused = set(new)
            for index, item in enumerate(items):
                if answers[index] is None and item.study_uid in refused:
                    answers[index] = Expected(
                        UploadStatus.REFUSED, item.study_uid, None, "R_ARR_3_SUSPENDED"
                    )
            new = []
        created: list[ModelExam] = []
        created_uids: set[str] = set()
        lots = iter(self.usable_lots())
        lot = next(lots, None)
        for uid in new:
            while lot is not None and not lot.remaining():
                lot = next(lots, None)
            index, at = fresh[uid]
            exam = ModelExam(uid, items[index].institution_id, at, None, None)
            if lot is not None:
                lot.used += 1
                exam.lot_id = lot.id
                exam.storage_ends_at = years_later(at, lot.storage_years)  # R-EXAM-5
            created.append(exam)
            created_uids.add(uid)
            self.exams[uid] = exam
        for index, item in enumerate(items):
            if answers[index] is None:
                exam = self.exams[item.study_uid]
                first = item.study_uid in created_uids and fresh[item.study_uid][0] == index
                status = UploadStatus.ACCEPTED if first else UploadStatus.DUPLICATE
                answers[index] = Expected(status, item.study_uid, exam)
        return [a for a in answers if a is not None], created

    def learn_ids(self, created: list[ModelExam]) -> None:
        """The new exams now have ids: those left uncovered are arrears (R-ARR-1)."""
        for exam in created:
            if exam.lot_id is None:
                if not self.arrears:
                    self.arrears_since = self.now  # the clock starts at the first one
                self.arrears[exam.id] = exam

    def credit(self, lot: ModelLot) -> list[ModelExam]:
        """R-ARR-4: a new lot first covers arrears, oldest upload first; when none remain
        the clock is cleared. Returns the exams it settled."""
        self.lots[lot.id] = lot
        settled = self.oldest_arrears()[: lot.quantity]
        for exam in settled:
            exam.lot_id = lot.id
            exam.storage_ends_at = years_later(exam.uploaded_at, lot.storage_years)  # R-EXAM-5
            del self.arrears[exam.id]
        lot.used = len(settled)
        if not self.arrears:
            self.arrears_since = None
        return settled

    def sweep(self) -> tuple[int, int]:
        """R-EXAM-2: every expired, unswept lot forfeits its remainder. Returns (lots, exams)."""
        lots = forfeited = 0
        for lot in self.lots.values():
            if lot.expired(self.now) and not lot.swept:
                lots += 1
                forfeited += lot.remaining()
                lot.forfeited += lot.remaining()
                lot.swept = True
        return lots, forfeited

    def void(self, exam: ModelExam) -> None:
        """An operator's void: the credit goes back to its lot, and is forfeited with it when
        the lot has expired; a voided arrears exam leaves arrears."""
        exam.voided = True
        if exam.lot_id is None:
            del self.arrears[exam.id]
            if not self.arrears:
                self.arrears_since = None
            return
        lot = self.lots[exam.lot_id]
        lot.used -= 1
        if lot.swept:
            lot.forfeited += 1
        elif self.now < lot.expires_at and self.arrears:
            # R-ARR-4: the credit given back covers the oldest arrears exam first
            owed = self.oldest_arrears()[0]
            owed.lot_id = lot.id
            owed.storage_ends_at = years_later(owed.uploaded_at, lot.storage_years)
            del self.arrears[owed.id]
            lot.used += 1
            if not self.arrears:
                self.arrears_since = None


# ---------------------------------------------------------------- the machine


class LedgerMachine(ServicesMachine):
    """One account, two gateways, one operator; the real services against the model."""

    def __init__(self, databases: Databases, seen: Counter[str]) -> None:
        super().__init__(databases)
        self.seen = seen  # what the whole run got to: steps, arrears, voids...
        self.model = Model(START)
        self.flood_left = 0  # exams the floods may still record (see the initialize rule)
        self.uids: list[str] = []  # every valid UID reported so far, for replays
        # Reconciliation reads only stored rows, never the clock: it is re-run after every
        # step that wrote something (a clock move alone cannot change its answer).
        self.written = True
        self.checked = False  # the first check runs before any step
        self.account_id, self.institutions = self.set_up(self._open_account())
        self.gateway = Principal(
            Role.INSTITUTION,
            self.institutions[0],
            "gateway",
            account_id=self.account_id,
            institution_id=self.institutions[0],
        )

    async def _open_account(self) -> tuple[int, list[int]]:
        async with self.services.db.write() as conn:
            account_id = await add_account(conn, name="Hospital", now=START)
            sites = [
                await add_institution(
                    conn, account_id=account_id, name=name, now=START, keys=self.services.keys
                )
                for name in ("Main site", "East campus")
            ]
        return account_id, [site.institution_id for site in sites]

    def new_uid(self) -> str:
        uid = f"1.2.826.0.1.3680043.{len(self.uids) + 1}"
        self.uids.append(uid)
        return uid

    # -- steps

    @initialize(busy=st.booleans())
    def some_accounts_have_busy_gateways(self, busy: bool) -> None:
        """Some accounts get floods of thousands of studies; the rest stay small, so that
        the run stays quick."""
        self.flood_left = FLOOD_BUDGET if busy else 0

    @precondition(lambda self: self.model.figures().available <= CREDIT_CEILING)
    @rule(
        mode=st.sampled_from(LotMode),
        quantity=st.sampled_from(LOT_SIZES),
        years=st.integers(1, 3),
    )
    def credit_a_lot(self, mode: LotMode, quantity: int, years: int) -> None:
        """R-GEN-4, R-ARR-4: a paid lot is credited at once and first settles arrears,
        oldest upload first; uploads resume by themselves when none remain."""
        now = self.model.now
        terms = lot_terms(mode, quantity, None if mode is LotMode.VOLUME else years)

        async def credit() -> tuple[Any, list[Any]]:
            async with self.services.db.write() as conn:
                done = await credit_lot(
                    conn,
                    account_id=self.account_id,
                    terms=terms,
                    now=now,
                    actor=OPERATOR.actor,
                    cause=Cause.OPERATOR,
                )
            async with self.services.db.read() as conn:
                stmt = sa.select(exam_table.c.id, exam_table.c.storage_ends_at).where(
                    exam_table.c.lot_id == done.lot_id
                )
                covered = list((await conn.execute(stmt)).all())
            return done, covered

        was_suspended = not self.model.may_upload()
        done, covered = self.run(credit())
        self.written = True
        lot = ModelLot(
            done.lot_id,
            mode,
            quantity,
            VOLUME_YEARS if mode is LotMode.VOLUME else years,
            now,
            years_later(now, 1),
        )
        settled = self.model.credit(lot)
        # then exactly the oldest arrears exams are covered, stored from their upload time
        assert done.settled == len(settled)
        assert sorted((row.id, row.storage_ends_at) for row in covered) == sorted(
            (exam.id, exam.storage_ends_at) for exam in settled
        )
        if settled:
            self.seen["arrears settled by a new lot"] += 1
        if self.model.arrears and settled:
            self.seen["arrears larger than the new lot"] += 1
        if was_suspended and self.model.may_upload():
            self.seen["uploads resumed by a recharge"] += 1
        if was_suspended and not self.model.may_upload():
            self.seen["suspension outlives a recharge"] += 1

    @rule(size=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
    def gateways_report_a_batch(self, size: int, seed: int) -> None:
        """R-EXAM-3/4/5, R-ARR-1/3: a batch from both gateways, with replays of earlier
        studies, repeats inside the batch, late reports (up to a day) and reports outside
        the allowed window."""
        rng = random.Random(seed)
        now = self.model.now
        items: list[UploadItem] = []
        for _ in range(size):
            kind = rng.choices(["new", "again", "out of window"], weights=[13, 6, 1])[0]
            if kind == "again" and self.uids:
                uid = rng.choice(self.uids[-200:] if rng.random() < 0.7 else self.uids)
            else:
                uid = self.new_uid()
            offset: timedelta | None = rng.choice(
                [None, timedelta(0), -timedelta(seconds=1), -timedelta(hours=1)]
                + [-timedelta(hours=12), -REPORT_WINDOW, timedelta(minutes=1)]
            )
            if kind == "out of window":
                offset = rng.choice([-REPORT_WINDOW - timedelta(seconds=1), timedelta(minutes=6)])
            at = None if offset is None else now + offset
            items.append(UploadItem(rng.choice(self.institutions), uid, at))
        self.upload(items)

    def can_flood(self, size: int) -> bool:
        return self.model.may_upload() and 0 < size <= self.flood_left

    def next_lot_remaining(self) -> int:
        usable = self.model.usable_lots()
        return usable[0].remaining() if usable else 0

    @precondition(lambda self: self.can_flood(self.next_lot_remaining()))
    @rule(extra=st.integers(-25, 25))
    def a_gateway_runs_a_lot_dry(self, extra: int) -> None:
        """R-EXAM-3, R-ARR-1: one big batch of new studies just about uses up the lot that
        expires first: a few exams are left in it, or the batch goes on drawing from the
        next lot in expiry order, or, with none left, into arrears."""
        self.flood(self.next_lot_remaining() + extra)

    @precondition(
        lambda self: (
            self.model.lots
            and not self.model.figures().available
            and self.can_flood(LOT_SIZES[0] + 1 - len(self.model.arrears))
        )
    )
    @rule(extra=st.integers(0, 25))
    def a_gateway_runs_up_arrears_beyond_a_lot(self, extra: int) -> None:
        """R-ARR-1/4: with what was bought used up or expired, the account comes to owe
        more than a 10,000 lot will settle."""
        self.flood(LOT_SIZES[0] + 1 - len(self.model.arrears) + extra)

    def flood(self, size: int) -> None:
        """New studies in batches of up to 10,000, reported up to a day late and not in the
        order they were uploaded: "oldest upload first" (R-ARR-4) is not "first recorded"."""
        self.flood_left -= size
        now = self.model.now
        while size > 0:
            batch = min(size, LARGE_BATCH)
            site = self.institutions[batch % 2]
            late = [timedelta(minutes=k * 719 % 1440) for k in range(batch)]
            self.upload([UploadItem(site, self.new_uid(), now - d) for d in late])
            size -= batch

    def upload(self, items: list[UploadItem]) -> None:
        now = self.model.now
        arrears_before = len(self.model.arrears)

        async def record() -> list[UploadOutcome]:
            async with self.services.db.write() as conn:
                return await record_uploads(conn, self.account_id, items, now)

        expected, created = self.model.upload(items)
        outcomes = self.run(record())
        self.written = True
        for exam, outcome in zip(expected, outcomes, strict=True):
            if exam.status is UploadStatus.ACCEPTED:
                assert exam.exam is not None
                assert outcome.exam is not None
                exam.exam.id = outcome.exam.id
        self.model.learn_ids(created)
        # then each upload gets the model's answer: the same status, the same exam (for a
        # replay too), covered by the model's lot and stored until the model's date
        assert [_answer(o) for o in outcomes] == [_expected_answer(e) for e in expected]
        statuses = Counter(e.code or e.status.value for e in expected)
        for status, count in statuses.items():
            self.seen[f"upload {status}"] += count
        if len({exam.lot_id for exam in created}) > 1:
            self.seen["a batch drew from several lots"] += 1
        if arrears_before == 0 and self.model.arrears:
            self.seen["arrears started"] += 1

    @rule(
        delta=st.one_of(
            st.integers(1, 48).map(lambda h: timedelta(hours=h)),
            st.integers(1, 400).map(lambda d: timedelta(days=d)),
        )
    )
    def time_passes(self, delta: timedelta) -> None:
        """R-EXAM-2, R-ARR-3: lots expire and arrears turn into a suspension as time goes by,
        whether or not the sweep has run."""
        self.move_clock(self.model.now + delta)

    @rule(
        pick=st.integers(0, 2**16),
        nudge=st.sampled_from([timedelta(0), timedelta(microseconds=-1)]),
    )
    def time_reaches_a_boundary(self, pick: int, nudge: timedelta) -> None:
        """R-EXAM-2, R-ARR-3, R-GEN-6: the clock stops exactly on (or just before) a lot's
        expiry, the suspension deadline, or a leap day (where a purchase on 28 and one on
        29 February expire at the same instant)."""
        now = self.model.now
        moments = [lot.expires_at for lot in self.model.lots.values()]
        deadline = self.model.suspends_at()
        if deadline is not None:
            moments.append(deadline)
        moments += _next_leap_days(now)
        ahead = sorted({m + nudge for m in moments if m + nudge > now})
        if ahead:
            self.move_clock(ahead[pick % len(ahead)])

    def move_clock(self, moment: datetime) -> None:
        self.clock.set(moment)
        self.model.now = moment

    @rule()
    def the_expiry_sweep_runs(self) -> None:
        """R-EXAM-2: the sweep writes off what expired lots left unused (EXPIRY entries)."""
        report = self.run(run_sweep(self.services.db, self.model.now))
        self.written = True
        lots, forfeited = self.model.sweep()
        assert (report.lots_expired, report.exams_forfeited) == (lots, forfeited)
        if forfeited:
            self.seen["expired remainder forfeited"] += 1

    @precondition(lambda self: bool(self.model.exams))
    @rule(kind=st.integers(0, 4), pick=st.integers(0, 2**20))
    def an_operator_voids_an_exam(self, kind: int, pick: int) -> None:
        """An operator voids an exam of any kind, at random (see `void`)."""
        groups: dict[str, list[ModelExam]] = {}
        for exam in self.model.exams.values():
            groups.setdefault(self.kind_of(exam), []).append(exam)
        names = sorted(groups)
        exams = groups[names[kind % len(names)]]
        self.void(exams[pick % len(exams)])

    def kind_of(self, exam: ModelExam) -> str:
        if exam.voided:
            return "void refused: already voided"
        if exam.lot_id is None:
            return "void: arrears exam"
        lot = self.model.lots[exam.lot_id]
        if lot.swept:
            return "void: swept lot"
        if lot.expired(self.model.now):
            return "void: expired lot, before the sweep"
        return "void: unexpired lot"

    def void(self, exam: ModelExam) -> None:
        """An audited void with a reason: the credit returns to an unexpired lot, is forfeited
        with an expired one, and a voided arrears exam leaves arrears; voiding twice is
        refused and changes nothing."""
        now = self.model.now
        self.seen[self.kind_of(exam)] += 1

        async def void() -> Any:
            return await void_exam(
                self.services.db,
                OPERATOR,
                exam_id=exam.id,
                reason="wrong patient",
                idempotency_key=None,
                now=now,
            )

        if exam.voided:
            with pytest.raises(RuleViolation) as refused:
                self.run(void())
            assert refused.value.code == "EXAM_ALREADY_VOIDED"
            return
        self.model.void(exam)
        row = self.run(void())
        self.written = True
        assert (row.voided_at, row.void_reason) == (now, "wrong patient")

    # -- after every step

    @invariant()
    def the_account_shows_the_model_figures_and_reconciles(self) -> None:
        """R-EXAM-6, R-ARR-3/5, R-GEN-7: figures, lots, arrears clock and status are the
        model's, the gateway's permission agrees, and the ledger reconciles."""
        if self.checked:
            self.seen["steps"] += 1
        self.checked = True
        model = self.model
        now = model.now
        account, figures, lots, permission, discrepancies = self.run(self.shown(self.written))
        assert figures == model.figures()
        assert figures.bought == figures.available + figures.used + figures.expired
        assert (account.arrears_count, account.arrears_since) == (
            len(model.arrears),
            model.arrears_since,
        )
        # the status the console shows (api.types.Account.status) from the account row
        assert account_status(account.arrears_since, now) is model.status()
        assert permission.permission.allowed is model.may_upload()
        assert permission.permission.suspends_at == model.suspends_at()
        assert [_lot(row) for row in lots] == [
            _model_lot(lot) for lot in sorted(model.lots.values(), key=lambda lot: lot.id)
        ]
        assert discrepancies == []
        self.written = False

    async def shown(self, reconcile: bool) -> tuple[Any, ...]:
        """What the services show: the account row, its figures (R-EXAM-6), its lots, the
        gateway's permission (R-ARR-5) and, if asked, the reconciliation (R-GEN-7)."""
        now = self.model.now
        async with self.services.db.read() as conn:
            account = await account_store.get_account(conn, self.account_id)
            assert account is not None
            figures = await reading.exam_figures(conn, account, now)
            lots = await lot_store.account_lots(conn, self.account_id)
            permission = await reading.upload_permission(
                conn, self.gateway, self.institutions[0], now
            )
            discrepancies = await reconcile_account(conn, self.account_id) if reconcile else []
        return account, figures, lots, permission, discrepancies


def _answer(outcome: UploadOutcome) -> tuple[Any, ...]:
    exam = outcome.exam
    return (
        outcome.status,
        outcome.study_uid,
        outcome.error.code if outcome.error else None,
        None if exam is None else exam.id,
        None if exam is None else exam.institution_id,
        None if exam is None else exam.uploaded_at,
        None if exam is None else exam.lot_id,
        None if exam is None else exam.storage_ends_at,
        None if exam is None else exam.voided_at is not None,
    )


def _expected_answer(expected: Expected) -> tuple[Any, ...]:
    exam = expected.exam
    return (
        expected.status,
        expected.uid,
        expected.code,
        None if exam is None else exam.id,
        None if exam is None else exam.institution_id,
        None if exam is None else exam.uploaded_at,
        None if exam is None else exam.lot_id,
        None if exam is None else exam.storage_ends_at,
        None if exam is None else exam.voided,
    )


def _lot(row: Any) -> tuple[Any, ...]:
    return (
        row.id,
        row.mode,
        row.quantity,
        row.storage_years,
        row.purchased_at,
        row.expires_at,
        row.used,
        row.forfeited,
        row.swept_at is not None,
    )


def _model_lot(lot: ModelLot) -> tuple[Any, ...]:
    return (
        lot.id,
        lot.mode.value,
        lot.quantity,
        lot.storage_years,
        lot.purchased_at,
        lot.expires_at,
        lot.used,
        lot.forfeited,
        lot.swept,
    )


# ---------------------------------------------------------------- the tests


def _play(databases: Databases, *, examples: int, steps: int, at_least: int) -> Counter[str]:
    """Run the machine until it has taken `at_least` steps. Hypothesis cuts some examples
    short (the ones it derives from earlier ones may keep an early stop), so one round can
    fall short of `examples * steps`: then another round runs, at most twice more."""
    seen: Counter[str] = Counter()
    for _ in range(3):
        play(lambda: LedgerMachine(databases, seen), examples=examples, steps=steps)
        if seen["steps"] >= at_least:
            break
    return seen


def test_random_account_lives_keep_the_ledger_true_on_sqlite(
    sqlite_databases: SqliteDatabases,
) -> None:
    """R-EXAM-2..6, R-ARR-1..4, R-GEN-7 over at least 2,000 random steps: after each one the
    figures are the model's and the ledger reconciles. Every run reaches arrears, suspension
    and settlement by a new lot; how often it reaches the rest varies from run to run, so
    the next test walks through those boundaries in a fixed order."""
    seen = _play(sqlite_databases, examples=30, steps=100, at_least=2_000)
    assert seen["steps"] >= 2_000
    for reached in ("arrears started", "upload R_ARR_3_SUSPENDED", "arrears settled by a new lot"):
        assert seen[reached] > 0, (reached, seen)


def test_one_account_through_the_boundaries_a_random_run_seldom_reaches(
    databases: Databases,
) -> None:
    """R-EXAM-2/3, R-ARR-1..4: the machine's own steps in a fixed order, checked after each
    one as in the random runs, and against figures worked out by hand (which checks the
    model too): tied lots, a batch spilling from one lot into the next, expiry at its very
    instant, voids before and after the sweep, suspension and the recharge that lifts it."""
    machine = LedgerMachine(databases, Counter())

    def then(**figures: int) -> None:
        machine.the_account_shows_the_model_figures_and_reconciles()
        assert machine.model.figures() == ExamFigures(**figures)

    def exam_of(lot_id: int | None) -> ModelExam:
        return next(e for e in machine.model.exams.values() if e.lot_id == lot_id)

    try:
        machine.the_account_shows_the_model_figures_and_reconciles()
        # given two 10,000 lots bought at the same instant (the same expiry: R-EXAM-3 tie)
        machine.some_accounts_have_busy_gateways(busy=True)
        machine.credit_a_lot(mode=LotMode.ANNUAL, quantity=10_000, years=2)
        machine.credit_a_lot(mode=LotMode.VOLUME, quantity=10_000, years=1)
        first, second = machine.model.lots
        then(available=20_000, used=0, arrears=0, expired=0, bought=20_000)
        # when one batch of 10,005 new studies arrives
        machine.a_gateway_runs_a_lot_dry(extra=5)
        # then the lower id is drawn dry first and the next lot covers the last five
        then(available=9_995, used=10_005, arrears=0, expired=0, bought=20_000)
        assert [lot.used for lot in machine.model.lots.values()] == [10_000, 5]
        # when the clock reaches the very instant of expiry, before any sweep
        machine.time_passes(timedelta(days=365))
        assert machine.model.now == machine.model.lots[first].expires_at
        then(available=0, used=10_005, arrears=0, expired=9_995, bought=20_000)
        # and an exam of the expired lot is voided: its credit is forfeited with the rest
        machine.void(exam_of(second))
        then(available=0, used=10_004, arrears=0, expired=9_996, bought=20_000)
        # and after the sweep, an exam of a swept lot too
        machine.the_expiry_sweep_runs()
        machine.void(exam_of(first))
        then(available=0, used=10_003, arrears=0, expired=9_997, bought=20_000)
        # when 10,003 new studies arrive with nothing available, they are arrears
        machine.a_gateway_runs_up_arrears_beyond_a_lot(extra=2)
        then(available=0, used=10_003, arrears=10_003, expired=9_997, bought=20_000)
        assert machine.model.status() is AccountStatus.IN_ARREARS
        # and 24 hours later a new study is refused and nothing is recorded
        machine.time_passes(timedelta(hours=24))
        machine.upload([UploadItem(machine.institutions[0], machine.new_uid())])
        then(available=0, used=10_003, arrears=10_003, expired=9_997, bought=20_000)
        assert machine.seen["upload R_ARR_3_SUSPENDED"] == 1
        # when one arrears exam is voided and a 10,000 lot is credited
        machine.void(exam_of(None))
        machine.credit_a_lot(mode=LotMode.VOLUME, quantity=10_000, years=1)
        # then it covers the 10,000 oldest uploads (checked exam by exam) and the
        # suspension stays for the two left
        then(available=0, used=20_003, arrears=2, expired=9_997, bought=30_000)
        assert machine.model.status() is AccountStatus.SUSPENDED
        # and the next lot settles those two, and uploads resume by themselves
        machine.credit_a_lot(mode=LotMode.ANNUAL, quantity=10_000, years=3)
        then(available=9_998, used=20_005, arrears=0, expired=9_997, bought=40_000)
        assert machine.model.status() is AccountStatus.ACTIVE
        assert machine.seen["uploads resumed by a recharge"] == 1
    finally:
        machine.teardown()


def test_credit_a_void_gives_back_first_covers_arrears(databases: Databases) -> None:
    """R-ARR-1/3/4: arrears are exams uploaded when nothing was available, and credit
    becomes available only after covering them (services.adjustments does so for a positive
    correction). So credit a void gives back to an unexpired lot must cover the oldest
    arrears exam, and an account that owes nothing must not be suspended."""
    machine = LedgerMachine(databases, Counter())
    try:
        # given a 10,000 lot run dry by 10,001 uploads: one exam in arrears
        machine.some_accounts_have_busy_gateways(busy=True)
        machine.credit_a_lot(mode=LotMode.VOLUME, quantity=10_000, years=1)
        machine.a_gateway_runs_a_lot_dry(extra=1)
        assert machine.model.figures().arrears == 1
        # when an operator voids an exam the lot covers, and a day goes by
        covered = next(e for e in machine.model.exams.values() if e.lot_id is not None)
        machine.void(covered)
        machine.time_passes(timedelta(hours=24))
        # then the freed credit covers the arrears exam and uploads go on
        _, figures, _, permission, _ = machine.run(machine.shown(reconcile=False))
        assert figures == ExamFigures(available=0, used=10_000, arrears=0, expired=0, bought=10_000)
        assert permission.permission.allowed
    finally:
        machine.teardown()


def test_random_account_lives_keep_the_ledger_true_on_postgres(
    postgres_databases: PostgresDatabases,
) -> None:
    """The random runs on PostgreSQL too (fewer steps), where the account row lock, not the
    database's single writer, serialises every balance change."""
    seen = _play(postgres_databases, examples=5, steps=30, at_least=150)
    assert seen["steps"] >= 150
