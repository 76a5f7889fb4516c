"""The overview's usage series and run-out forecast come from per-account daily
counters (R-EXAM-6, R-GEN-9): over random histories they say exactly what counting
the exams says; each batch writes one counter row; reconciliation (R-GEN-7) finds
a counter changed behind the services' back."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from itertools import count
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.clock import local_date
from imaging_billing.domain.exams import Lot
from imaging_billing.domain.usage import average_daily, daily_series, run_out
from imaging_billing.services.clock import ManualClock
from imaging_billing.store.tables import exam, exam_lot, ledger_entry
from imaging_billing.store.usage_tables import daily_exam_count

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway

UPLOADS = """mutation($i: ID!, $items: [ExamUploadInput!]!) {
  recordExamUploads(institutionId: $i, items: $items) {
    accepted refused results { status exam { id } } } }"""
VOID = """mutation($e: ID!) { voidExam(examId: $e, reason: "wrong patient") {
  userErrors { code } } }"""
SWEEP = "mutation { runExpirySweep { __typename } }"
WINDOWS = (1, 7, 30, 90, 366)
SHOWN = (
    "query($id: ID!) { account(id: $id) { "
    + " ".join(f"d{n}: dailyUsage(days: {n}) {{ day exams }}" for n in WINDOWS)
    + " runOut { averageDaily reason at daysLeft on projectedForfeitTotal"
    " lots { lotId expiresAt projectedForfeit } } } }"
)
RECONCILE = """query($id: ID!) { reconcileAccount(accountId: $id) {
  ok discrepancies { subject check expected actual } } }"""


class History:
    """One account's life played at random through the API: batches from two gateways
    (replays, back-dated reports, some across Shanghai midnight), voids, lots credited
    into arrears, time jumps of minutes to a year (lots expire), expiry sweeps."""

    def __init__(self, services: Services, api: Api, clock: ManualClock, seed: int) -> None:
        self.services, self.api, self.clock = services, api, clock
        self.rng = random.Random(seed)
        self.uids = count()
        self.sent: list[str] = []
        self.exams: list[str] = []  # global IDs of recorded exams, voided or not

    async def start(self) -> None:
        self.account = await create_account(self.services)
        self.gateways = [
            await create_institution(self.services, self.account, name=f"Site {n}")
            for n in range(2)
        ]
        self.token = await create_operator_token(self.services)
        self.id = str(encode("Account", self.account))

    async def step(self) -> None:
        kind = self.rng.choices(["upload", "void", "credit", "time", "sweep"], [6, 2, 1, 4, 1])
        await getattr(self, f"_{kind[0]}")()

    async def _upload(self, gateway: Gateway | None = None) -> None:
        gateway = gateway or self.rng.choice(self.gateways)
        items: list[dict[str, Any]] = []
        for _ in range(self.rng.randint(1, 25)):
            if self.sent and self.rng.random() < 0.15:  # a replay: counted once (R-EXAM-4)
                items.append({"studyInstanceUid": self.rng.choice(self.sent)})
                continue
            uid = f"1.2.840.{next(self.uids)}"
            self.sent.append(uid)
            item: dict[str, Any] = {"studyInstanceUid": uid}
            if self.rng.random() < 0.3:  # reported late: counted on the day it is recorded
                late = timedelta(minutes=self.rng.randint(1, 23 * 60))
                item["uploadedAt"] = (self.clock.now() - late).isoformat()
            items.append(item)
        variables = {"i": gateway.id, "items": items}
        done = (await self.api.gateway(gateway, UPLOADS, variables))["recordExamUploads"]
        self.exams += [
            r["exam"]["id"] for r in done["results"] if r["status"] == "ACCEPTED" and r["exam"]
        ]

    async def _void(self) -> None:
        if self.exams:
            target = self.exams.pop(self.rng.randrange(len(self.exams)))
            voided = await self.api.operator(self.token, VOID, {"e": target})
            assert voided["voidExam"]["userErrors"] == []

    async def _credit(self) -> None:
        await credit_lot(self.services, self.account)

    async def _time(self) -> None:
        unit = self.rng.choice(["minutes", "hours", "days", "year"])
        if unit == "year":
            self.clock.advance(timedelta(days=self.rng.randint(300, 380)))
        else:
            self.clock.advance(timedelta(**{unit: self.rng.randint(1, 40)}))

    async def _sweep(self) -> None:
        await self.api.operator(self.token, SWEEP)

    async def shown(self) -> dict[str, Any]:
        found = await self.api.operator(self.token, SHOWN, {"id": self.id})
        return dict(found["account"])

    async def counted_from_exams(self) -> dict[str, Any]:
        """What the overview showed when it counted the exams of the whole history: exams
        recorded per Shanghai day (voided ones too), the forecast at the 30-day pace."""
        now = self.clock.now()
        async with self.services.db.read() as conn:
            stmt = sa.select(exam.c.recorded_at).where(exam.c.account_id == self.account)
            per_day = Counter(local_date(at) for at in (await conn.execute(stmt)).scalars())
            stmt = sa.select(exam_lot).where(exam_lot.c.account_id == self.account)
            lots = [_lot(row) for row in (await conn.execute(stmt)).all()]
        today = local_date(now)
        shown: dict[str, Any] = {
            f"d{n}": [
                {"day": p.day.isoformat(), "exams": p.exams}
                for p in daily_series(per_day, today, n)
            ]
            for n in WINDOWS
        }
        forecast = run_out(lots, average_daily(daily_series(per_day, today, 30)), now)
        shown["runOut"] = {
            "averageDaily": forecast.average_daily,
            "reason": forecast.reason.value,
            "at": _instant(forecast.at),
            "daysLeft": forecast.days_left,
            "on": forecast.on.isoformat() if forecast.on else None,
            "projectedForfeitTotal": forecast.projected_forfeit_total,
            "lots": [
                {
                    "lotId": str(encode("ExamLot", lot.lot_id)),
                    "expiresAt": _instant(lot.expires_at),
                    "projectedForfeit": lot.projected_forfeit,
                }
                for lot in forecast.lots
            ],
        }
        return shown

    async def reconciliation(self) -> dict[str, Any]:
        found = await self.api.operator(self.token, RECONCILE, {"id": self.id})
        return dict(found["reconcileAccount"])


def _lot(row: Any) -> Lot:
    return Lot(
        id=row.id,
        quantity=row.quantity,
        used=row.used,
        storage_years=row.storage_years,
        purchased_at=row.purchased_at,
        expires_at=row.expires_at,
    )


def _instant(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


@pytest.mark.parametrize("seed", range(4))
async def test_usage_and_run_out_from_counters_equal_a_count_of_the_exams(
    services: Services, api: Api, clock: ManualClock, seed: int
) -> None:
    # given an account whose first uploads find no lot (arrears), then a random life
    # starting 20 minutes before Shanghai midnight
    clock.advance(timedelta(hours=7, minutes=40))
    history = History(services, api, clock, seed)
    await history.start()
    await history._upload()
    for checkpoint in range(4):
        for _ in range(12):
            await history.step()
        await history._void()
        await history._upload()
        # when the overview shows the usage and the forecast
        shown = await history.shown()
        # then they are what counting the exams gives, and the counters reconcile
        assert shown == await history.counted_from_exams(), f"checkpoint {checkpoint}"
        assert await history.reconciliation() == {"ok": True, "discrepancies": []}
    # and the history held what the counters must get right
    async with services.db.read() as conn:
        voided = await conn.scalar(sa.select(sa.func.count()).where(exam.c.voided_at.is_not(None)))
        arrears = await conn.scalar(
            sa.select(sa.func.count()).where(ledger_entry.c.type == "ARREARS")
        )
        days = await conn.scalar(sa.select(sa.func.count()).select_from(daily_exam_count))
    assert voided
    assert arrears
    assert days
    assert days > 1


async def test_a_batch_writes_one_counter_row_for_all_its_exams(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given an account with no lot, so every upload is in arrears (R-ARR-1)
    account = await create_account(services)
    gateway = await create_institution(services, account)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "daily_exam_count" in statement:
            statements.append(statement)

    engine = services.db.write_engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        # when a gateway reports 200 studies in one batch
        items = [{"studyInstanceUid": f"1.2.3.{n}"} for n in range(200)]
        await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": items})
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    # then one statement counted them, on the day they were recorded
    assert len(statements) == 1
    async with services.db.read() as conn:
        rows = (await conn.execute(sa.select(daily_exam_count))).all()
    assert [(r.account_id, r.day, r.uploads, r.arrears, r.voids) for r in rows] == [
        (account, local_date(clock.now()), 200, 200, 0)
    ]


async def test_reconciliation_finds_a_daily_counter_changed_behind_the_services_back(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given three uploads on 1 March (Shanghai), one voided on 2 March
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    token = await create_operator_token(services)
    items = [{"studyInstanceUid": f"1.2.3.{n}"} for n in range(3)]
    done = await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": items})
    clock.advance(timedelta(days=1))
    first = done["recordExamUploads"]["results"][0]["exam"]["id"]
    await api.operator(token, VOID, {"e": first})
    account_id = str(encode("Account", account))
    assert (await api.operator(token, RECONCILE, {"id": account_id}))["reconcileAccount"]["ok"]
    # when one day's uploads are raised and the other day's row is deleted
    async with services.db.write() as conn:
        mine = daily_exam_count.c.account_id == account
        await conn.execute(
            daily_exam_count.update()
            .where(mine, daily_exam_count.c.day == date(2026, 3, 1))
            .values(uploads=5)
        )
        await conn.execute(
            daily_exam_count.delete().where(mine, daily_exam_count.c.day == date(2026, 3, 2))
        )
    # then reconciliation names each day, the check and both figures
    found = (await api.operator(token, RECONCILE, {"id": account_id}))["reconcileAccount"]
    subject = f"daily_exam_count:{account}"
    assert found == {
        "ok": False,
        "discrepancies": [
            {
                "subject": f"{subject}:2026-03-01",
                "check": "uploads = exams recorded",
                "expected": 3,
                "actual": 5,
            },
            {
                "subject": f"{subject}:2026-03-02",
                "check": "voids = exams voided",
                "expected": 1,
                "actual": 0,
            },
        ],
    }
