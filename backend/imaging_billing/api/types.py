"""GraphQL object types, built from store rows (never the table classes themselves)."""

from __future__ import annotations

import json
from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from ..domain import exams as rules
from ..domain.usage import RunOut
from ..services import reading
from ..store import accounts, exams, ledger, lots, notices
from . import connections as conn_
from . import ids
from .access import AccountAccessFields
from .ai import AccountAiFields, InstitutionAiFields
from .commerce_fields import AccountCommerceFields
from .connections import Connection
from .context import Info
from .entitlements import AccountEntitlementFields, InstitutionEntitlementFields
from .enums import (
    AccountStatus,
    LedgerEntryType,
    LotMode,
    NoticeKind,
    NoticeTarget,
    RunOutReason,
)
from .ledger_days import AccountLedgerDayFields


@strawberry.type(description="R-EXAM-6: bought = available + used + expired.")
class ExamFigures:
    available: int
    used: int
    arrears: int
    expired: int
    bought: int


@strawberry.type(description="R-GEN-2: the signed offline cooperation agreement.")
class Agreement(relay.Node):
    id: relay.NodeID[int]
    number: str
    signed_on: date
    channel_partner: str
    recorded_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Agreement:
        return cls(
            id=row.id,
            number=row.number,
            signed_on=row.signed_on,
            channel_partner=row.channel_partner,
            recorded_at=row.recorded_at,
        )


@strawberry.enum
class TokenState(Enum):
    ACTIVE = "ACTIVE"
    ROTATING = "ROTATING"  # the previous token still works until previousValidUntil
    REVOKED = "REVOKED"


@strawberry.type(description="The institution's API token, never the token itself.")
class InstitutionToken:
    state: TokenState
    previous_valid_until: datetime | None
    revoked_at: datetime | None


@strawberry.type
class Institution(InstitutionAiFields, InstitutionEntitlementFields, relay.Node):
    id: relay.NodeID[int]
    name: str
    created_at: datetime
    account_id: strawberry.Private[int]
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> Institution:
        return cls(
            id=row.id, name=row.name, created_at=row.created_at, account_id=row.account_id, row=row
        )

    @strawberry.field
    def token(self, info: Info) -> InstitutionToken:
        row = self.row
        if row.token_revoked_at is not None:
            state = TokenState.REVOKED
        elif row.previous_valid_until is not None and info.context.now() < row.previous_valid_until:
            state = TokenState.ROTATING
        else:
            state = TokenState.ACTIVE
        return InstitutionToken(
            state=state,
            previous_valid_until=row.previous_valid_until if state is TokenState.ROTATING else None,
            revoked_at=row.token_revoked_at,
        )

    @strawberry.field
    async def account(self, info: Info) -> Account:
        async with info.context.db.read() as conn:
            row = await accounts.get_account(conn, self.account_id)
        return Account.from_row(row)


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
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> ExamLot:
        return cls(
            id=row.id,
            mode=LotMode(row.mode),
            quantity=row.quantity,
            used=row.used,
            storage_years=row.storage_years,
            purchased_at=row.purchased_at,
            expires_at=row.expires_at,
            contract_ref=row.contract_ref,
            row=row,
        )

    @strawberry.field(description="True from the expiry instant on (R-EXAM-2).")
    def expired(self, info: Info) -> bool:
        return bool(info.context.now() >= self.expires_at)

    @strawberry.field(description="Usable remainder; 0 once expired.")
    def remaining(self, info: Info) -> int:
        return 0 if self.expired(info) else self.quantity - self.used

    @strawberry.field(description="Forfeited at expiry (R-EXAM-2), swept or not yet.")
    def forfeited(self, info: Info) -> int:
        return self.quantity - self.used if self.expired(info) else 0


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
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> Exam:
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
        async with info.context.db.read() as conn:
            row = await lots.get_lot(conn, self.row.lot_id)
        return ExamLot.from_row(row) if row is not None else None

    @strawberry.field
    async def institution(self, info: Info) -> Institution:
        async with info.context.db.read() as conn:
            row = await accounts.get_institution(conn, self.row.institution_id)
        return Institution.from_row(row)


