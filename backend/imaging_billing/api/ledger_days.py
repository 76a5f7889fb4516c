"""The ledger summed per day, for the console's grouped view with drill-down."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from ..services import reading
from .context import Info
from .enums import LedgerEntryType


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
    def of(cls, found: reading.LedgerDay) -> LedgerDay:
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
class AccountLedgerDayFields:
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
        account_id: int = self.id  # type: ignore[attr-defined]
        async with info.context.db.read() as conn:
            found = await reading.ledger_days(
                conn,
                account_id,
                types=[t.value for t in types] if types else None,
                since=since,
                until=until,
                now=info.context.now(),
            )
        return [LedgerDay.of(day) for day in found]
