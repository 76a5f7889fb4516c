"""Operators' lot and exam mutations (R-EXAM-1/2, R-GEN-7). Each returns a payload;
refusals are `userErrors`, never exceptions, and nothing is written when there is one."""

from __future__ import annotations

import strawberry

from ...services import lots, sweep, voiding
from .. import ids
from ..accounts.mutations import account_pk
from ..context import Info
from ..enums import LotMode
from ..errors import UserError, attempt
from .types import Exam, ExamLot


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
class ExamMutation:
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
            return CreditExamLotPayload(
                lot=ExamLot.from_row(result.lot, c.now()), settled=result.settled
            )

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
