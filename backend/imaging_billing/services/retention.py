"""Retention: audit records older than the configured period (default 400 days, at
least 180) and login failures older than a day are removed; nothing else ever is."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..store import access, audit
from ..store.db import Database

MIN_AUDIT_DAYS = 180


async def prune(db: Database, now: datetime, audit_days: int) -> int:
    days = max(audit_days, MIN_AUDIT_DAYS)
    async with db.write() as conn:
        removed = await audit.prune(conn, now - timedelta(days=days))
        await access.prune_failures(conn, now - timedelta(days=1))
    return removed
