"""The live console: who follows which account, and what they are told when it changes.

A write transaction that changed accounts reports them once it has committed
(store/db.py `on_commit`); `AccountChanges` wakes the followers of those accounts in
this process and, with several instances on one PostgreSQL database, tells the others
(store/notify.py). A follower re-reads the account through the ordinary scoped reads
and is told only when what it sees differs, at most once per `WINDOW` seconds: a burst
of 3,000 uploads a second is a handful of pushes, not 3,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ..domain import exams as rules
from ..domain.errors import RuleViolation
from ..store.records import AccountRecord, NoticeRecord
from .clock import Clock
from .principals import Principal, Role
from .queries.accounts import accounts_by_id
from .queries.exams import figures, lots_of_accounts, rule_lots
from .queries.ledger import notices_page
from .reader import Database, Reader

log = logging.getLogger(__name__)
WINDOW = 0.25  # seconds: at most one push per follower this often, and one NOTIFY per account
# Seconds: how often a quiet follower checks that its session still holds. A logout
# closes the session's sockets of its own process at once (api/session_sockets.py); this
# recheck is the bound for sockets held by other processes or instances, and for sessions
# ended otherwise (expiry, a disabled person, a password reset).
RECHECK = 30.0


class Relay(Protocol):
    """Carries account ids to the other instances (store/notify.py on PostgreSQL)."""

    async def send(self, account_ids: Iterable[int]) -> None: ...


class AccountChanges:
    """In-process broker: accounts changed -> the followers waiting on them."""

    def __init__(self) -> None:
        self._followers: dict[int, set[asyncio.Event]] = defaultdict(set)
        self._outgoing: set[int] = set()
        self._wake: asyncio.Event | None = None
        self.relay: Relay | None = None

    def committed(self, account_ids: Iterable[int]) -> None:
        """A transaction of this instance committed changes to these accounts."""
        ids = set(account_ids)
        self.heard(ids)
        if self.relay is not None and self._wake is not None:
            self._outgoing |= ids
            self._wake.set()

    def heard(self, account_ids: int | Iterable[int]) -> None:
        """Wake this instance's followers of the accounts."""
        for account_id in [account_ids] if isinstance(account_ids, int) else account_ids:
            for event in self._followers.get(account_id, ()):
                event.set()

    @contextlib.contextmanager
    def follow(self, account_id: int) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._followers[account_id].add(event)
        try:
            yield event
        finally:
            waiting = self._followers[account_id]
            waiting.discard(event)
            if not waiting:
                del self._followers[account_id]

    def heard_all(self) -> None:
        """Changes may have been missed (store/notify.py lost its connection): every
        follower of this instance reads its account again."""
        self.heard(list(self._followers))

    def followers(self, account_id: int) -> int:
        return len(self._followers.get(account_id, ()))

    async def relay_forever(self, relay: Relay, stopping: asyncio.Event) -> None:
        """Send what this instance changed to the others, a batch per `WINDOW` at most."""
        self.relay, self._wake = relay, asyncio.Event()
        try:
            while not stopping.is_set():
                await self._wake.wait()
                self._wake.clear()
                await self._send(relay)
                await asyncio.sleep(WINDOW)
            await self._send(relay)  # what committed during the last pause, before the end
        finally:
            self.relay = self._wake = None

    async def _send(self, relay: Relay) -> None:
        batch, self._outgoing = self._outgoing, set()
        if batch:
            try:
                await relay.send(batch)
            except Exception:
                log.exception("account changes not sent to the other instances")

    def stop(self) -> None:
        if self._wake is not None:
            self._wake.set()


@dataclass(frozen=True)
class AccountView:
    """What a follower is shown: the overview's figures, status and newest notice."""

    account: AccountRecord
    figures: rules.ExamFigures
    status: rules.AccountStatus
    newest_notice: NoticeRecord | None

    def same_as(self, other: AccountView | None) -> bool:
        return (
            other is not None
            and (self.account, self.figures, self.status)
            == (
                other.account,
                other.figures,
                other.status,
            )
            and _notice_id(self.newest_notice) == _notice_id(other.newest_notice)
        )


def _notice_id(row: NoticeRecord | None) -> int | None:
    return row.id if row is not None else None


async def account_view(
    db: Database, principal: Principal, account_id: int, now: datetime
) -> AccountView:
    """The account as the principal may read it, in one snapshot."""
    if principal.role is Role.INSTITUTION:
        raise RuleViolation("FORBIDDEN")  # R-GEN-8: figures and notices are for people
    reader = Reader(db, principal)
    try:
        [row] = await accounts_by_id(reader, [account_id])
        if row is None:
            raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
        [lots] = await lots_of_accounts(reader, [account_id])
        notices = await notices_page(reader, account_id, after_id=None, limit=1, kinds=None)
    finally:
        await reader.close()
    return AccountView(
        account=row,
        figures=figures(row, rule_lots(lots), now),
        status=rules.account_status(row.arrears_since, now),
        newest_notice=notices.rows[0] if notices.rows else None,
    )


async def follow_account(
    db: Database,
    changes: AccountChanges,
    clock: Clock,
    principal: Principal,
    account_id: int,
    signed_in: Callable[[], Awaitable[bool]],
) -> AsyncIterator[AccountView]:
    """The account now, then again each time what the principal sees of it changes.

    Refuses (RuleViolation) an account the principal may not read, like the `account`
    query; raises `SessionEnded` once `signed_in` says the caller's session is over."""
    with changes.follow(account_id) as changed:
        last = await account_view(db, principal, account_id, clock.now())
        yield last
        while True:
            try:
                await asyncio.wait_for(changed.wait(), RECHECK)
            except TimeoutError:
                if not await signed_in():
                    raise SessionEnded from None
                continue
            changed.clear()
            if not await signed_in():
                raise SessionEnded
            view = await account_view(db, principal, account_id, clock.now())
            if not view.same_as(last):
                last = view
                yield view
            # Changes during the window wait for its end, then make one push together.
            await asyncio.sleep(WINDOW)


class SessionEnded(Exception):
    """The follower's session was signed out, revoked or expired."""
