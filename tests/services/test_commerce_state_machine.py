"""Orders, payments and AI packs as a state machine (issue 3: the ledger's state machine
extended with AI packs and orders).

Hypothesis plays an account's commercial life at random: an operator places online
orders of glaucoma AI packs and cloud-exam lots, pays them by transfer (the right amount,
a wrong one, a replayed reference), cancels them before and after payment, changes
prices, institutions report AI reads (new, replayed, repeated inside a batch, with no
credit left), time jumps by hours or by months (packs expire one calendar year after
purchase, at the very instant) and the AI expiry sweep runs. Every step goes through the
real services on a real database, and after every step what the services show must equal
a small reference model of shared/domain.md (R-AI-1..5, R-ORD-1..4, R-GEN-3..7), and both
ledgers must reconcile.

A plain property test checks the quote formulas (R-EXAM-1, R-SVC-3, R-ORD-4) for every
online product.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule

from imaging_billing.domain.ai import AiFigures, AiReadItem, ReadStatus
from imaging_billing.domain.catalog import PRODUCTS, AiProduct, ServiceVariant
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.exams import ExamFigures
from imaging_billing.domain.orders import LineRequest, OrderState, quote
from imaging_billing.services import ai as ai_cases
from imaging_billing.services import ordering, payments, reading
from imaging_billing.services.ai import AiReadOutcome
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.reconcile import reconcile_account
from imaging_billing.services.steps import ai as ai_steps
from imaging_billing.store import accounts as account_store
from imaging_billing.store import ai as ai_store
from imaging_billing.store import lots as lot_store
from imaging_billing.store import prices as price_store
from imaging_billing.store.commerce_tables import ai_pack, ai_read, order_line, purchase_order
from imaging_billing.store.tables import exam_lot

from ..factories import create_account, create_institution
from ..support import START, Databases, PostgresDatabases, SqliteDatabases
from ..support.machines import ServicesMachine, play

# The reference model's own reading of the rules, independent of imaging_billing.domain.
AI_PACK = "AI_PACK_GLAUCOMA"
EXAM_VOLUME = "EXAM_VOLUME"
PACK_SIZES = (1_000, 2_000, 3_000)  # R-AI-1: whole 1,000s
LOT_SIZES = (10_000, 20_000)  # R-EXAM-1: whole 10,000s
FIRST_PRICES = {AI_PACK: 300, EXAM_VOLUME: 120}  # fen per read / per exam
FLOOD_BUDGET = 4_000  # reads the big batches may record per example (SQLite time)
OPERATOR = Principal(Role.OPERATOR, 0, "ops")
SHANGHAI = ZoneInfo("Asia/Shanghai")  # R-GEN-6: the calendar people see


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _next_leap_days(now: datetime) -> list[datetime]:
    """28 and 29 February (Shanghai) of the next leap year whose 29th is still ahead, at
    now's time of day."""
    local = now.astimezone(SHANGHAI)
    year = local.year
    while not (_leap(year) and local.replace(year=year, month=2, day=29) > local):
        year += 1
    return [local.replace(year=year, month=2, day=day).astimezone(UTC) for day in (28, 29)]


def a_year_later(moment: datetime) -> datetime:
    """R-GEN-6: the same instant one calendar year later on the Asia/Shanghai calendar,
    29 February falling back to 28 February."""
    local = moment.astimezone(SHANGHAI)
    year = local.year + 1
    day = 28 if (local.month, local.day) == (2, 29) and not _leap(year) else local.day
    return local.replace(year=year, day=day).astimezone(UTC)


# ---------------------------------------------------------------- the reference model


@dataclass
class ModelPack:
    id: int
    quantity: int
    purchased_at: datetime
    expires_at: datetime  # R-AI-1: one calendar year after purchase
    order_id: int
    used: int = 0
    forfeited: int = 0
    swept: bool = False

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at  # as R-EXAM-2: at the instant itself

    def remaining(self) -> int:
        return self.quantity - self.used


@dataclass
class ModelLot:
    id: int
    quantity: int
    purchased_at: datetime
    expires_at: datetime
    order_id: int


@dataclass
class ModelOrder:
    id: int
    lines: list[tuple[str, int, int]]  # (product, quantity, unit price in force when placed)
    state: OrderState
    placed_at: datetime
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None

    @property
    def total(self) -> int:
        return sum(quantity * price for _, quantity, price in self.lines)


@dataclass(eq=False)
class ModelRead:
    key: str
    institution_id: int
    uid: str
    pack_id: int
    id: int = 0  # the database's id, learned from the service's answer


@dataclass(frozen=True)
class Expected:
    status: ReadStatus
    code: str | None = None
    read: ModelRead | None = None


