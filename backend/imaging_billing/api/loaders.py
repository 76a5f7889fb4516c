"""Per-request DataLoaders: a page's nested objects fetched once per kind, not per row.

Each loader batches the keys asked for in one turn of the event loop into one call of
a services read function (scoped to the request's principal) and caches the answer for
the rest of the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from functools import cached_property
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
    """Made when first asked for: most requests (an upload, a mutation) use none, and
    a DataLoader costs its making on every request that holds it."""

    def __init__(self, reader: Reader, now: Callable[[], datetime]) -> None:
        self.reader = reader
        self.now = now

    @cached_property
    def account(self) -> DataLoader[int, AccountRecord | None]:
        return _loader(self.reader, accounts.accounts_by_id)

    @cached_property
    def institution(self) -> DataLoader[int, InstitutionRecord | None]:
        return _loader(self.reader, accounts.institutions_by_id)

    @cached_property
    def agreement(self) -> DataLoader[int, AgreementRecord | None]:
        return _loader(self.reader, accounts.latest_agreements)

    @cached_property
    def lot(self) -> DataLoader[int, LotRecord | None]:
        return _loader(self.reader, exams.lots_by_id)

    @cached_property
    def lots_of_account(self) -> DataLoader[int, list[LotRecord]]:
        return _loader(self.reader, exams.lots_of_accounts)

    @cached_property
    def order(self) -> DataLoader[int, OrderRecord | None]:
        return _loader(self.reader, commerce.orders_by_id)

    @cached_property
    def ai_licences(self) -> DataLoader[int, list[AiLicenceRecord]]:
        return _loader(self.reader, ai.licences_of_institutions)

    @cached_property
    def licences(self) -> DataLoader[int, list[LicenceRecord]]:
        return _loader(self.reader, entitlements.licences_of_institutions)

    @cached_property
    def usage(self) -> DataLoader[tuple[int, int], list[DailyUsage]]:
        """(account, days) -> uploads per day over the last `days` days."""

        async def usage(keys: list[tuple[int, int]]) -> list[list[DailyUsage]]:
            return await exams.usage_of_accounts(self.reader, keys, self.now())

        return DataLoader(load_fn=usage)

    @cached_property
    def rule_lots(self) -> DataLoader[int, list[Lot]]:
        """The same lots as the rules take them (figures, forecast)."""

        async def rule_lots(account_ids: list[int]) -> list[list[Lot]]:
            found = await self.lots_of_account.load_many(account_ids)
            return [exams.rule_lots(rows) for rows in found]

        return DataLoader(load_fn=rule_lots)
