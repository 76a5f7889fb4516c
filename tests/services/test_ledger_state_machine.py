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

import asyncio
import os
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.exams import (
    AccountStatus,
    ExamFigures,
    LotMode,
    account_status,
    lot_terms,
)
from imaging_billing.domain.ledger import Cause
from imaging_billing.services import accounts as account_cases
from imaging_billing.services import reading
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.ingest import UploadItem, UploadOutcome, UploadStatus, record_uploads
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.reconcile import reconcile_account
from imaging_billing.services.settlement import credit_exam_lot
from imaging_billing.services.sweep import run_sweep
from imaging_billing.services.voiding import void_exam
from imaging_billing.store import accounts as account_store
from imaging_billing.store import lots as lot_store
from imaging_billing.store.tables import exam as exam_table

from ..support import START, PostgresTemplate, SqliteTemplate, make_services

T = TypeVar("T")

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")

# The reference model's own reading of the rules, independent of imaging_billing.domain.
LOT_SIZES = (10_000, 20_000)  # R-EXAM-1: whole 10,000s
VOLUME_YEARS = 15  # R-EXAM-1
ARREARS_GRACE = timedelta(hours=24)  # R-ARR-3
REPORT_WINDOW = timedelta(hours=24)  # a gateway may report an upload up to a day late
CLOCK_SKEW = timedelta(minutes=5)  # ... and a little ahead of the server's clock
LARGE_BATCH = 10_000  # one record_uploads call of the flood rule
# A flood costs ~150 µs an exam on SQLite: each example floods at most about this many
# exams, enough to run one 10,000 lot dry or to owe a little more than one; and the account
# buys only when running low, so that what is available stays within a flood's reach.
FLOOD_BUDGET = 10_050
CREDIT_CEILING = 10_000
OPERATOR = "operator:1"
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


# ---------------------------------------------------------------- databases


class Databases(Protocol):
    def fresh(self, loop: asyncio.AbstractEventLoop) -> str: ...

    def drop(self, loop: asyncio.AbstractEventLoop, url: str) -> None: ...


class SqliteDatabases:
    """A copy of the migrated template per example, deleted when the example ends."""

    def __init__(self, root: Path) -> None:
        self.template = SqliteTemplate(root)

    def fresh(self, loop: asyncio.AbstractEventLoop) -> str:
        return self.template.fresh()

    def drop(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        path = url.removeprefix("sqlite+aiosqlite:///")
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)


class PostgresDatabases:
    """A clone of the migrated template database per example, dropped when it ends."""

    def __init__(self, template: PostgresTemplate) -> None:
        self.template = template

    def fresh(self, loop: asyncio.AbstractEventLoop) -> str:
        return loop.run_until_complete(self.template.fresh())

    def drop(self, loop: asyncio.AbstractEventLoop, url: str) -> None:
        loop.run_until_complete(self.template.drop(url))


# ---------------------------------------------------------------- the machine


