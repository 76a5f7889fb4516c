"""A fresh, migrated SQLite database seeded through the real services.

Both sides of a benchmark start from a file built here: the project's own
migrations (so the baseline runs on the very same schema and indexes) and one
account with an institution and ample lots.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from imaging_billing.api.ids import encode
from imaging_billing.domain.exams import LotMode, lot_terms
from imaging_billing.domain.ledger import Cause
from imaging_billing.services import accounts as account_cases
from imaging_billing.services import settlement
from imaging_billing.services.clock import SystemClock
from imaging_billing.store.db import Database
from imaging_billing.store.migrate import upgrade

LOTS = 10
LOT_QUANTITY = 1_000_000


@dataclass(frozen=True)
class Seeded:
    path: Path
    account_id: int
    institution_pk: int
    token: str

    @property
    def url(self) -> str:
        return f"sqlite+aiosqlite:///{self.path}"

    @property
    def institution_id(self) -> str:
        """The institution's global ID, as a gateway sends and signs it."""
        return str(encode("Institution", self.institution_pk))


async def seed_async(url: str, *, lots: int = LOTS, quantity: int = LOT_QUANTITY) -> Seeded:
    """One account, one institution, `lots` VOLUME lots; inside Database.write()."""
    db = Database(url)
    now = SystemClock().now()
    try:
        async with db.write() as conn:
            account_id = await account_cases.create_account(conn, name="Bench Hospital", now=now)
            issued = await account_cases.create_institution(
                conn, account_id=account_id, name="Bench gateway", now=now
            )
            for _ in range(lots):
                await settlement.credit_exam_lot(
                    conn,
                    account_id=account_id,
                    terms=lot_terms(LotMode.VOLUME, quantity, None),
                    now=now,
                    actor="bench",
                    cause=Cause.OPERATOR,
                )
    finally:
        await db.dispose()
    path = Path(url.split(":///", 1)[1])
    return Seeded(path, account_id, issued.institution_id, issued.token)


def fresh_database(path: Path, *, lots: int = LOTS, quantity: int = LOT_QUANTITY) -> Seeded:
    """Migrate a new file at `path` with the project's migrations, then seed it."""
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return asyncio.run(seed_async(url, lots=lots, quantity=quantity))
