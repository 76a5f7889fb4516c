"""What operators and their probes ask of a running server: is it ready (database
reachable, schema at the code's migration head), accounts by status, the pools' state."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from ..domain.exams import AccountStatus, account_status
from ..store import health
from ..store.db import Database

log = logging.getLogger(__name__)
READY_TIMEOUT = 2.0  # seconds: a probe must answer even when the database hangs


@dataclass(frozen=True)
class Readiness:
    ready: bool
    reason: str  # "ready", or what is wrong (no data: revisions and the failure's kind)


async def readiness(db: Database) -> Readiness:
    head = health.head_revision()
    try:
        async with asyncio.timeout(READY_TIMEOUT), db.read() as conn:
            current = await health.schema_revision(conn)
    except TimeoutError:
        return Readiness(False, "database did not answer")
    except Exception as error:  # unreachable, or never migrated
        log.warning("readiness check failed: %s", type(error).__name__)
        return Readiness(False, "database unreachable or not migrated")
    if current != head:
        return Readiness(False, f"schema at {current}, code expects {head}")
    return Readiness(True, "ready")


async def accounts_by_status(db: Database, now: datetime) -> dict[str, int]:
    async with db.read() as conn:
        clocks = await health.arrears_clocks(conn)
    counts: Counter[str] = Counter({status.value: 0 for status in AccountStatus})
    for since, count in clocks:
        counts[account_status(since, now).value] += count
    return dict(counts)


def pools(db: Database) -> dict[str, dict[str, int]]:
    """Per pool (store/db.py `Database.pools`), each figure by name."""
    return {name: dataclasses.asdict(stats) for name, stats in db.pools().items()}