@strawberry.type(description="An append-only ledger entry (R-GEN-7).")
class LedgerEntry(relay.Node):
    id: relay.NodeID[int]
    type: LedgerEntryType
    quantity: int = strawberry.field(
        description="Signed: the lot's remainder change, or the arrears change when no lot."
    )
    occurred_at: datetime
    cause: str
    actor: str
    reason: str | None
    lot_id: relay.GlobalID | None
    exam_id: relay.GlobalID | None

    @classmethod
    def from_row(cls, row: Any) -> LedgerEntry:
        return cls(
            id=row.id,
            type=LedgerEntryType(row.type),
            quantity=row.quantity,
            occurred_at=row.occurred_at,
            cause=row.cause,
            actor=row.actor,
            reason=row.reason,
            lot_id=relay.GlobalID("ExamLot", str(row.lot_id)) if row.lot_id else None,
            exam_id=relay.GlobalID("Exam", str(row.exam_id)) if row.exam_id else None,
        )


@strawberry.type(description="R-ARR-2: a notice to the business or management platform.")
class Notice(relay.Node):
    id: relay.NodeID[int]
    kind: NoticeKind
    target: NoticeTarget
    created_at: datetime
    detail: JSON
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> Notice:
        return cls(
            id=row.id,
            kind=NoticeKind(row.kind),
            target=NoticeTarget(row.target),
            created_at=row.created_at,
            detail=json.loads(row.detail),
            delivered_at=row.delivered_at,
        )


@strawberry.type(description="R-ARR-5: may this institution upload now?")
class UploadPermission:
    allowed: bool
    reason: str | None = strawberry.field(description="The rule code when refused.")
    suspends_at: datetime | None


@strawberry.type(description="Exams recorded on one Asia/Shanghai day.")
class DailyUsage:
    day: date
    exams: int


@strawberry.type(description="R-GEN-9: a lot's remainder projected to be forfeited at expiry.")
class LotForecast:
    lot_id: strawberry.ID
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
                    lot_id=strawberry.ID(str(ids.encode("ExamLot", lot.lot_id))),
                    expires_at=lot.expires_at,
                    projected_forfeit=lot.projected_forfeit,
                )
                for lot in found.lots
            ],
        )


