"""Exam reconciliation (检查数据对账): a gateway's call, and the runs people read."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry

from ...services import exam_reconciliation as use_case
from ...services.records import ExamReconciliationRecord
from .. import ids
from ..context import Info
from ..errors import UserError, attempt


def _institution(value: strawberry.ID) -> int:
    return ids.decode(value, "Institution", missing="INSTITUTION_NOT_FOUND", field="institutionId")


@strawberry.type(description="One reconciliation run of a gateway's window of upload time.")
class ExamReconciliation:
    id: strawberry.ID
    ran_at: datetime
    starts_at: datetime = strawberry.field(description="Upload time from (included).")
    ends_at: datetime = strawberry.field(description="Upload time to (excluded).")
    sent: int = strawberry.field(description="Distinct studies the gateway listed.")
    matched: int = strawberry.field(description="Listed studies the ledger holds, not voided.")
    missing_count: int
    unexpected_count: int
    missing: list[str] = strawberry.field(
        description="Listed studies the ledger lacks: the gateway reports them again."
    )
    unexpected: list[str] = strawberry.field(
        description="Studies of the window in the ledger the gateway did not list: for an"
        " operator to look at; nothing is voided."
    )
    voided: list[str] = strawberry.field(
        description="Listed studies the ledger holds voided: the gateway still stores them;"
        " for an operator (re-reporting them draws nothing)."
    )

    @strawberry.field
    def voided_count(self) -> int:
        return len(self.voided)

    @classmethod
    def from_row(cls, row: ExamReconciliationRecord) -> ExamReconciliation:
        return cls(
            id=strawberry.ID(str(ids.encode("ExamReconciliation", row.id))),
            ran_at=row.ran_at,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            sent=row.sent,
            matched=row.matched,
            missing_count=row.missing_count,
            unexpected_count=row.unexpected_count,
            missing=json.loads(row.missing),
            unexpected=json.loads(row.unexpected),
            voided=json.loads(row.voided),
        )


@strawberry.type
class ReconcileExamsPayload:
    reconciliation: ExamReconciliation | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ReconciliationMutation:
    @strawberry.mutation(
        description="A gateway's studies stored in a window of upload time (at most"
        " 10,000; split the window for more) against the ledger; the run is recorded."
    )
    async def reconcile_exams(
        self,
        info: Info,
        institution_id: strawberry.ID,
        starts_at: datetime,
        ends_at: datetime,
        study_instance_uids: list[str],
    ) -> ReconcileExamsPayload:
        c = info.context

        async def run() -> ExamReconciliation:
            row = await use_case.reconcile_exams(
                c.db,
                c.principal,
                institution_id=_institution(institution_id),
                starts_at=starts_at,
                ends_at=ends_at,
                study_uids=study_instance_uids,
                now=c.now(),
            )
            return ExamReconciliation.from_row(row)

        found, errors = await attempt(c.lang, run())
        return ReconcileExamsPayload(reconciliation=found, user_errors=errors)


@strawberry.type
class ReconciliationQuery:
    @strawberry.field(
        description="An institution's latest reconciliation runs (operators, account admins)."
    )
    async def exam_reconciliations(
        self, info: Info, institution_id: strawberry.ID, first: int = 20
    ) -> list[ExamReconciliation]:
        rows = await use_case.runs(info.context.reader, _institution(institution_id), first)
        return [ExamReconciliation.from_row(row) for row in rows]
