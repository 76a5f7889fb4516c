"""A failing statement's error names the statement, never its bound values: tokens,
e-mail addresses and Study Instance UIDs must not reach logs through exceptions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from imaging_billing.store.db import Database
from imaging_billing.store.migrate import upgrade
from imaging_billing.store.tables import account

SECRET = "ib_op_5f3a9c0e-secret@hospital.example"
T0 = datetime(2026, 3, 1, tzinfo=UTC)


async def test_a_failing_write_does_not_echo_its_parameters(database_url: str) -> None:
    # given an account with id 1
    db = Database(database_url)
    async with db.write() as conn:
        await conn.execute(account.insert().values(id=1, name="A", created_at=T0))
    # when a second account with that id, named with a secret, is written
    with pytest.raises(IntegrityError) as raised:
        async with db.write() as conn:
            await conn.execute(account.insert().values(id=1, name=SECRET, created_at=T0))
    await db.dispose()
    # then neither the error nor the driver's error it wraps (a traceback shows both) has it
    assert SECRET not in str(raised.value)
    assert SECRET not in str(raised.value.orig)


async def test_a_failing_read_does_not_echo_its_parameters(database_url: str) -> None:
    # given a statement that fails on the server (no such table) with a secret bound
    db = Database(database_url)
    with pytest.raises(sa.exc.DBAPIError) as raised:
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT * FROM no_such_table WHERE x = :x"), {"x": SECRET})
    await db.dispose()
    # then the error does not show it
    assert SECRET not in str(raised.value)


def test_the_migrations_engine_hides_parameters_too(tmp_path: Path) -> None:
    # given a watch on every engine that connects (Alembic's env.py makes its own)
    seen: list[bool] = []

    def watch(conn: sa.Connection) -> None:
        seen.append(conn.engine.hide_parameters)

    sa.event.listen(sa.Engine, "engine_connect", watch)
    try:
        # when a database is migrated
        upgrade(f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}")
    finally:
        sa.event.remove(sa.Engine, "engine_connect", watch)
    # then the engine that ran the migrations hides bound values
    assert seen
    assert all(seen)
