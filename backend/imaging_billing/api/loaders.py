"""Per-request DataLoaders: a page's nested objects fetched once per kind, not per row.

Each loader batches the keys asked for in one turn of the event loop into one call of
a services read function (scoped to the request's principal) and caches the answer for
the rest of the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TypeVar

from strawberry.dataloader import DataLoader

from ..domain.exams import Lot
from ..domain.usage import DailyUsage
from ..services.queries import accounts, ai, commerce, entitlements, exams
from ..services.reader import Reader
from ..services.records import (
    AccountRecord,
    AgreementRecord,
    AiLicenceRecord,
    InstitutionRecord,
    LicenceRecord,
    LotRecord,
    OrderRecord,
)

K = TypeVar("K")
V = TypeVar("V")


def _loader(
    reader: Reader, read: Callable[[Reader, Sequence[K]], Awaitable[Sequence[V]]]
) -> DataLoader[K, V]:
    async def load(keys: list[K]) -> Sequence[V]:
        return await read(reader, keys)

    return DataLoader(load_fn=load)


class Loaders:
    def __init__(self, reader: Reader, now: Callable[[], datetime]) -> None:
        self.account: DataLoader[int, AccountRecord | None] = _loader(
            reader, accounts.accounts_by_id
        )
        self.institution: DataLoader[int, InstitutionRecord | None] = _loader(
            reader, accounts.institutions_by_id
        )
        self.agreement: DataLoader[int, AgreementRecord | None] = _loader(
            reader, accounts.latest_agreements
        )
        self.lot: DataLoader[int, LotRecord | None] = _loader(reader, exams.lots_by_id)
        self.lots_of_account: DataLoader[int, list[LotRecord]] = _loader(
            reader, exams.lots_of_accounts
        )
        self.order: DataLoader[int, OrderRecord | None] = _loader(reader, commerce.orders_by_id)
        self.ai_licences: DataLoader[int, list[AiLicenceRecord]] = _loader(
            reader, ai.licences_of_institutions
        )
        self.licences: DataLoader[int, list[LicenceRecord]] = _loader(
            reader, entitlements.licences_of_institutions
        )

        async def usage(keys: list[tuple[int, int]]) -> list[list[DailyUsage]]:
            return await exams.usage_of_accounts(reader, keys, now())

        # (account, days) -> uploads per day over the last `days` days.
        self.usage: DataLoader[tuple[int, int], list[DailyUsage]] = DataLoader(load_fn=usage)

        async def rule_lots(account_ids: list[int]) -> list[list[Lot]]:
            found = await self.lots_of_account.load_many(account_ids)
            return [exams.rule_lots(rows) for rows in found]

        # The same lots as the rules take them (figures, forecast).
        self.rule_lots: DataLoader[int, list[Lot]] = DataLoader(load_fn=rule_lots)
