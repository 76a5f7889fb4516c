"""Recording uploaded exams (R-EXAM-3/4/5, R-ARR-1/2/3): the steps of the hot path.

`record_requests` answers the upload requests of one account that the group commit
gathered, each once per idempotency key (`idempotency.once_each`); `record_uploads`
records their uploads together with a fixed number of statements (lock, look-up,
lots, then one executemany per table), so a batch of 1,000 costs about what a single
upload does.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain import exams as rules
from ...domain.clock import local_date
from ...domain.errors import RuleViolation
from ...domain.ledger import Cause, LedgerType, entry
from ...domain.notices import NoticeKind, notice_rows
from ...store import accounts, daily_counts, exams, ledger, lots
from ...store.records import AccountRecord, ExamRecord
from .. import idempotency
from .arrears import apply_arrears_change
from .outbox import record_notices


class UploadStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REFUSED = "REFUSED"


@dataclass(frozen=True)
class UploadItem:
    institution_id: int
    study_uid: str
    uploaded_at: datetime | None = None


@dataclass(frozen=True)
class UploadOutcome:
    status: UploadStatus
    study_uid: str
    exam: ExamRecord | None = None
    error: RuleViolation | None = None


@dataclass(frozen=True)
class UploadRequest:
    """One request's uploads, as the group commit carries it to the account's turn."""

    account_id: int
    items: list[UploadItem]
    scope: str  # who asks: idempotency keys are theirs
    operation: str
    key: str | None = None

    @property
    def digest(self) -> str:
        payload = [[i.institution_id, i.study_uid, i.uploaded_at] for i in self.items]
        return idempotency.request_hash(self.operation, payload)


class KeptOutcome(TypedDict):
    """What an idempotency key keeps of one upload's answer (stored as JSON)."""

    status: str
    uid: str
    exam: int | None
    code: str | None
    field: str | None


async def record_requests(
    conn: AsyncConnection, account_id: int, requests: Sequence[UploadRequest], now: datetime
) -> list[list[UploadOutcome] | RuleViolation]:
    """Answer upload requests of one account, in order, each once per idempotency key.

    The account lock comes first: another instance's batch with the same keys waits
    here, then finds their records instead of recording the uploads again. The uploads
    of every request that runs are recorded together, in request order."""
    account = await accounts.lock_account(conn, account_id)

    async def run(indexes: list[int]) -> list[list[UploadOutcome]]:
        items = [item for i in indexes for item in requests[i].items]
        outcomes = (
            await record_uploads(conn, account_id, items, now, locked=account) if items else []
        )
        answers, offset = [], 0
        for i in indexes:
            answers.append(outcomes[offset : offset + len(requests[i].items)])
            offset += len(requests[i].items)
        return answers

    async def replay(stored: list[KeptOutcome]) -> list[UploadOutcome]:
        return await _replay(conn, stored)

    return await idempotency.once_each(
        conn, requests, now=now, run=run, response=_response, replay=replay
    )


def _response(outcomes: list[UploadOutcome]) -> list[KeptOutcome]:
    """What an idempotency key keeps of a request's answer."""
    return [
        KeptOutcome(
            status=o.status.value,
            uid=o.study_uid,
            exam=o.exam.id if o.exam is not None else None,
            code=o.error.code if o.error else None,
            field=o.error.field if o.error else None,
        )
        for o in outcomes
    ]


async def _replay(conn: AsyncConnection, stored: list[KeptOutcome]) -> list[UploadOutcome]:
    rows = await exams.get_exams(conn, [s["exam"] for s in stored if s["exam"] is not None])
    return [
        UploadOutcome(
            UploadStatus(s["status"]),
            s["uid"],
            exam=rows.get(s["exam"]) if s["exam"] is not None else None,
            error=RuleViolation(s["code"], s["field"]) if s["code"] else None,
        )
        for s in stored
    ]


def _refused(item: UploadItem, error: RuleViolation) -> UploadOutcome:
    return UploadOutcome(UploadStatus.REFUSED, item.study_uid, error=error)