@dataclass
class Model:
    now: datetime
    prices: dict[str, int] = field(default_factory=lambda: dict(FIRST_PRICES))
    packs: dict[int, ModelPack] = field(default_factory=dict)
    lots: dict[int, ModelLot] = field(default_factory=dict)
    orders: dict[int, ModelOrder] = field(default_factory=dict)
    payments: dict[str, tuple[int, int]] = field(default_factory=dict)  # ref -> order, amount
    reads: dict[str, ModelRead] = field(default_factory=dict)  # by idempotency key

    def ai_figures(self) -> AiFigures:
        """R-AI-5 at this instant: an expired pack's remainder is `expired`, swept or not."""
        packs = self.packs.values()
        return AiFigures(
            product=AiProduct.GLAUCOMA,
            remaining=sum(p.remaining() for p in packs if not p.expired(self.now)),
            bought=sum(p.quantity for p in packs),
            used=sum(p.used for p in packs),
            expired=sum(p.remaining() for p in packs if p.expired(self.now)),
            licensed_institutions=0,
        )

    def exam_figures(self) -> ExamFigures:
        lots = self.lots.values()
        return ExamFigures(
            available=sum(lot.quantity for lot in lots if self.now < lot.expires_at),
            used=0,
            arrears=0,
            expired=sum(lot.quantity for lot in lots if self.now >= lot.expires_at),
            bought=sum(lot.quantity for lot in lots),
        )

    def paid(self, product: str) -> int:
        """What the fulfilled orders bought of a product, from the orders alone."""
        return sum(
            quantity
            for order in self.orders.values()
            if order.state is OrderState.FULFILLED
            for code, quantity, _ in order.lines
            if code == product
        )

    def next_pack(self) -> ModelPack | None:
        """R-AI-2: the unexpired pack with credit that expires soonest (ties: the earlier
        purchase, then the lower id)."""
        usable = [p for p in self.packs.values() if p.remaining() and not p.expired(self.now)]
        return min(usable, key=lambda p: (p.expires_at, p.purchased_at, p.id), default=None)

    def read(self, institution_id: int, items: list[tuple[str, str]]) -> list[Expected]:
        """R-AI-2/3: the answer to each (key, uid) of one institution's batch, in order."""
        answers: list[Expected] = []
        first: dict[str, int] = {}
        for index, (key, uid) in enumerate(items):
            stored = self.reads.get(key)
            if stored is not None:
                same = (stored.institution_id, stored.uid) == (institution_id, uid)
                answers.append(
                    Expected(ReadStatus.DUPLICATE, read=stored)
                    if same
                    else Expected(ReadStatus.REFUSED, "IDEMPOTENCY_KEY_REUSED")
                )
            elif key in first:
                earlier = answers[first[key]]
                if items[first[key]][1] != uid:
                    answers.append(Expected(ReadStatus.REFUSED, "IDEMPOTENCY_KEY_REUSED"))
                elif earlier.status is ReadStatus.ACCEPTED:
                    answers.append(Expected(ReadStatus.DUPLICATE, read=earlier.read))
                else:
                    answers.append(earlier)
            else:
                first[key] = index
                pack = self.next_pack()
                if pack is None:  # R-AI-3: no AI arrears
                    answers.append(Expected(ReadStatus.REFUSED, "R_AI_3_NO_CREDIT"))
                    continue
                pack.used += 1
                answers.append(
                    Expected(ReadStatus.ACCEPTED, read=ModelRead(key, institution_id, uid, pack.id))
                )
        for answer in answers:
            if answer.status is ReadStatus.ACCEPTED and answer.read is not None:
                self.reads[answer.read.key] = answer.read
        return answers

    def sweep(self) -> tuple[int, int]:
        """R-AI-1: every expired, unswept pack forfeits its remainder. (packs, reads)."""
        packs = forfeited = 0
        for pack in self.packs.values():
            if pack.expired(self.now) and not pack.swept:
                packs += 1
                forfeited += pack.remaining()
                pack.forfeited = pack.remaining()
                pack.swept = True
        return packs, forfeited


# ---------------------------------------------------------------- the machine


