"""Use cases as the API calls them: authorise, open one transaction, run the rule,
record the idempotency key with the effect. Each function is one atomic change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from .. import security
from ..domain.errors import RuleViolation
from ..domain.exams import LotMode, lot_terms
from ..domain.ledger import Cause
from ..store import accounts, exams, lots
from ..store.db import Database
from ..store.records import AccountRecord, AgreementRecord, ExamRecord, InstitutionRecord, LotRecord
from . import accounts as account_cases
from . import idempotency, settlement, voiding
from .ingest import UploadItem, UploadOutcome
from .ingest_writer import IngestJob, IngestWriter, PendingAudit
from .principals import Principal
from .reconcile import Discrepancy, reconcile_account
from .sweep import SweepReport, run_sweep


async def create_account(
    db: Database, principal: Principal, *, name: str, threshold: int | None, now: datetime
) -> AccountRecord:
    principal.require_operator()
    async with db.write() as conn:
        account_id = await account_cases.create_account(conn, name=name, now=now)
        if threshold is not None:
            await account_cases.set_low_balance_threshold(
                conn, account_id=account_id, threshold=threshold
            )
        row = await accounts.get_account(conn, account_id)
    assert row is not None
    return row


async def create_institution(
    db: Database,
    principal: Principal,
    *,
    account_id: int,
    name: str,
    now: datetime,
    keys: security.KeyBox,
) -> tuple[InstitutionRecord, str]:
    principal.require_operator()
    async with db.write() as conn:
        issued = await account_cases.create_institution(
            conn, account_id=account_id, name=name, now=now, keys=keys
        )
        row = await accounts.get_institution(conn, issued.institution_id)
    assert row is not None
    return row, issued.token


async def record_agreement(
    db: Database,
    principal: Principal,
    *,
    account_id: int,
    number: str,
    signed_on: date,
    channel_partner: str,
    now: datetime,
) -> AgreementRecord:
    principal.require_operator()
    async with db.write() as conn:
        await account_cases.record_agreement(
            conn,
            account_id=account_id,
            number=number,
            signed_on=signed_on,
            channel_partner=channel_partner,
            actor=principal.actor,
            now=now,
        )
        row = await accounts.latest_agreement(conn, account_id)
    assert row is not None
    return row


async def set_low_balance_threshold(
    db: Database, principal: Principal, *, account_id: int, threshold: int | None
) -> AccountRecord:
    principal.require_operator()
    async with db.write() as conn:
        await account_cases.set_low_balance_threshold(
            conn, account_id=account_id, threshold=threshold
        )
        row = await accounts.get_account(conn, account_id)
    assert row is not None
    return row


@dataclass(frozen=True)
class CreditResult:
    lot: LotRecord
    settled: int


async def credit_exam_lot(
    db: Database,
    principal: Principal,
    *,
    account_id: int,
    mode: LotMode,
    quantity: int,
    years: int | None,
    contract_ref: str | None,
    idempotency_key: str | None,
    now: datetime,
) -> CreditResult:
    """The operator's record of a paid lot (offline purchase); settles arrears first."""
    principal.require_operator()
    terms = lot_terms(mode, quantity, years)
    if contract_ref is not None:
        contract_ref = account_cases.check_text(
            contract_ref, "contractRef", code="R_GEN_5_CONTRACT_REQUIRED"
        )

    async with db.write() as conn:

        async def effect() -> dict[str, int]:
            credit = await settlement.credit_exam_lot(
                conn,
                account_id=account_id,
                terms=terms,
                now=now,
                actor=principal.actor,
                cause=Cause.OPERATOR,
                contract_ref=contract_ref,
            )
            return {"lot": credit.lot_id, "settled": credit.settled}

        payload = [account_id, mode.value, quantity, terms.storage_years, contract_ref]
        response = await idempotency.once(
            conn,
            scope=principal.actor,
            key=idempotency_key,
            operation="creditExamLot",
            payload=payload,
            now=now,
            effect=effect,
        )
        lot = await lots.get_lot(conn, response["lot"])
    assert lot is not None
    return CreditResult(lot, response["settled"])


async def void_exam(
    db: Database,
    principal: Principal,
    *,
    exam_id: int,
    reason: str,
    idempotency_key: str | None,
    now: datetime,
) -> ExamRecord:
    principal.require_operator()
    async with db.write() as conn:

        async def effect() -> dict[str, int]:
            voided = await voiding.void_exam(
                conn, exam_id=exam_id, reason=reason, actor=principal.actor, now=now
            )
            return {"exam": voided}

        await idempotency.once(
            conn,
            scope=principal.actor,
            key=idempotency_key,
            operation="voidExam",
            payload=[exam_id, reason],
            now=now,
            effect=effect,
        )
        row = await exams.get_exam(conn, exam_id)
    assert row is not None
    return row


async def expiry_sweep(db: Database, principal: Principal, now: datetime) -> SweepReport:
    principal.require_operator()
    return await run_sweep(db, now)


async def reconcile(db: Database, principal: Principal, account_id: int) -> list[Discrepancy]:
    principal.require_operator()
    async with db.read() as conn:
        return await reconcile_account(conn, account_id)


MAX_BATCH = 1_000


async def record_exam_uploads(
    writer: IngestWriter,
    principal: Principal,
    *,
    institution_id: int,
    items: list[tuple[str, datetime | None]],
    idempotency_key: str | None,
    operation: str,
    audit: PendingAudit | None = None,
) -> list[UploadOutcome]:
    """A gateway reports uploads of its own institution (R-EXAM-4, R-ARR-1/3).

    `audit`, when given, is the request's audit record: it is committed with the
    uploads, and marked queued so the caller does not record it again."""
    if principal.institution_id is None:
        raise RuleViolation("FORBIDDEN")
    if principal.institution_id != institution_id or principal.account_id is None:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    if len(items) > MAX_BATCH:
        raise RuleViolation("BATCH_TOO_LARGE", "items", {"limit": MAX_BATCH})
    job = IngestJob(
        account_id=principal.account_id,
        items=[UploadItem(institution_id, uid, at) for uid, at in items],
        scope=principal.actor,
        operation=operation,
        key=idempotency.check_key(idempotency_key),
        audit=audit,
    )
    if audit is not None:
        audit.queued = True
    return await writer.submit(job)