async def record_uploads(
    conn: AsyncConnection,
    account_id: int,
    items: list[UploadItem],
    now: datetime,
    *,
    locked: AccountRecord | None = None,
) -> list[UploadOutcome]:
    """Record uploads of one account, in order. Call inside a write transaction;
    `locked` is the account row when the caller already holds its lock."""
    outcomes: dict[int, UploadOutcome] = {}
    valid: list[int] = []
    for index, item in enumerate(items):
        try:
            rules.validate_study_uid(item.study_uid)
        except RuleViolation as error:
            outcomes[index] = _refused(item, error)
            continue
        valid.append(index)

    account = locked if locked is not None else await accounts.lock_account(conn, account_id)
    if account is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    known = await exams.find_by_uids(conn, account_id, list({items[i].study_uid for i in valid}))
    # A study already recorded is a duplicate whatever time is reported with it (R-EXAM-4);
    # the upload time is checked only for a study seen for the first time.
    fresh: dict[str, tuple[int, datetime]] = {}  # first valid occurrence of each new study
    for index in valid:
        item = items[index]
        if item.study_uid in known or item.study_uid in fresh:
            continue
        try:
            fresh[item.study_uid] = (index, rules.upload_instant(item.uploaded_at, now))
        except RuleViolation as error:
            outcomes[index] = _refused(item, error)
    new = [(uid, at) for uid, (_, at) in fresh.items()]

    permission = rules.upload_permission(account.arrears_since, now)
    if new and not permission.allowed:
        # R-ARR-3: refused, and not recorded as consumption.
        await _notice_suspension(conn, account, now)
        refused = {uid for uid, _ in new}
        for index, item in enumerate(items):
            if index not in outcomes and item.study_uid in refused:
                outcomes[index] = _refused(item, RuleViolation("R_ARR_3_SUSPENDED"))
        new = []

    accepted: set[str] = set()
    if new:
        inserted = await _insert(conn, account, items, fresh, new, now)
        known.update(inserted)
        accepted = set(inserted)

    answers: list[UploadOutcome] = []
    for index, item in enumerate(items):
        if index in outcomes:
            answers.append(outcomes[index])
            continue
        # Only the first new occurrence is accepted; every replay is a duplicate (R-EXAM-4).
        first = item.study_uid in accepted and fresh[item.study_uid][0] == index
        status = UploadStatus.ACCEPTED if first else UploadStatus.DUPLICATE
        answers.append(UploadOutcome(status, item.study_uid, exam=known[item.study_uid]))
    return answers


async def _insert(
    conn: AsyncConnection,
    account: AccountRecord,
    items: list[UploadItem],
    fresh: dict[str, tuple[int, datetime]],
    new: list[tuple[str, datetime]],
    now: datetime,
) -> dict[str, ExamRecord]:
    usable = await lots.usable_lots(conn, account.id, now)
    draws = rules.allocate(usable, len(new), now)  # R-EXAM-3
    years = {lot.id: lot.storage_years for lot in usable}
    rows = [
        {
            "account_id": account.id,
            "institution_id": items[fresh[uid][0]].institution_id,
            "study_uid": uid,
            "uploaded_at": at,
            "recorded_at": now,
            "lot_id": lot_id,
            "covered_at": None if lot_id is None else now,
            "storage_ends_at": None if lot_id is None else rules.storage_ends_at(at, years[lot_id]),
        }
        for (uid, at), lot_id in zip(new, draws, strict=True)
    ]
    inserted = await exams.insert_exams(conn, rows)
    await ledger.append(conn, [_ledger_row(row, now) for row in inserted])
    # One counter row per batch: every exam of it is recorded at `now`.
    day = daily_counts.DailyCountRecord(
        account.id, local_date(now), uploads=len(rows), arrears=draws.count(None)
    )
    await daily_counts.add(conn, [day])
    per_lot = Counter(lot_id for lot_id in draws if lot_id is not None)
    await lots.add_used(conn, dict(per_lot))
    available = sum(lot.remaining for lot in usable) - sum(per_lot.values())
    await _after_draw(conn, account, draws.count(None), available, now)
    return {row.study_uid: row for row in inserted}


def _ledger_row(row: ExamRecord, now: datetime) -> dict[str, object]:
    covered = row.lot_id is not None
    return entry(
        LedgerType.CONSUMPTION if covered else LedgerType.ARREARS,
        account_id=row.account_id,
        quantity=-1 if covered else 1,
        now=now,
        cause=Cause.EXAM,
        actor=f"institution:{row.institution_id}",
        lot_id=row.lot_id,
        exam_id=row.id,
    )


async def _after_draw(
    conn: AsyncConnection, account: AccountRecord, arrears: int, available: int, now: datetime
) -> None:
    """Arrears clock and notices (R-ARR-1/2) after a draw."""
    threshold = rules.low_balance_threshold(
        account.low_balance_threshold, account.last_lot_quantity
    )
    low = rules.low_balance_due(
        noticed=account.low_balance_noticed, available=available, threshold=threshold
    )
    if low:
        detail = {"available": available, "threshold": threshold}
        rows = notice_rows(NoticeKind.LOW_BALANCE, account_id=account.id, now=now, detail=detail)
        await record_notices(conn, rows, now)
    if arrears:
        extra = {"low_balance_noticed": True} if low else {}
        await apply_arrears_change(conn, account, arrears, now, **extra)
    elif low:
        await accounts.update_account(conn, account.id, low_balance_noticed=True)


async def _notice_suspension(conn: AsyncConnection, account: AccountRecord, now: datetime) -> None:
    """The first refused upload of a suspension records its notice, unless the sweep did."""
    if account.suspension_noticed:
        return
    rows = notice_rows(NoticeKind.UPLOADS_SUSPENDED, account_id=account.id, now=now)
    await record_notices(conn, rows, now)
    await accounts.update_account(conn, account.id, suspension_noticed=True)