class CommerceMachine(ServicesMachine):
    """One account with an agreement, two institutions, one operator; the real services
    against the model."""

    def __init__(self, databases: Databases, seen: Counter[str]) -> None:
        super().__init__(databases)
        self.seen = seen
        self.model = Model(START)
        self.flood_left = FLOOD_BUDGET
        self.keys = 0  # read keys handed out so far: key k<n> always reads study <n>
        self.references = 0
        self.placed: dict[str, tuple[list[LineRequest], int]] = {}  # by idempotency key
        self.checked = False
        self.account_id, self.institutions = self.set_up(self._open_account())

    async def _open_account(self) -> tuple[int, list[int]]:
        async with self.services.db.write() as conn:
            for product, price in FIRST_PRICES.items():
                await price_store.insert_price(
                    conn,
                    product=product,
                    unit_price_fen=price,
                    effective_from=START,
                    set_by=OPERATOR.actor,
                    created_at=START,
                )
        account_id = await create_account(self.services)
        sites = [
            await create_institution(self.services, account_id, name=name)
            for name in ("Main site", "East campus")
        ]
        return account_id, [site.institution_pk for site in sites]

    def refuses(self, coroutine: Coroutine[Any, Any, Any], code: str) -> None:
        with pytest.raises(RuleViolation) as refused:
            self.run(coroutine)
        assert refused.value.code == code
        self.seen[f"refused {code}"] += 1

    def pick_order(self, pick: int, state: OrderState | None = None) -> ModelOrder | None:
        orders = [o for o in self.model.orders.values() if state is None or o.state is state]
        return orders[pick % len(orders)] if orders else None

    def new_reference(self) -> str:
        self.references += 1
        return f"BANK-{self.references}"

    # -- orders

    @rule(
        packs=st.lists(st.sampled_from(PACK_SIZES), max_size=3),
        lots=st.lists(st.sampled_from(LOT_SIZES), max_size=2),
        seed=st.integers(0, 2**16),
        keyed=st.booleans(),
    )
    def an_operator_places_an_order(
        self, packs: list[int], lots: list[int], seed: int, keyed: bool = False
    ) -> None:
        """R-ORD-1/4, R-GEN-3: an online order of packs and/or lots, awaiting payment, priced
        at the unit prices in force; an empty one is refused and writes nothing."""
        now = self.model.now
        lines = [LineRequest(AI_PACK, q) for q in packs] + [
            LineRequest(EXAM_VOLUME, q) for q in lots
        ]
        random.Random(seed).shuffle(lines)
        key = f"order-{len(self.placed) + 1}" if keyed and lines else None
        place = ordering.place_order(
            self.services.db,
            OPERATOR,
            account_id=self.account_id,
            lines=lines,
            accept_terms=True,
            idempotency_key=key,
            now=now,
        )
        if not lines:
            self.refuses(place, "ORDER_EMPTY")
            return
        priced = [(line.product, line.quantity, self.model.prices[line.product]) for line in lines]
        # the quote of the lines is quantity x unit price, line by line (R-ORD-4)
        preview = quote(
            lines, self.model.prices, online=True, today=now.astimezone(SHANGHAI).date()
        )
        assert [(p.product.code, p.request.quantity, p.unit_price_fen) for p in preview.lines] == (
            priced
        )
        assert [p.amount_fen for p in preview.lines] == [q * price for _, q, price in priced]
        row = self.run(place)
        order = ModelOrder(row.id, priced, OrderState.PENDING_PAYMENT, now)
        assert preview.total_fen == order.total
        assert row.id not in self.model.orders
        self.model.orders[row.id] = order
        if key is not None:
            self.placed[key] = (lines, row.id)
            self.seen["orders placed with an idempotency key"] += 1
        self.seen["orders placed"] += 1

    @precondition(lambda self: bool(self.placed))
    @rule(pick=st.integers(0, 2**16), same=st.booleans())
    def an_order_request_is_sent_again(self, pick: int, same: bool) -> None:
        """The same request under the same idempotency key is the same order, whatever
        happened to it since (paid, cancelled, prices changed); other lines under that key
        are refused. Nothing new is written either way."""
        key = sorted(self.placed)[pick % len(self.placed)]
        lines, order_id = self.placed[key]
        sent = lines if same else [*lines, LineRequest(AI_PACK, 1_000)]
        place = ordering.place_order(
            self.services.db,
            OPERATOR,
            account_id=self.account_id,
            lines=sent,
            accept_terms=True,
            idempotency_key=key,
            now=self.model.now,
        )
        if not same:
            self.refuses(place, "IDEMPOTENCY_KEY_REUSED")
            return
        row = self.run(place)
        order = self.model.orders[order_id]
        assert (row.id, row.state, row.total_fen) == (order_id, order.state.value, order.total)
        self.seen["order request replayed"] += 1

    @rule(product=st.sampled_from([AI_PACK, EXAM_VOLUME]), price=st.integers(1, 5_000))
    def an_operator_changes_a_price(self, product: str, price: int) -> None:
        """R-GEN-3: a new price applies to orders placed from now on; orders already placed
        keep theirs (checked by the invariant)."""
        now = self.model.now

        async def insert() -> None:
            async with self.services.db.write() as conn:
                await price_store.insert_price(
                    conn,
                    product=product,
                    unit_price_fen=price,
                    effective_from=now,
                    set_by=OPERATOR.actor,
                    created_at=now,
                )

        self.run(insert())
        self.model.prices[product] = price

    @initialize(
        packs=st.lists(st.sampled_from(PACK_SIZES), min_size=1, max_size=3),
        lots=st.lists(st.sampled_from(LOT_SIZES), max_size=1),
        seed=st.integers(0, 2**16),
    )
    def the_account_starts_with_a_paid_order(
        self, packs: list[int], lots: list[int], seed: int
    ) -> None:
        """Every life starts with packs bought, so that reads, draws and expiry happen."""
        self.an_account_buys_now(packs, lots, seed)

    @rule(
        packs=st.lists(st.sampled_from(PACK_SIZES), min_size=1, max_size=2),
        lots=st.lists(st.sampled_from(LOT_SIZES), max_size=1),
        seed=st.integers(0, 2**16),
    )
    def an_account_buys_now(self, packs: list[int], lots: list[int], seed: int) -> None:
        """R-ORD-1: "buy now", then "pay" at once (the common flow)."""
        self.an_operator_places_an_order(packs, lots, seed)
        self.an_operator_confirms_a_transfer(len(self.model.orders) - 1, "right", None)

    @precondition(lambda self: bool(self.model.orders))
    @rule(
        pick=st.integers(0, 2**16),
        how=st.sampled_from(["right", "right", "right", "less", "more"]),
        state=st.sampled_from([OrderState.PENDING_PAYMENT] * 4 + [None]),
    )
    def an_operator_confirms_a_transfer(
        self, pick: int, how: str, state: OrderState | None
    ) -> None:
        """R-GEN-4: paying a pending order fulfils it at once; a wrong amount is refused and
        changes nothing; an order that is not pending cannot be paid."""
        order = self.pick_order(pick, state) or self.pick_order(pick)
        assert order is not None
        amount = order.total + {"right": 0, "less": -1, "more": 100}[how]
        reference = self.new_reference()
        pay = payments.confirm_transfer(
            self.services.db,
            OPERATOR,
            order_id=order.id,
            reference=reference,
            amount_fen=amount,
            now=self.model.now,
        )
        if order.state is not OrderState.PENDING_PAYMENT:
            self.refuses(pay, "ORDER_NOT_PAYABLE")
            return
        if how != "right":
            self.refuses(pay, "PAYMENT_AMOUNT_MISMATCH")
            return
        result = self.run(pay)
        assert not result.replayed
        assert (result.order.id, result.order.state) == (order.id, OrderState.FULFILLED.value)
        self.model.payments[f"transfer:{reference}"] = (order.id, amount)
        self.fulfil(order, reference)

    def fulfil(self, order: ModelOrder, reference: str) -> None:
        """The model's fulfilment: one pack per AI line and one lot per exam line, in line
        order, purchased now (their ids are learned from the database)."""
        now = self.model.now
        order.state = OrderState.FULFILLED
        order.paid_at = now

        async def created() -> tuple[list[Any], list[Any]]:
            async with self.services.db.read() as conn:
                packs = await conn.execute(
                    sa.select(ai_pack).where(ai_pack.c.order_id == order.id).order_by(ai_pack.c.id)
                )
                lots = await conn.execute(
                    sa.select(exam_lot)
                    .where(exam_lot.c.order_id == order.id)
                    .order_by(exam_lot.c.id)
                )
                return list(packs.all()), list(lots.all())

        packs, lots = self.run(created())
        ai_lines = [q for product, q, _ in order.lines if product == AI_PACK]
        exam_lines = [q for product, q, _ in order.lines if product == EXAM_VOLUME]
        assert [row.quantity for row in packs] == ai_lines
        assert [row.quantity for row in lots] == exam_lines
        for row in packs:
            assert row.id not in self.model.packs
            if any(
                p.expires_at == a_year_later(now) and p.purchased_at < now
                for p in self.model.packs.values()
            ):
                self.seen["packs bought on different days expire together"] += 1
            self.model.packs[row.id] = ModelPack(
                row.id, row.quantity, now, a_year_later(now), order.id
            )
        for row in lots:
            self.model.lots[row.id] = ModelLot(
                row.id, row.quantity, now, a_year_later(now), order.id
            )
        self.seen["orders paid"] += 1
        if len(ai_lines) > 1:
            self.seen["one order bought several packs at one instant"] += 1

    @precondition(lambda self: bool(self.model.payments))
    @rule(pick=st.integers(0, 2**16), elsewhere=st.booleans())
    def a_payment_is_reported_again(self, pick: int, elsewhere: bool) -> None:
        """One reference pays one order once: the same payment again is a replay that changes
        nothing; the reference for another order is refused."""
        references = sorted(self.model.payments)
        reference = references[pick % len(references)]
        order_id, amount = self.model.payments[reference]
        others = [o for o in self.model.orders if o != order_id]
        target = others[pick % len(others)] if elsewhere and others else order_id
        pay = payments.confirm_transfer(
            self.services.db,
            OPERATOR,
            order_id=target,
            reference=reference.removeprefix("transfer:"),
            amount_fen=amount,
            now=self.model.now,
        )
        if target != order_id:
            self.refuses(pay, "PAYMENT_REFERENCE_REUSED")
            return
        result = self.run(pay)
        assert result.replayed
        assert (result.order.id, result.order.state) == (order_id, OrderState.FULFILLED.value)
        self.seen["payment replayed"] += 1

    @precondition(lambda self: bool(self.model.orders))
    @rule(
        pick=st.integers(0, 2**16),
        state=st.sampled_from([OrderState.PENDING_PAYMENT] * 3 + list(OrderState)),
    )
    def an_operator_cancels_an_order(self, pick: int, state: OrderState) -> None:
        """R-GEN-5: only an order not yet paid can be cancelled; no refunds."""
        order = self.pick_order(pick, state) or self.pick_order(pick)
        assert order is not None
        cancel = ordering.cancel_order(
            self.services.db, OPERATOR, order_id=order.id, now=self.model.now
        )
        if order.state is OrderState.FULFILLED:
            self.refuses(cancel, "R_GEN_5_NO_REFUND")
            return
        if order.state is OrderState.CANCELLED:
            self.refuses(cancel, "ORDER_NOT_PAYABLE")
            return
        row = self.run(cancel)
        assert row.state == OrderState.CANCELLED.value
        order.state = OrderState.CANCELLED
        order.cancelled_at = self.model.now
        self.seen["orders cancelled"] += 1

    # -- AI reads

    def new_key(self) -> tuple[str, str]:
        self.keys += 1
        return f"k{self.keys}", f"1.2.840.113619.{self.keys}"

    @rule(site=st.integers(0, 1), size=st.integers(1, 50), seed=st.integers(0, 2**32 - 1))
    def an_institution_reports_reads(self, site: int, size: int, seed: int) -> None:
        """R-AI-2/3: new reads, replays of stored ones (from either institution), repeats
        inside the batch, and now and then a key reused for another study."""
        rng = random.Random(seed)
        items: list[tuple[str, str]] = []
        for _ in range(size):
            kind = rng.choices(["new", "stored", "batch", "conflict"], weights=[12, 4, 3, 1])[0]
            if kind == "stored" and self.model.reads:
                read = rng.choice(list(self.model.reads.values()))
                items.append((read.key, read.uid))
            elif kind == "batch" and items:
                items.append(rng.choice(items))
            elif kind == "conflict" and (items or self.model.reads):
                key = rng.choice([k for k, _ in items] + list(self.model.reads))
                items.append((key, f"1.2.840.99.{rng.randrange(10**6)}"))
            else:
                items.append(self.new_key())
        self.read(self.institutions[site], items)

    @precondition(lambda self: self.model.next_pack() is not None and self.flood_left > 0)
    @rule(extra=st.integers(-3, 3))
    def an_institution_runs_a_pack_dry(self, extra: int) -> None:
        """R-AI-2/3: one big batch about uses up the pack that expires first: a few reads
        are left in it, or the batch goes on into the next pack, or is refused past the
        last credit."""
        pack = self.model.next_pack()
        assert pack is not None
        size = max(1, min(pack.remaining() + extra, self.flood_left))
        self.flood_left -= size
        self.read(self.institutions[size % 2], [self.new_key() for _ in range(size)])

    def read(self, institution_id: int, items: list[tuple[str, str]]) -> None:
        now = self.model.now
        expected = self.model.read(institution_id, items)

        async def record() -> list[AiReadOutcome]:
            async with self.services.db.write() as conn:
                return await ai_steps.record_ai_reads(
                    conn,
                    account_id=self.account_id,
                    institution_id=institution_id,
                    reads=[AiReadItem(AiProduct.GLAUCOMA, uid, key) for key, uid in items],
                    now=now,
                    actor="gateway",
                )

        outcomes = self.run(record())
        for answer, outcome in zip(expected, outcomes, strict=True):
            if answer.status is ReadStatus.ACCEPTED:
                assert answer.read is not None
                assert outcome.read is not None
                answer.read.id = outcome.read.id
        assert [_answer(o) for o in outcomes] == [_expected(e) for e in expected]
        for answer in expected:
            self.seen[f"read {answer.code or answer.status.value}"] += 1
        if len({e.read.pack_id for e in expected if e.read and e.status.value == "ACCEPTED"}) > 1:
            self.seen["a batch drew from several packs"] += 1

    # -- time and the sweep

    @rule(
        delta=st.one_of(
            st.integers(1, 48).map(lambda h: timedelta(hours=h)),
            st.integers(1, 400).map(lambda d: timedelta(days=d)),
        )
    )
    def time_passes(self, delta: timedelta) -> None:
        """R-AI-1: packs expire one calendar year after purchase, swept or not."""
        self.move_clock(self.model.now + delta)

    @rule(
        pick=st.integers(0, 2**16),
        nudge=st.sampled_from([timedelta(0), -timedelta.resolution]),
        leap=st.booleans(),
    )
    def time_reaches_a_boundary(self, pick: int, nudge: timedelta, leap: bool) -> None:
        """R-AI-1, R-GEN-6: the clock stops exactly on (or a microsecond before) the instant a
        pack expires, or on 28 or 29 February of a leap year (a pack bought on each expires
        at the same instant: the earlier purchase is drawn first)."""
        now = self.model.now
        if leap or not self.model.packs:
            ahead = _next_leap_days(now)
            label = "clock on a leap day"
        else:
            ahead = sorted({p.expires_at + nudge for p in self.model.packs.values()})
            label = "clock just before an expiry" if nudge else "clock on an expiry"
        ahead = [moment for moment in ahead if moment > now]
        if ahead:
            self.move_clock(ahead[pick % len(ahead)])
            self.seen[label] += 1

    def move_clock(self, moment: datetime) -> None:
        self.clock.set(moment)
        self.model.now = moment

    @rule()
    def the_ai_sweep_runs(self) -> None:
        """R-AI-1, R-GEN-7: the sweep writes off what expired packs left (EXPIRY entries)."""

        async def sweep() -> int:
            async with self.services.db.write() as conn:
                return await ai_steps.sweep_ai_packs(conn, self.model.now)

        swept = self.run(sweep())
        packs, forfeited = self.model.sweep()
        assert swept == packs
        if forfeited:
            self.seen["expired remainder forfeited"] += 1

    # -- after every step

    @invariant()
    def the_services_show_the_model(self) -> None:
        """R-AI-5, R-EXAM-6, R-GEN-3/4/5/7: figures, packs, lots, orders and reads are the
        model's, each paid line was fulfilled exactly once, and both ledgers reconcile."""
        if self.checked:
            self.seen["steps"] += 1
        self.checked = True
        model = self.model
        shown = self.run(self.shown())
        assert shown["ai reconciliation"] == []
        assert shown["exam reconciliation"] == []
        assert shown["ai figures"] == [model.ai_figures()]
        assert shown["exam figures"] == model.exam_figures()
        # each fulfilled order's lines were fulfilled once: what was bought is what was paid
        assert model.ai_figures().bought == model.paid(AI_PACK)
        assert shown["exam figures"].bought == model.paid(EXAM_VOLUME)
        assert shown["packs"] == [
            (
                p.id,
                p.quantity,
                p.used,
                p.forfeited,
                p.purchased_at,
                p.expires_at,
                p.swept,
                p.order_id,
            )
            for p in sorted(model.packs.values(), key=lambda p: p.id)
        ]
        assert all(0 <= p.used <= p.quantity for p in model.packs.values())
        assert shown["lots"] == [
            (lot.id, lot.quantity, 0, lot.purchased_at, lot.expires_at, lot.order_id)
            for lot in sorted(model.lots.values(), key=lambda lot: lot.id)
        ]
        assert shown["orders"] == [
            # R-GEN-4: fulfilled in the payment's transaction, at the same instant
            (o.id, o.state.value, o.total, o.paid_at, o.paid_at, o.cancelled_at)
            for o in sorted(model.orders.values(), key=lambda o: o.id)
        ]
        # R-GEN-3: every line keeps the unit price in force when it was placed
        assert shown["lines"] == [
            (o.id, product, quantity, price, quantity * price)
            for o in sorted(model.orders.values(), key=lambda o: o.id)
            for product, quantity, price in o.lines
        ]
        assert shown["reads"] == sorted((r.id, r.key, r.pack_id) for r in model.reads.values())

    async def shown(self) -> dict[str, Any]:
        now = self.model.now
        async with self.services.db.read() as conn:
            account = await account_store.get_account(conn, self.account_id)
            assert account is not None
            orders = await conn.execute(
                sa.select(purchase_order)
                .where(purchase_order.c.account_id == self.account_id)
                .order_by(purchase_order.c.id)
            )
            lines = await conn.execute(
                sa.select(order_line, purchase_order.c.account_id)
                .join(purchase_order, purchase_order.c.id == order_line.c.order_id)
                .where(purchase_order.c.account_id == self.account_id)
                .order_by(order_line.c.order_id, order_line.c.id)
            )
            reads = await conn.execute(
                sa.select(ai_read.c.id, ai_read.c.idempotency_key, ai_read.c.pack_id)
                .where(ai_read.c.account_id == self.account_id)
                .order_by(ai_read.c.id)
            )
            return {
                "ai reconciliation": await ai_cases.reconcile_ai(conn, self.account_id),
                "exam reconciliation": await reconcile_account(conn, self.account_id),
                "ai figures": (await ai_cases.ai_figures(conn, self.account_id, now)).figures,
                "exam figures": await reading.exam_figures(conn, account, now),
                "packs": [
                    (
                        row.id,
                        row.quantity,
                        row.used,
                        row.forfeited,
                        row.purchased_at,
                        row.expires_at,
                        row.swept_at is not None,
                        row.order_id,
                    )
                    for row in await ai_store.account_packs(conn, self.account_id)
                ],
                "lots": [
                    (
                        row.id,
                        row.quantity,
                        row.used,
                        row.purchased_at,
                        row.expires_at,
                        row.order_id,
                    )
                    for row in await lot_store.account_lots(conn, self.account_id)
                ],
                "orders": [
                    (
                        row.id,
                        row.state,
                        row.total_fen,
                        row.paid_at,
                        row.fulfilled_at,
                        row.cancelled_at,
                    )
                    for row in orders.all()
                ],
                "lines": [
                    (
                        row.order_id,
                        row.product,
                        row.quantity,
                        row.unit_price_fen,
                        row.amount_fen,
                    )
                    for row in lines.all()
                ],
                "reads": [tuple(row) for row in reads.all()],
            }