class LedgerMachine(RuleBasedStateMachine):
    """One account, two gateways, one operator; the real services against the model."""

    def __init__(self, databases: Databases, seen: Counter[str]) -> None:
        super().__init__()
        self.seen = seen  # what the whole run got to: steps, arrears, voids...
        seen["examples"] += 1
        self.databases = databases
        self.loop = asyncio.new_event_loop()
        self.url = databases.fresh(self.loop)
        self.clock = ManualClock(START)
        self.services = make_services(self.url, self.clock)
        self.model = Model(START)
        self.flood_left = FLOOD_BUDGET
        self.uids: list[str] = []  # every valid UID reported so far, for replays
        # Reconciliation reads only stored rows, never the clock: it is re-run after every
        # step that wrote something (a clock move alone cannot change its answer).
        self.written = True
        self.account_id, self.institutions = self.run(self._open_account())
        self.gateway = Principal(
            Role.INSTITUTION,
            self.institutions[0],
            "gateway",
            account_id=self.account_id,
            institution_id=self.institutions[0],
        )

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def teardown(self) -> None:
        try:
            self.run(self.services.writer.close())
            self.run(self.services.db.dispose())
        finally:
            try:
                self.databases.drop(self.loop, self.url)
            finally:
                self.loop.close()

    async def _open_account(self) -> tuple[int, list[int]]:
        async with self.services.db.write() as conn:
            account_id = await account_cases.create_account(conn, name="Hospital", now=START)
            sites = [
                await account_cases.create_institution(
                    conn, account_id=account_id, name=name, now=START
                )
                for name in ("Main site", "East campus")
            ]
        return account_id, [site.institution_id for site in sites]

    def new_uid(self) -> str:
        uid = f"1.2.826.0.1.3680043.{len(self.uids) + 1}"
        self.uids.append(uid)
        return uid

    # -- steps

    @precondition(lambda self: self.model.figures().available < CREDIT_CEILING)
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
                done = await credit_exam_lot(
                    conn,
                    account_id=self.account_id,
                    terms=terms,
                    now=now,
                    actor=OPERATOR,
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
        self.seen["credit"] += 1
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

    @precondition(lambda self: self.flood_left > 0 and self.model.may_upload())
    @rule(owe=st.booleans(), extra=st.integers(-25, 25))
    def a_gateway_floods_new_studies(self, owe: bool, extra: int) -> None:
        """R-EXAM-3, R-ARR-1/4: a big batch of new studies that runs the lots dry (leaving a
        few, or spilling into arrears), or, once what was bought is gone, leaves the account
        owing more than a 10,000 lot will settle."""
        available = self.model.figures().available
        if 0 < available <= self.flood_left:
            size = available + extra
            self.seen["flood: run dry"] += 1
        elif not available and owe and self.model.lots:
            size = LOT_SIZES[0] - len(self.model.arrears) + abs(extra) + 1
            self.seen["flood: owe"] += 1
        else:
            size = 50 + extra  # a dent in a stock too big to run dry, or a few arrears
            self.seen["flood: dent"] += 1
        size = max(1, min(size, LARGE_BATCH))
        institution = self.institutions[size % 2]
        self.upload([UploadItem(institution, self.new_uid()) for _ in range(size)])

    def upload(self, items: list[UploadItem]) -> None:
        now = self.model.now
        arrears_before = len(self.model.arrears)

        async def record() -> list[UploadOutcome]:
            async with self.services.db.write() as conn:
                return await record_uploads(conn, self.account_id, items, now)

        drawing_from = [lot.id for lot in self.model.usable_lots()]
        expected, created = self.model.upload(items)
        outcomes = self.run(record())
        self.written = True
        for exam, outcome in zip(expected, outcomes, strict=True):
            if exam.status is UploadStatus.ACCEPTED:
                assert exam.exam is not None and outcome.exam is not None
                exam.exam.id = outcome.exam.id
        self.model.learn_ids(created)
        self.flood_left -= len(created)
        # then each upload gets the model's answer: the same status, the same exam (for a
        # replay too), covered by the model's lot and stored until the model's date
        assert [_answer(o) for o in outcomes] == [_expected_answer(e) for e in expected]
        self.seen["uploads recorded"] += len(created)
        statuses = Counter(e.code or e.status.value for e in expected)
        for status, count in statuses.items():
            self.seen[f"upload {status}"] += count
        lots_drawn = {exam.lot_id for exam in created}
        if len(lots_drawn) > 1:
            self.seen["a batch drew from several lots"] += 1
        if arrears_before == 0 and self.model.arrears:
            self.seen["arrears started"] += 1
        if len(drawing_from) > 1:
            first, second = (self.model.lots[i] for i in drawing_from[:2])
            if first.expires_at == second.expires_at and first.id in lots_drawn:
                self.seen["expiry tie broken"] += 1

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
        self.seen["clock moves"] += 1

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
        """Operator voids (audited, with a reason): the credit returns to an unexpired lot,
        is forfeited with an expired one, and a voided arrears exam leaves arrears; voiding
        twice is refused and changes nothing."""
        now = self.model.now
        groups: dict[str, list[ModelExam]] = {
            "void: arrears exam": list(self.model.arrears.values()),
            "void: unexpired lot": [],
            "void: expired lot, before the sweep": [],
            "void: swept lot": [],
            "void refused: already voided": [],
        }
        for exam in self.model.exams.values():
            if exam.voided:
                groups["void refused: already voided"].append(exam)
            elif exam.lot_id is not None:
                lot = self.model.lots[exam.lot_id]
                if lot.swept:
                    groups["void: swept lot"].append(exam)
                elif lot.expired(now):
                    groups["void: expired lot, before the sweep"].append(exam)
                else:
                    groups["void: unexpired lot"].append(exam)
        names = [name for name, exams in groups.items() if exams]
        name = names[kind % len(names)]
        exam = groups[name][pick % len(groups[name])]

        async def void() -> Any:
            async with self.services.db.write() as conn:
                await void_exam(
                    conn, exam_id=exam.id, reason="wrong patient", actor=OPERATOR, now=now
                )
            async with self.services.db.read() as conn:
                stmt = sa.select(exam_table).where(exam_table.c.id == exam.id)
                return (await conn.execute(stmt)).one()

        if exam.voided:
            with pytest.raises(RuleViolation) as refused:
                self.run(void())
            assert refused.value.code == "EXAM_ALREADY_VOIDED"
        else:
            self.model.void(exam)
            row = self.run(void())
            self.written = True
            assert (row.voided_at, row.void_reason) == (now, "wrong patient")
        self.seen[name] += 1

    # -- after every step

    @invariant()
    def the_account_shows_the_model_figures_and_reconciles(self) -> None:
        """R-EXAM-6, R-ARR-3/5, R-GEN-7: figures, lots, arrears clock and status are the
        model's, the gateway's permission agrees, and the ledger reconciles."""
        self.seen["steps and checks"] += 1
        model = self.model
        now = model.now

        async def read() -> tuple[Any, ...]:
            async with self.services.db.read() as conn:
                account = await account_store.get_account(conn, self.account_id)
                assert account is not None
                figures = await reading.exam_figures(conn, account, now)
                lots = await lot_store.account_lots(conn, self.account_id)
                permission = await reading.upload_permission(
                    conn, self.gateway, self.institutions[0], now
                )
                discrepancies = (
                    await reconcile_account(conn, self.account_id) if self.written else []
                )
            return account, figures, lots, permission, discrepancies

        account, figures, lots, permission, discrepancies = self.run(read())
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


def _play(databases: Databases, *, examples: int, steps: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    run_state_machine_as_test(
        lambda: LedgerMachine(databases, seen),
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    return seen


@pytest.fixture
def sqlite_databases() -> Iterator[SqliteDatabases]:
    root = Path(tempfile.mkdtemp(prefix="ledger-machine-"))
    try:
        yield SqliteDatabases(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_random_account_lives_keep_the_ledger_true_on_sqlite(
    sqlite_databases: SqliteDatabases,
) -> None:
    """R-EXAM-2..6, R-ARR-1..4, R-GEN-7 over 2,000 random steps: after each one the figures
    are the model's and the ledger reconciles; the run reaches arrears, suspension,
    settlement, forfeiture and every kind of void."""
    seen = _play(sqlite_databases, examples=25, steps=120)
    assert seen["steps and checks"] - seen["examples"] >= 2_000
    for reached in (
        "arrears started",
        "upload R_ARR_3_SUSPENDED",
        "arrears settled by a new lot",
        "uploads resumed by a recharge",
        "expired remainder forfeited",
        "a batch drew from several lots",
        "void: arrears exam",
        "void: unexpired lot",
        "void: swept lot",
        "void refused: already voided",
    ):
        assert seen[reached] > 0, (reached, seen)


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="TEST_POSTGRES_URL is not set")
def test_random_account_lives_keep_the_ledger_true_on_postgres() -> None:
    """The same machine on PostgreSQL, where the account row lock serialises changes."""
    assert POSTGRES_URL is not None
    template = PostgresTemplate(POSTGRES_URL)
    asyncio.run(template.setup())
    try:
        seen = _play(PostgresDatabases(template), examples=5, steps=30)
    finally:
        asyncio.run(template.teardown())
    assert seen["steps and checks"] - seen["examples"] >= 5 * 30