@strawberry.type
class Account(
    AccountAiFields,
    AccountEntitlementFields,
    AccountCommerceFields,
    AccountAccessFields,
    AccountLedgerDayFields,
    relay.Node,
):
    id: relay.NodeID[int]
    name: str
    created_at: datetime
    arrears_since: datetime | None = strawberry.field(description="R-ARR-1: the arrears clock.")
    row: strawberry.Private[Any]

    @classmethod
    def from_row(cls, row: Any) -> Account:
        return cls(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            arrears_since=row.arrears_since,
            row=row,
        )

    @strawberry.field
    def status(self, info: Info) -> AccountStatus:
        return AccountStatus(rules.account_status(self.arrears_since, info.context.now()))

    @strawberry.field(description="R-ARR-3: when uploads stop unless arrears are settled.")
    def suspends_at(self) -> datetime | None:
        return rules.suspends_at(self.arrears_since)

    @strawberry.field(description="R-ARR-2: the low-balance notice threshold in force.")
    def low_balance_threshold(self) -> int:
        return rules.low_balance_threshold(
            self.row.low_balance_threshold, self.row.last_lot_quantity
        )

    @strawberry.field(description="R-EXAM-4: a study of this account by its UID.")
    async def exam(self, info: Info, study_instance_uid: str) -> Exam | None:
        async with info.context.db.read() as conn:
            row = await exams.by_uid(conn, self.id, study_instance_uid)
        return Exam.from_row(row) if row is not None else None

    @strawberry.field(description="Daily uploads, oldest first (for the trend chart).")
    async def daily_usage(self, info: Info, days: int = 90) -> list[DailyUsage]:
        async with info.context.db.read() as conn:
            series = await reading.daily_usage(conn, self.id, info.context.now(), days)
        return [DailyUsage(day=p.day, exams=p.exams) for p in series]

    @strawberry.field
    async def run_out(self, info: Info) -> RunOutEstimate:
        async with info.context.db.read() as conn:
            found = await reading.run_out_estimate(conn, self.row, info.context.now())
        return RunOutEstimate.of(found)

    @strawberry.field
    async def exam_figures(self, info: Info) -> ExamFigures:
        async with info.context.db.read() as conn:
            figures = await reading.exam_figures(conn, self.row, info.context.now())
        return ExamFigures(**figures.__dict__)

    @strawberry.field
    async def agreement(self, info: Info) -> Agreement | None:
        async with info.context.db.read() as conn:
            row = await accounts.latest_agreement(conn, self.id)
        return Agreement.from_row(row) if row is not None else None

    @strawberry.field
    async def institutions(
        self, info: Info, first: int, after: str | None = None
    ) -> Connection[Institution]:
        size = conn_.page_size(first)
        async with info.context.db.read() as conn:
            rows = await accounts.page_institutions(
                conn, self.id, after_id=conn_.after_pk(after), limit=size + 1
            )
            total = await accounts.count_institutions(conn, self.id)
        return conn_.build(rows, size, total, Institution.from_row)

    @strawberry.field(description="Lots by purchase; `includeExpired: false` keeps usable ones.")
    async def lots(
        self, info: Info, first: int, after: str | None = None, include_expired: bool = True
    ) -> Connection[ExamLot]:
        size = conn_.page_size(first)
        unexpired_at = None if include_expired else info.context.now()
        async with info.context.db.read() as conn:
            rows = await lots.page_lots(
                conn,
                self.id,
                after_id=conn_.after_pk(after),
                limit=size + 1,
                unexpired_at=unexpired_at,
            )
            total = await lots.count_lots(conn, self.id, unexpired_at=unexpired_at)
        return conn_.build(rows, size, total, ExamLot.from_row)

    @strawberry.field(
        description="Newest first; filter by type and [since, until). `after` also takes a "
        "position cursor (a numbered page; see ExamConnection)."
    )
    async def ledger(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        types: list[LedgerEntryType] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Connection[LedgerEntry]:
        size = conn_.page_size(first)
        names = [t.value for t in types] if types else None
        start = conn_.start_of(after)
        async with info.context.db.read() as conn:
            rows = await ledger.page_entries(
                conn,
                self.id,
                after_id=start.after_pk,
                offset=start.offset,
                limit=size + 1,
                types=names,
                since=since,
                until=until,
            )
            total = await ledger.count_entries(conn, self.id, types=names, since=since, until=until)
        return conn_.build(rows, size, total, LedgerEntry.from_row)

    @strawberry.field(description="Newest first.")
    async def notices(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        kinds: list[NoticeKind] | None = None,
    ) -> Connection[Notice]:
        size = conn_.page_size(first)
        names = [k.value for k in kinds] if kinds else None
        async with info.context.db.read() as conn:
            rows = await notices.page_notices(
                conn, self.id, after_id=conn_.after_pk(after), limit=size + 1, kinds=names
            )
            total = await notices.count_notices(conn, self.id, names)
        return conn_.build(rows, size, total, Notice.from_row)

    @strawberry.field(
        description="Uploaded exams, newest first; `since`/`until` bound the upload time, "
        "`institutionId` narrows to one site. `after` takes the edges' cursors or a position "
        "cursor (base64 of `o:<n>`, n the 0-based row before the page) to open page N."
    )
    async def exams(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        institution_id: strawberry.ID | None = None,
    ) -> Connection[Exam]:
        size = conn_.page_size(first)
        start = conn_.start_of(after)
        narrow = exams.ExamFilter(
            institution_id=ids.decode(
                institution_id,
                "Institution",
                missing="INSTITUTION_NOT_FOUND",
                field="institutionId",
            )
            if institution_id is not None
            else None,
            since=since,
            until=until,
        )
        async with info.context.db.read() as conn:
            rows = await exams.page_exams(
                conn,
                self.id,
                after_id=start.after_pk,
                offset=start.offset,
                limit=size + 1,
                narrow=narrow,
            )
            total = await exams.count_exams(conn, self.id, narrow)
        return conn_.build(rows, size, total, Exam.from_row)