def _answer(outcome: AiReadOutcome) -> tuple[Any, ...]:
    read = outcome.read
    return (
        outcome.status,
        outcome.error.code if outcome.error else None,
        None if read is None else read.id,
        None if read is None else read.pack_id,
        None if read is None else read.institution_id,
        None if read is None else read.study_uid,
    )


def _expected(expected: Expected) -> tuple[Any, ...]:
    read = expected.read
    return (
        expected.status,
        expected.code,
        None if read is None else read.id,
        None if read is None else read.pack_id,
        None if read is None else read.institution_id,
        None if read is None else read.uid,
    )


# ---------------------------------------------------------------- the machine's tests


def _play(databases: Databases, *, examples: int, steps: int) -> Counter[str]:
    seen: Counter[str] = Counter()
    play(lambda: CommerceMachine(databases, seen), examples=examples, steps=steps)
    return seen


def test_random_orders_payments_and_reads_keep_both_ledgers_true_on_sqlite(
    sqlite_databases: SqliteDatabases,
) -> None:
    """R-AI-1..5, R-ORD-1..4, R-GEN-3..7 over random lives of an account."""
    seen = _play(sqlite_databases, examples=20, steps=30)
    assert seen["steps"] >= 300, seen
    # (cancellations and the rarer boundaries are sure to happen in the fixed walk below)
    for reached in ("orders paid", "read ACCEPTED", "read DUPLICATE"):
        assert seen[reached] > 0, (reached, seen)


