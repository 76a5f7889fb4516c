"""Cloud-exam lots, exams, figures and forecasts (R-EXAM-*, R-ARR-5, R-GEN-9)."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay

from ...domain import exams as rules
from ...domain.usage import RunOut
from ...services.records import ExamRecord, LotRecord
from .. import ids
from ..context import Info
from ..enums import LotMode, RunOutReason

if TYPE_CHECKING:
    from ..accounts.types import Institution


@strawberry.type(description="R-EXAM-6: bought = available + used + expired.")
class ExamFigures:
    available: int
    used: int
    arrears: int
    expired: int
    bought: int


@strawberry.type(description="A cloud-exam lot (R-EXAM-1/2).")
class ExamLot(relay.Node):
    id: relay.NodeID[int]
    mode: LotMode
    quantity: int
    used: int
    storage_years: int
    purchased_at: datetime
    expires_at: datetime
    contract_ref: str | None
    # Plain values, worked out from the lot when it is built: the overview lists 20
    # lots, and a field with a resolver costs far more than one read as an attribute
    # (api/leaves.py). `now` is the request's, read when the lot is built.
    expired: bool = strawberry.field(description="True from the expiry instant on (R-EXAM-2).")
    remaining: int = strawberry.field(description="Usable remainder; 0 once expired.")
    forfeited: int = strawberry.field(
        description="Forfeited at expiry (R-EXAM-2), swept or not yet."
    )
    row: strawberry.Private[LotRecord]

    @classmethod
    def from_row(cls, row: LotRecord, now: datetime) -> ExamLot:
        expired = bool(now >= row.expires_at)
        left = row.quantity - row.used
        return cls(
            id=row.id,
            mode=LotMode(row.mode),
            quantity=row.quantity,
            used=row.used,
            storage_years=row.storage_years,
            purchased_at=row.purchased_at,
            expires_at=row.expires_at,
            contract_ref=row.contract_ref,
            expired=expired,
            remaining=0 if expired else left,
            forfeited=left if expired else 0,
            row=row,
        )


@strawberry.type(description="One uploaded study (R-EXAM-4/5).")
class Exam(relay.Node):
    id: relay.NodeID[int]
    study_instance_uid: str
    uploaded_at: datetime
    recorded_at: datetime
    covered_at: datetime | None
    storage_ends_at: datetime | None = strawberry.field(
        description="R-EXAM-5; null while the exam is in arrears."
    )
    voided_at: datetime | None
    void_reason: str | None
    row: strawberry.Private[ExamRecord]

    @classmethod
    def from_row(cls, row: ExamRecord) -> Exam:
        return cls(
            id=row.id,
            study_instance_uid=row.study_uid,
            uploaded_at=row.uploaded_at,
            recorded_at=row.recorded_at,
            covered_at=row.covered_at,
            storage_ends_at=row.storage_ends_at,
            voided_at=row.voided_at,
            void_reason=row.void_reason,
            row=row,
        )

    @strawberry.field(description="Uploaded while nothing was available, not yet covered.")
    def in_arrears(self) -> bool:
        return self.row.lot_id is None and self.voided_at is None

    @strawberry.field(description="R-ARR-3: may this exam still be viewed and downloaded?")
    def viewable(self, info: Info) -> bool:
        return rules.exam_viewable(
            voided=self.voided_at is not None,
            covered=self.row.lot_id is not None,
            storage_end=self.storage_ends_at,
            now=info.context.now(),
        )

    @strawberry.field
    async def lot(self, info: Info) -> ExamLot | None:
        if self.row.lot_id is None:
            return None
        row = await info.context.loaders.lot.load(self.row.lot_id)
        return ExamLot.from_row(row, info.context.now()) if row is not None else None

    @strawberry.field
    async def institution(
        self, info: Info
    ) -> Annotated[Institution, strawberry.lazy("imaging_billing.api.accounts.types")]:
        from ..accounts.types import Institution

        row = await info.context.loaders.institution.load(self.row.institution_id)
        assert row is not None  # an exam the principal sees is of an institution it sees
        return Institution.from_row(row)


@strawberry.type(description="R-ARR-5: may this institution upload now?")
class UploadPermission:
    allowed: bool
    reason: str | None = strawberry.field(description="The rule code when refused.")
    suspends_at: datetime | None


@strawberry.type(description="Exams recorded on one Asia/Shanghai day.")
class DailyUsage:
    day: date
    exams: int


def _lot_id(root: LotForecast) -> strawberry.ID:
    return strawberry.ID(str(ids.encode("ExamLot", root.pk)))


@strawberry.type(description="R-GEN-9: a lot's remainder projected to be forfeited at expiry.")
class LotForecast:
    pk: strawberry.Private[int]
    # Encoded when asked: the overview lists every usable lot and asks for none.
    lot_id: strawberry.ID = strawberry.field(resolver=_lot_id)
    expires_at: datetime
    projected_forfeit: int


@strawberry.type(
    description="R-GEN-9: the usable lots walked in draw order at the last 30 days' pace."
)
class RunOutEstimate:
    average_daily: float
    reason: RunOutReason
    at: datetime | None = strawberry.field(
        description="The first moment nothing is available; null when nothing is drawn."
    )
    days_left: int | None = strawberry.field(description="Asia/Shanghai days until `on`.")
    on: date | None = strawberry.field(description="The Asia/Shanghai day of `at`.")
    projected_forfeit_total: int
    lots: list[LotForecast] = strawberry.field(description="Usable lots, in draw order.")

    @classmethod
    def of(cls, found: RunOut) -> RunOutEstimate:
        return cls(
            average_daily=found.average_daily,
            reason=found.reason,
            at=found.at,
            days_left=found.days_left,
            on=found.on,
            projected_forfeit_total=found.projected_forfeit_total,
            lots=[
                LotForecast(
                    pk=lot.lot_id,
                    expires_at=lot.expires_at,
                    projected_forfeit=lot.projected_forfeit,
                )
                for lot in found.lots
            ],
        )
