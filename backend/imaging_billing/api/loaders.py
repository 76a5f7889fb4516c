"""Per-request DataLoaders: a page's nested objects fetched once per kind, not per row.

Each loader batches the keys asked for in one turn of the event loop into one call of
a services read function (scoped to the request's principal) and caches the answer for
the rest of the request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.engine import Row
from strawberry.dataloader import DataLoader

from ..domain.usage import DailyUsage
from ..services.queries import accounts, ai, commerce, entitlements, exams
from ..services.reader import Reader

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
        self.account: DataLoader[int, Row[Any] | None] = _loader(reader, accounts.accounts_by_id)
        self.institution: DataLoader[int, Row[Any] | None] = _loader(
            reader, accounts.institutions_by_id
        )
        self.agreement: DataLoader[int, Row[Any] | None] = _loader(
            reader, accounts.latest_agreements
        )
        self.lot: DataLoader[int, Row[Any] | None] = _loader(reader, exams.lots_by_id)
        self.lots_of_account: DataLoader[int, list[Row[Any]]] = _loader(
            reader, exams.lots_of_accounts
        )
        self.order: DataLoader[int, Row[Any] | None] = _loader(reader, commerce.orders_by_id)
        self.ai_licences: DataLoader[int, list[Row[Any]]] = _loader(
            reader, ai.licences_of_institutions
        )
        self.licences: DataLoader[int, list[Row[Any]]] = _loader(
            reader, entitlements.licences_of_institutions
        )

        async def usage(account_ids: list[int]) -> list[list[DailyUsage]]:
            return await exams.usage_of_accounts(reader, account_ids, now())

        self.usage: DataLoader[int, list[DailyUsage]] = DataLoader(load_fn=usage)
