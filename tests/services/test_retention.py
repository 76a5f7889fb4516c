"""Audit retention: records past the period go, younger ones and everything else stay."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.services import retention
from imaging_billing.store import audit
from imaging_billing.store.access_tables import audit_record


def record(at: object, operation: str) -> dict[str, object]:
    return {
        "occurred_at": at,
        "principal": "user:1",
        "role": "OPERATOR",
        "account_id": None,
        "operation": operation,
        "arguments": "{}",
        "result": "ok",
        "request_id": "r",
        "client_address": "127.0.0.1",
    }


async def test_audit_records_are_kept_at_least_180_days(services: Services) -> None:
    now = services.clock.now()
    # given records 10, 179 and 181 days old
    async with services.db.write() as conn:
        await audit.append(
            conn,
            [
                record(now - timedelta(days=10), "recent"),
                record(now - timedelta(days=179), "old"),
                record(now - timedelta(days=181), "older"),
            ],
        )
    # when pruning with a configured 30 days (below the floor of 180)
    removed = await retention.prune(services.db, now, audit_days=30)
    # then only the record past 180 days is gone
    async with services.db.read() as conn:
        left = set((await conn.execute(sa.select(audit_record.c.operation))).scalars())
    assert removed == 1
    assert left == {"recent", "old"}
