"""Query cost budgets in the database, for PostgreSQL deployments of several instances:
a budget kept in each process would give N instances N times the budget."""

from __future__ import annotations

from ..store import budgets
from ..store.db import Database

PRUNE_EVERY = 1_000  # charges between two prunes of idle buckets
IDLE_SECONDS = 3_600.0  # far longer than any bucket takes to fill up again


class SharedBuckets:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._charges = 0

    async def charge(
        self, key: str, cost: float, capacity: float, rate: float
    ) -> tuple[bool, float]:
        self._charges += 1
        async with self.db.write() as conn:
            paid = await budgets.charge(conn, key[:200], cost, capacity, rate)
            if self._charges % PRUNE_EVERY == 0:
                await budgets.prune(conn, IDLE_SECONDS)
        return paid
