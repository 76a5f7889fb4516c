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
from imaging_billing.security import KeyBox
from imaging_billing.services.clock import SystemClock
from imaging_billing.services.steps.accounts import add_account, add_institution
from imaging_billing.services.steps.lots import credit_lot
from imaging_billing.store.db import Database
from imaging_billing.store.migrate import upgrade

LOTS = 10
LOT_QUANTITY = 1_000_000
# The project's server secret in benchmark runs (launcher.py serves with the same one).
SERVER_SECRET = "bench-server-secret-0123456789"


@dataclass(frozen=True)
class Gateway:
    """An institution's credentials, as its imaging gateway holds them."""

    pk: int
    token: str

    @property
    def id(self) -> str:
        """The institution's global ID, as a gateway sends and signs it."""
        return str(encode("Institution", self.pk))


@dataclass(frozen=True)
class Seeded:
    path: Path
    account_id: int
    gateways: tuple[Gateway, ...]
    database_url: str | None = None  # PostgreSQL; None: the SQLite file at `path`

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.path}"


async def seed_async(
    url: str, *, lots: int = LOTS, quantity: int = LOT_QUANTITY, institutions: int = 1
) -> Seeded:
    """One account with `institutions` institutions and `lots` VOLUME lots, through the
    real services inside Database.write()."""
    db = Database(url)
    now = SystemClock().now()
    try:
        async with db.write() as conn:
            account_id = await add_account(conn, name="Bench Hospital", now=now)
            gateways = []
            for n in range(institutions):
                issued = await add_institution(
                    conn,
                    account_id=account_id,
                    name=f"Bench gateway {n + 1}",
                    now=now,
                    keys=KeyBox(SERVER_SECRET),
                )
                gateways.append(Gateway(issued.institution_id, issued.token))
            for _ in range(lots):
                await credit_lot(
                    conn,
                    account_id=account_id,
                    terms=lot_terms(LotMode.VOLUME, quantity, None),
                    now=now,
                    actor="bench",
                    cause=Cause.OPERATOR,
                )
    finally:
        await db.dispose()
    # PostgreSQL has no file: Path() (the baseline, raw sqlite3, never runs on it).
    if ":///" in url:
        return Seeded(Path(url.split(":///", 1)[1]), account_id, tuple(gateways))
    return Seeded(Path(), account_id, tuple(gateways), database_url=url)


def fresh_database(path: Path, *, institutions: int = 1) -> Seeded:
    """Migrate a new file at `path` with the project's migrations, then seed it."""
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    return asyncio.run(seed_async(url, institutions=institutions))
