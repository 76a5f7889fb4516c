"""The ledger fields of `Account`: entries, notices and the ledger per day."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import strawberry

from ...services.queries import ledger as reads
from ...services.reading import LedgerDay as DaySums
from .. import connections as conn_
from ..connections import Connection
from ..context import Info
from ..enums import LedgerEntryType, NoticeKind
from .types import LedgerEntry, Notice


@strawberry.type(description="Entries of one type on one day and their signed quantity.")
class LedgerTypeSum:
    type: LedgerEntryType
    entries: int
    quantity: int


@strawberry.type(description="One Asia/Shanghai day of the ledger (R-GEN-6).")
class LedgerDay:
    day: date
    entries: int
    quantity: int = strawberry.field(description="Signed sum of the day's entries.")
    by_type: list[LedgerTypeSum]

    @classmethod
    def of(cls, found: DaySums) -> LedgerDay:
        sums = [
            LedgerTypeSum(type=LedgerEntryType(name), entries=count, quantity=total)
            for name, (count, total) in sorted(found.by_type.items())
        ]
        return cls(
            day=found.day,
            entries=sum(s.entries for s in sums),
            quantity=sum(s.quantity for s in sums),
            by_type=sums,
        )


@strawberry.type
class AccountLedgerFields:
    """Mixed into Account; `self.id` is its key."""

    if TYPE_CHECKING:
        id: int

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
        page = await reads.entries_page(
            info.context.reader,
            self.id,
            after_id=start.after_pk,
            offset=start.offset,
            limit=size + 1,
            types=names,
            since=since,
            until=until,
        )
        return conn_.build(page.rows, size, page.total, LedgerEntry.from_row)

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
        page = await reads.notices_page(
            info.context.reader,
            self.id,
            after_id=conn_.after_pk(after),
            limit=size + 1,
            kinds=names,
        )
        return conn_.build(page.rows, size, page.total, Notice.from_row)

    @strawberry.field(
        description="The ledger per Asia/Shanghai day, newest first, in [since, until) "
        "(default: the last 30 days; at most 366). Open a day with `ledger(since, until)`."
    )
    async def ledger_days(
        self,
        info: Info,
        types: list[LedgerEntryType] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[LedgerDay]:
        found = await reads.ledger_days(
            info.context.reader,
            self.id,
            types=[t.value for t in types] if types else None,
            since=since,
            until=until,
            now=info.context.now(),
        )
        return [LedgerDay.of(day) for day in found]