def test_random_orders_payments_and_reads_keep_both_ledgers_true_on_postgres(
    postgres_databases: PostgresDatabases,
) -> None:
    """The same on PostgreSQL (fewer steps), where row locks serialise the balances."""
    seen = _play(postgres_databases, examples=5, steps=20)
    assert seen["steps"] >= 50, seen


def test_one_account_through_the_boundaries_a_random_run_seldom_reaches(
    databases: Databases,
) -> None:
    """R-AI-1/2/3, R-GEN-4/5/6: the machine's own steps in a fixed order, checked after each
    one as in the random runs and against figures worked out by hand: packs bought on 28
    and 29 February expiring at one instant, a batch spilling across them, expiry at the
    very instant, no credit, the sweep, and the payment and cancellation refusals."""
    machine = CommerceMachine(databases, Counter())
    main, east = machine.institutions

    def then(remaining: int, bought: int, used: int, expired: int) -> None:
        machine.the_services_show_the_model()
        assert machine.model.ai_figures() == AiFigures(
            AiProduct.GLAUCOMA, remaining, bought, used, expired, 0
        )

    try:
        then(remaining=0, bought=0, used=0, expired=0)
        # with no credit, a read is refused and nothing is recorded (R-AI-3)
        machine.read(main, [machine.new_key()])
        assert machine.seen["read R_AI_3_NO_CREDIT"] == 1
        # given a pack bought on 28 February 2028 and two in one order on the 29th
        feb_28, feb_29 = _next_leap_days(START)
        machine.move_clock(feb_28)
        machine.an_account_buys_now([1_000], [10_000], seed=0)
        machine.move_clock(feb_29)
        machine.an_account_buys_now([1_000, 2_000], [], seed=0)
        first, second, third = sorted(machine.model.packs.values(), key=lambda p: p.id)
        assert first.expires_at == second.expires_at == third.expires_at
        assert first.expires_at.astimezone(SHANGHAI).date() == date(2029, 2, 28)
        then(remaining=4_000, bought=4_000, used=0, expired=0)
        # when 1,001 reads arrive (and one is repeated in the batch)
        keys = [machine.new_key() for _ in range(1_001)]
        machine.read(east, [*keys, keys[0]])
        # then the earlier purchase is drawn dry first, then the lower id (R-AI-2)
        assert [p.used for p in (first, second, third)] == [1_000, 1, 0]
        assert machine.seen["read DUPLICATE"] == 1
        then(remaining=2_999, bought=4_000, used=1_001, expired=0)
        # and the same reads from another institution are other requests
        machine.read(main, keys[:2])
        assert machine.seen["read IDEMPOTENCY_KEY_REUSED"] == 2
        # a microsecond before expiry a read still draws; at the instant nothing is left
        machine.move_clock(first.expires_at - timedelta.resolution)
        machine.read(east, [machine.new_key()])
        then(remaining=2_998, bought=4_000, used=1_002, expired=0)
        machine.move_clock(first.expires_at)
        then(remaining=0, bought=4_000, used=1_002, expired=2_998)
        machine.read(east, [machine.new_key()])
        assert machine.seen["read R_AI_3_NO_CREDIT"] == 2
        # the sweep writes the expiry off; the figures do not move (R-GEN-7)
        machine.the_ai_sweep_runs()
        then(remaining=0, bought=4_000, used=1_002, expired=2_998)
        assert [p.forfeited for p in (first, second, third)] == [0, 998, 2_000]
        # an order paid with the wrong amount stays pending and credits nothing
        machine.an_operator_places_an_order([3_000], [], seed=0)
        machine.an_operator_confirms_a_transfer(0, "less", OrderState.PENDING_PAYMENT)
        assert machine.seen["refused PAYMENT_AMOUNT_MISMATCH"] == 1
        then(remaining=0, bought=4_000, used=1_002, expired=2_998)
        # paid, it is credited at once; paid again under its reference, nothing changes
        machine.an_operator_confirms_a_transfer(0, "right", OrderState.PENDING_PAYMENT)
        then(remaining=3_000, bought=7_000, used=1_002, expired=2_998)
        machine.a_payment_is_reported_again(len(machine.model.payments) - 1, elsewhere=False)
        then(remaining=3_000, bought=7_000, used=1_002, expired=2_998)
        # no refunds (R-GEN-5); a cancelled order can be neither cancelled again nor paid
        machine.an_operator_cancels_an_order(0, OrderState.FULFILLED)
        machine.an_operator_places_an_order([1_000], [], seed=0)
        machine.an_operator_cancels_an_order(0, OrderState.PENDING_PAYMENT)
        machine.an_operator_cancels_an_order(0, OrderState.CANCELLED)
        machine.an_operator_confirms_a_transfer(0, "right", OrderState.CANCELLED)
        assert machine.seen["refused R_GEN_5_NO_REFUND"] == 1
        assert machine.seen["refused ORDER_NOT_PAYABLE"] == 2
        then(remaining=3_000, bought=7_000, used=1_002, expired=2_998)
    finally:
        machine.teardown()


