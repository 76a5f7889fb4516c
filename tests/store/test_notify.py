"""Notifications sent from inside a write transaction (store/notify.py) leave with its
commit and never with a rollback: a CLI's account changes (`Database(announce=True)`)
and a revoked institution token's cache entry. PostgreSQL only (SQLite has no channel)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from imaging_billing.services.clock import ManualClock
from imaging_billing.store import accounts, notify
from imaging_billing.store.db import Database

from ..factories import create_account
from ..support import START, make_services


class Boom(Exception):
    pass


async def _rolled_back(db: Database, account_id: int) -> None:
    async with db.write() as conn:
        await accounts.lock_account(conn, account_id)
        await notify.credentials_revoked(conn, 7)
        raise Boom


async def an_account(database_url: str) -> int:
    if database_url.startswith("sqlite"):
        pytest.skip("no channel between processes on SQLite")
    setup = make_services(database_url, ManualClock(START))
    try:
        return await create_account(setup)
    finally:
        await setup.db.dispose()


async def test_a_rollback_tells_nobody_and_a_commit_tells_every_listener(
    database_url: str,
) -> None:
    account_id = await an_account(database_url)
    changed: list[int] = []
    revoked: list[int] = []
    arrived = asyncio.Event()

    def hear(into: list[int]) -> Callable[[int], None]:
        def heard(value: int) -> None:
            into.append(value)
            arrived.set()

        return heard

    listener = notify.PgChannel(database_url, hear(changed), hear(revoked))
    await listener.open()
    cli = Database(database_url, announce=True)  # like the CLI's: nobody listens in it
    try:
        # Given a transaction that changes an account and revokes a token, rolled back
        with pytest.raises(Boom):
            await _rolled_back(cli, account_id)
        # Then nobody hears of it (a commit after it is heard: nothing was queued)
        async with cli.write() as conn:
            await accounts.lock_account(conn, account_id)
            await notify.credentials_revoked(conn, 8)
        await asyncio.wait_for(arrived.wait(), 5)
        await asyncio.sleep(0.2)  # both notifications of the commit, none of the rollback
        assert changed == [account_id]
        assert revoked == [8]
    finally:
        await cli.dispose()
        await listener.close()


async def test_a_listener_whose_connection_is_cut_listens_again_and_says_what_it_missed(
    database_url: str,
) -> None:
    account_id = await an_account(database_url)
    changed: list[int] = []
    missed = asyncio.Event()
    arrived = asyncio.Event()

    def heard(value: int) -> None:
        changed.append(value)
        arrived.set()

    listener = notify.PgChannel(database_url, heard, missed=missed.set)
    await listener.open()
    cli = Database(database_url, announce=True)
    try:
        # Given the database ends the listener's connection (as a restart would)
        async with cli.write() as conn:
            pid = listener._own_pid  # noqa: SLF001 - the backend to end
            await conn.exec_driver_sql("SELECT pg_terminate_backend($1)", (pid,))
        # Then it listens again on a new connection, and says it may have missed changes
        await asyncio.wait_for(missed.wait(), 10)
        assert listener.reopened == 1
        assert listener._own_pid != pid  # noqa: SLF001
        # And a change committed afterwards is heard
        async with cli.write() as conn:
            await accounts.lock_account(conn, account_id)
        await asyncio.wait_for(arrived.wait(), 5)
        assert changed == [account_id]
    finally:
        await cli.dispose()
        await listener.close()
