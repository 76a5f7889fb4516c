"""The exam fields of `Account`: figures, forecast, lots and exams."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import strawberry

from ...domain.steady import next_expiry, next_midnight
from ...services.queries import exams as reads
from ...services.records import AccountRecord
from .. import connections as conn_
from .. import ids
from ..connections import Connection
from ..context import Info
from .types import DailyUsage, Exam, ExamFigures, ExamLot, RunOutEstimate


@strawberry.type
class AccountExamFields:
    """Mixed into Account; `self.id` is its key and `self.row` its record."""

    if TYPE_CHECKING:
        id: int
        row: AccountRecord

    @strawberry.field(description="R-EXAM-4: a study of this account by its UID.")
    async def exam(self, info: Info, study_instance_uid: str) -> Exam | None:
        row = await reads.exam_of_account(info.context.reader, self.id, study_instance_uid)
        return Exam.from_row(row) if row is not None else None

    @strawberry.field(description="Daily uploads, oldest first (for the trend chart).")
    async def daily_usage(self, info: Info, days: int = 90) -> list[DailyUsage]:
        reads.check_usage_days(days)
        series = await info.context.loaders.usage.load((self.id, days))
        info.context.steady.holds_until(next_midnight(info.context.now()))
        return [DailyUsage(day=p.day, exams=p.exams) for p in series]

    @strawberry.field
    async def run_out(self, info: Info) -> RunOutEstimate:
        c = info.context
        # Both asked before either is awaited: the usage joins the chart's in one read.
        lots_asked = c.loaders.rule_lots.load(self.id)
        usage_asked = c.loaders.usage.load((self.id, reads.FORECAST_DAYS))
        account_lots, usage = await lots_asked, await usage_asked
        now = c.now()
        c.steady.holds_until(reads.run_out_changes(account_lots, usage, now))
        return RunOutEstimate.of(reads.run_out(account_lots, usage, now))

    @strawberry.field
    async def exam_figures(self, info: Info) -> ExamFigures:
        c = info.context
        account_lots = await c.loaders.rule_lots.load(self.id)
        now = c.now()
        c.steady.holds_until(next_expiry((lot.expires_at for lot in account_lots), now))
        return ExamFigures(**reads.figures(self.row, account_lots, now).__dict__)

    @strawberry.field(description="Lots by purchase; `includeExpired: false` keeps usable ones.")
    async def lots(
        self, info: Info, first: int, after: str | None = None, include_expired: bool = True
    ) -> Connection[ExamLot]:
        c = info.context
        size = conn_.page_size(first)
        account_lots = await c.loaders.lots_of_account.load(self.id)
        now = c.now()
        c.steady.holds_until(next_expiry((lot.expires_at for lot in account_lots), now))
        page = reads.lots_page(
            account_lots,
            after_id=conn_.after_pk(after),
            limit=size + 1,
            unexpired_at=None if include_expired else now,
        )
        return conn_.build(page.rows, size, page.total, lambda row: ExamLot.from_row(row, now))

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
        page = await reads.exams_page(
            info.context.reader,
            self.id,
            after_id=start.after_pk,
            offset=start.offset,
            limit=size + 1,
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
        return conn_.build(page.rows, size, page.total, Exam.from_row)
