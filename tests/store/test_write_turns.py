"""SQLite write transactions run on the loop's thread and take turns (store/db.py,
store/sqlite_inline.py): a second writer waits without holding up the loop, a
failed statement rolls its transaction back, and another process's lock is waited
for rather than failing."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from imaging_billing.store.db import Database

from ..support import SqliteTemplate


@pytest.fixture
async def db(sqlite_template: SqliteTemplate) -> AsyncIterator[Database]:
    database = Database(sqlite_template.fresh())
    async with database.write() as conn:
        await conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"))
    yield database
    await database.dispose()


async def _notes(db: Database) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(text("SELECT note FROM probe ORDER BY id"))).scalars())


async def test_writers_take_turns_while_the_loop_keeps_running(db: Database) -> None:
    order: list[str] = []
    first_inside = asyncio.Event()
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    async def first() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO probe (note) VALUES ('first')"))
            first_inside.set()
            before = ticks
            # Suspended inside a write transaction: the loop must keep serving.
            await asyncio.sleep(0.05)
            assert ticks > before
            order.append("first")

    async def second() -> None:
        await first_inside.wait()
        async with db.write() as conn:
            order.append("second")
            await conn.execute(text("INSERT INTO probe (note) VALUES ('second')"))

    tick = asyncio.create_task(ticker())
    await asyncio.wait_for(asyncio.gather(first(), second()), timeout=5)
    tick.cancel()
    assert order == ["first", "second"]
    assert await _notes(db) == ["first", "second"]


async def test_a_failed_statement_rolls_its_transaction_back(db: Database) -> None:
    async def half_written() -> None:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO probe (note) VALUES ('kept?')"))
            await conn.execute(text("INSERT INTO probe (note) VALUES (NULL)"))

    with pytest.raises(IntegrityError):
        await half_written()
    async with db.write() as conn:  # the connection is usable again
        await conn.execute(text("INSERT INTO probe (note) VALUES ('after')"))
    assert await _notes(db) == ["after"]


async def test_another_process_lock_is_waited_for(db: Database) -> None:
    path = Path(db.url.split("///", 1)[1])
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO probe (note) VALUES ('other')")
    release = threading.Timer(0.2, lambda: other.execute("COMMIT"))
    release.start()
    try:
        async with db.write() as conn:
            await conn.execute(text("INSERT INTO probe (note) VALUES ('ours')"))
    finally:
        release.join()
        other.close()
    assert await _notes(db) == ["other", "ours"]
