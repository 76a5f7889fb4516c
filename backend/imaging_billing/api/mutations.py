"""Operator mutations. Each returns a payload; refusals are `userErrors`, never
exceptions, and nothing is written when there is one (one transaction per call)."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import strawberry

from ..services import accounts, lots, sweep, voiding
from . import ids
from .context import Info
from .enums import LotMode
from .errors import UserError, attempt
from .types import Account, Agreement, Exam, ExamLot, Institution

T = TypeVar("T")


def account_pk(value: strawberry.ID) -> int:
    return ids.decode(value, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId")


@strawberry.type
class CreateAccountPayload:
    account: Account | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateInstitutionPayload:
    institution: Institution | None = None
    token: str | None = strawberry.field(
        default=None, description="Shown this once; only its digest is stored."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordAgreementPayload:
    agreement: Agreement | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetLowBalanceThresholdPayload:
    account: Account | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreditExamLotPayload:
    lot: ExamLot | None = None
    settled: int = strawberry.field(default=0, description="Arrears exams the lot covered.")
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class VoidExamPayload:
    exam: Exam | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RunExpirySweepPayload:
    lots_expired: int = 0
    exams_forfeited: int = 0
    suspensions_noticed: int = 0
    expiry_warnings: int = 0
    ai_packs_expired: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OperatorMutation:
    @strawberry.mutation
    async def create_account(
        self, info: Info, name: str, low_balance_threshold: int | None = None
    ) -> CreateAccountPayload:
        c = info.context
        row, errors = await attempt(
            info.context.lang,
            accounts.create_account(
                c.db, c.principal, name=name, threshold=low_balance_threshold, now=c.now()
            ),
        )
        return CreateAccountPayload(account=row and Account.from_row(row), user_errors=errors)

    @strawberry.mutation(description="Returns the institution's API token once.")
    async def create_institution(
        self, info: Info, account_id: strawberry.ID, name: str
    ) -> CreateInstitutionPayload:
        c = info.context

        async def run() -> CreateInstitutionPayload:
            row, token = await accounts.create_institution(
                c.db,
                c.principal,
                account_id=account_pk(account_id),
                name=name,
                now=c.now(),
                keys=c.services.keys,
            )
            return CreateInstitutionPayload(institution=Institution.from_row(row), token=token)

        payload, errors = await attempt(info.context.lang, run())
        return payload or CreateInstitutionPayload(user_errors=errors)

    @strawberry.mutation(description="R-GEN-2")
    async def record_agreement(
        self,
        info: Info,
        account_id: strawberry.ID,
        number: str,
        signed_on: date,
        channel_partner: str,
    ) -> RecordAgreementPayload:
        c = info.context

        async def run() -> Agreement:
            row = await accounts.record_agreement(
                c.db,
                c.principal,
                account_id=account_pk(account_id),
                number=number,
                signed_on=signed_on,
                channel_partner=channel_partner,
                now=c.now(),
            )
            return Agreement.from_row(row)

        agreement, errors = await attempt(info.context.lang, run())
        return RecordAgreementPayload(agreement=agreement, user_errors=errors)

    @strawberry.mutation(description="R-ARR-2; null restores the default (10 % of the last lot).")
    async def set_low_balance_threshold(
        self, info: Info, account_id: strawberry.ID, threshold: int | None
    ) -> SetLowBalanceThresholdPayload:
        c = info.context

        async def run() -> Account:
            row = await accounts.set_low_balance_threshold(
                c.db, c.principal, account_id=account_pk(account_id), threshold=threshold
            )
            return Account.from_row(row)

        account, errors = await attempt(info.context.lang, run())
        return SetLowBalanceThresholdPayload(account=account, user_errors=errors)

    @strawberry.mutation(description="Record a paid exam lot (R-EXAM-1); it settles arrears first.")
    async def credit_exam_lot(
        self,
        info: Info,
        account_id: strawberry.ID,
        mode: LotMode,
        quantity: int,
        years: int | None = None,
        contract_ref: str | None = None,
        idempotency_key: str | None = None,
    ) -> CreditExamLotPayload:
        c = info.context

        async def run() -> CreditExamLotPayload:
            result = await lots.credit_exam_lot(
                c.db,
                c.principal,
                account_id=account_pk(account_id),
                mode=mode,
                quantity=quantity,
                years=years,
                contract_ref=contract_ref,
                idempotency_key=idempotency_key,
                now=c.now(),
            )
            return CreditExamLotPayload(lot=ExamLot.from_row(result.lot), settled=result.settled)

        payload, errors = await attempt(info.context.lang, run())
        return payload or CreditExamLotPayload(user_errors=errors)

    @strawberry.mutation(description="Void a wrongly reported exam, with a reason (audited).")
    async def void_exam(
        self,
        info: Info,
        exam_id: strawberry.ID,
        reason: str,
        idempotency_key: str | None = None,
    ) -> VoidExamPayload:
        c = info.context

        async def run() -> Exam:
            pk = ids.decode(exam_id, "Exam", missing="EXAM_NOT_FOUND", field="examId")
            row = await voiding.void_exam(
                c.db,
                c.principal,
                exam_id=pk,
                reason=reason,
                idempotency_key=idempotency_key,
                now=c.now(),
            )
            return Exam.from_row(row)

        exam, errors = await attempt(info.context.lang, run())
        return VoidExamPayload(exam=exam, user_errors=errors)

    @strawberry.mutation(description="Forfeit expired lots and send due notices now.")
    async def run_expiry_sweep(self, info: Info) -> RunExpirySweepPayload:
        c = info.context
        report, errors = await attempt(
            info.context.lang, sweep.expiry_sweep(c.db, c.principal, c.now())
        )
        if report is None:
            return RunExpirySweepPayload(user_errors=errors)
        return RunExpirySweepPayload(
            lots_expired=report.lots_expired,
            exams_forfeited=report.exams_forfeited,
            suspensions_noticed=report.suspensions_noticed,
            expiry_warnings=report.expiry_warnings,
            ai_packs_expired=report.ai_packs_expired,
        )
