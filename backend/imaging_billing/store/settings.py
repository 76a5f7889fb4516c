"""Settings operators keep (the payee): one JSON object of text per key."""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .commerce_tables import setting


async def get_setting(
    conn: AsyncConnection, key: str
) -> tuple[dict[str, str], datetime, str] | None:
    """The value, when and by whom it was last set; None when never set."""
    stmt = sa.select(setting.c.value, setting.c.updated_at, setting.c.updated_by).where(
        setting.c.key == key
    )
    row = (await conn.execute(stmt)).first()
    if row is None:
        return None
    value, updated_at, updated_by = row
    return json.loads(value), updated_at, updated_by


async def put_setting(
    conn: AsyncConnection, key: str, value: dict[str, str], *, now: datetime, actor: str
) -> None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {
        "value": json.dumps(value, ensure_ascii=False),
        "updated_at": now,
        "updated_by": actor,
    }
    stmt = dialect.insert(setting).values(key=key, **values)
    await conn.execute(stmt.on_conflict_do_update(index_elements=[setting.c.key], set_=values))
