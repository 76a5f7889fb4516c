"""One statement charges a shared budget: fill the bucket for the time since it was last
filled (capped), then take the cost if it is there. The row lock of the upsert orders
concurrent charges of one payer; nothing else is locked, no advisory lock is taken."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

# Built once; `now` is the database's clock, so every instance refills at one rate.
_NOW = "extract(epoch from clock_timestamp())::float8"
_COST, _CAPACITY, _RATE = "(:cost)::float8", "(:capacity)::float8", "(:rate)::float8"
_RESTORED = (
    f"least({_CAPACITY}, b.available + greatest(0, excluded.updated_at - b.updated_at) * {_RATE})"
)
_CHARGE = sa.text(
    f"""
    INSERT INTO query_budget AS b (key, available, updated_at, granted)
    VALUES (:key,
            CASE WHEN {_COST} <= {_CAPACITY} THEN {_CAPACITY} - {_COST} ELSE {_CAPACITY} END,
            {_NOW}, {_COST} <= {_CAPACITY})
    ON CONFLICT (key) DO UPDATE SET
        available = CASE WHEN {_RESTORED} >= {_COST} THEN {_RESTORED} - {_COST}
                         ELSE {_RESTORED} END,
        granted = {_RESTORED} >= {_COST},
        updated_at = greatest(b.updated_at, excluded.updated_at)
    RETURNING granted, available
    """
)
# A budget lost in a crash costs nothing (the bucket starts full again): the charge's
# commit need not wait for its WAL to reach the disk.
_NO_FSYNC = sa.text("SET LOCAL synchronous_commit TO OFF")
_PRUNE = sa.text(f"DELETE FROM query_budget WHERE updated_at < {_NOW} - (:idle)::float8")


async def charge(
    conn: AsyncConnection, key: str, cost: float, capacity: float, rate: float
) -> tuple[bool, float]:
    """(paid, what is left) after charging `cost` to `key`'s bucket (PostgreSQL)."""
    await conn.execute(_NO_FSYNC)
    params = {"key": key, "cost": float(cost), "capacity": float(capacity), "rate": float(rate)}
    row = (await conn.execute(_CHARGE, params)).one()
    return bool(row[0]), float(row[1])


async def prune(conn: AsyncConnection, idle_seconds: float) -> int:
    """Forget buckets idle long enough to be full again: a missing row is a full one."""
    result = await conn.execute(_PRUNE, {"idle": float(idle_seconds)})
    return int(getattr(result, "rowcount", 0) or 0)