# ---------------------------------------------------------------- quotes (R-ORD-4)

TODAY = date(2026, 3, 1)
ONLINE = sorted(code for code, product in PRODUCTS.items() if product.online)


@st.composite
def online_line(draw: st.DrawFn) -> LineRequest:
    """A valid line of any online product, in its own units (R-EXAM-1, R-AI-1, R-LIC-1,
    R-SVC-2/3); per-institution products name an institution."""
    code = draw(st.sampled_from(ONLINE))
    if code.startswith("EXAM_"):
        years = draw(st.integers(1, 100)) if code == "EXAM_ANNUAL" else None
        return LineRequest(code, 10_000 * draw(st.integers(1, 50)), years)
    if code == AI_PACK:
        return LineRequest(code, 1_000 * draw(st.integers(1, 50)))
    if code.startswith("LICENCE_"):
        return LineRequest(code, 1, institution_id=draw(st.integers(1, 9)))
    years = draw(st.integers(1, 100)) if code == "SERVICE_MAINTENANCE" else None
    return LineRequest(
        code,
        draw(st.integers(1, 5)),
        years,
        institution_id=draw(st.integers(1, 9)),
        variant=draw(st.sampled_from(ServiceVariant)),
    )


def guide_amount(line: LineRequest, price: int) -> int:
    """The purchase guide's formulas, restated: VOLUME quantity x price; ANNUAL quantity x
    price x years; maintenance price x count x years; everything else quantity x price."""
    if line.product in ("EXAM_ANNUAL", "SERVICE_MAINTENANCE"):
        assert line.years is not None
        return line.quantity * price * line.years
    return line.quantity * price


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(online_line(), min_size=1, max_size=8),
    prices=st.fixed_dictionaries({code: st.integers(0, 100_000) for code in ONLINE}),
)
def test_a_quote_is_the_guides_formulas(lines: list[LineRequest], prices: dict[str, int]) -> None:
    """R-EXAM-1, R-SVC-3, R-ORD-4: every line of every online product is priced by the
    guide's formula at the price in force, and the total is their sum."""
    quoted = quote(lines, prices, online=True, today=TODAY)
    expected = [guide_amount(line, prices[line.product]) for line in lines]
    assert [p.unit_price_fen for p in quoted.lines] == [prices[line.product] for line in lines]
    assert [p.amount_fen for p in quoted.lines] == expected
    assert quoted.total_fen == sum(expected)


@settings(max_examples=30, deadline=None)
@given(code=st.sampled_from([c for c in ONLINE if PRODUCTS[c].per_institution]))
def test_a_basket_is_quoted_before_institutions_are_chosen(code: str) -> None:
    """R-ORD-4: a price preview is available before ordering, i.e. before the basket's
    institutions are chosen (services.pricing.quote_lines passes for_quote=True)."""
    years = 2 if code == "SERVICE_MAINTENANCE" else None
    quoted = quote(
        [LineRequest(code, 1, years)], {code: 500}, online=True, today=TODAY, for_quote=True
    )
    assert quoted.total_fen == 500 * (years or 1)
