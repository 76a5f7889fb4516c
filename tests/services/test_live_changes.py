"""The live console's broker: followers hear of an account's change once its write
transaction has committed, never of one rolled back (services/live.py, store/db.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest

from imaging_billing.api.context import Services
from imaging_billing.domain.errors import RuleViolation
from imaging_billing.services import live
from imaging_billing.services.principals import Principal, Role
from imaging_billing.store import accounts

from ..factories import create_account, credit_lot

OPERATOR = Principal(Role.OPERATOR, 1, "ops")


async def locked_then_rolled_back(services: Services, account_id: int) -> None:
    async with services.db.write() as conn:
        await accounts.lock_account(conn, account_id)
        raise RuntimeError("rolled back")


async def test_a_follower_hears_of_a_committed_change_only(services: Services) -> None:
    # Given a follower of an account
    account_id = await create_account(services)
    with services.changes.follow(account_id) as changed:
        # When a transaction locks the account and rolls back
        with pytest.raises(RuntimeError):
            await locked_then_rolled_back(services, account_id)
        # Then the follower heard nothing
        assert not changed.is_set()
        # When a lot is credited (a committed change)
        await credit_lot(services, account_id)
        # Then it is woken
        assert changed.is_set()
    assert services.changes.followers(account_id) == 0


async def test_following_shows_the_account_then_its_changes(services: Services) -> None:
    # Given an operator following an account with one lot
    account_id = await create_account(services)
    await credit_lot(services, account_id, quantity=10_000)

    async def signed_in() -> bool:
        return True

    following = live.follow_account(
        services.db, services.changes, services.clock, OPERATOR, account_id, signed_in
    )
    first = await anext(following)
    assert first.figures.available == 10_000
    # When another lot is credited
    await credit_lot(services, account_id, quantity=20_000)
    # Then the next view shows it
    second = await asyncio.wait_for(anext(following), 5)
    assert second.figures.available == 30_000
    await following.aclose()


async def test_an_account_of_another_is_refused(services: Services) -> None:
    mine = await create_account(services, name="Mine")
    other = await create_account(services, name="Other")
    admin = Principal(Role.ACCOUNT_ADMIN, 7, "admin", account_id=mine)
    with pytest.raises(RuleViolation) as refused:
        await live.account_view(services.db, admin, other, services.clock.now())
    assert refused.value.code == "ACCOUNT_NOT_FOUND"


class Sent:
    """Stands in for store/notify.py's channel (its own tests use a real PostgreSQL):
    records what would be sent to the other instances."""

    def __init__(self) -> None:
        self.batches: list[set[int]] = []
        self.arrived = asyncio.Event()

    async def send(self, account_ids: Iterable[int]) -> None:
        self.batches.append(set(account_ids))
        self.arrived.set()


async def test_changes_committed_during_the_last_pause_are_sent_before_the_relay_ends(
    services: Services,
) -> None:
    sent, stopping = Sent(), asyncio.Event()
    relay = asyncio.create_task(services.changes.relay_forever(sent, stopping))
    await asyncio.sleep(0)  # the relay is listening
    # Given a change sent at once, and the relay pausing after it (live.WINDOW)
    services.changes.committed([1])
    await asyncio.wait_for(sent.arrived.wait(), 5)
    # When another commits during that pause and the server then stops
    services.changes.committed([2])
    stopping.set()
    services.changes.stop()
    await asyncio.wait_for(relay, 5)
    # Then the other instances were told of both
    assert sent.batches == [{1}, {2}]
