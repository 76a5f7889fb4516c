"""The subscription root: `accountChanged`, served over WebSocket by api/live.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

import strawberry
from starlette.websockets import WebSocket
from strawberry.utils.aio import aclosing

from ..domain import exams as rules
from ..services import live
from . import ids
from .context import Context, Info
from .enums import AccountStatus
from .exams.types import ExamFigures
from .ledger.types import Notice

UNAUTHENTICATED = 4401  # graphql-ws: a fatal close, the client does not reconnect


@strawberry.type(description="What the console's overview shows of an account, as it is now.")
class AccountChange:
    account_id: strawberry.ID
    status: AccountStatus
    arrears_since: datetime | None
    suspends_at: datetime | None
    low_balance_threshold: int
    exam_figures: ExamFigures
    newest_notice: Notice | None = strawberry.field(description="R-ARR-2: the latest notice.")

    @classmethod
    def of(cls, view: live.AccountView) -> AccountChange:
        row = view.account
        return cls(
            account_id=strawberry.ID(str(ids.encode("Account", row.id))),
            status=view.status,
            arrears_since=row.arrears_since,
            suspends_at=rules.suspends_at(row.arrears_since),
            low_balance_threshold=rules.low_balance_threshold(
                row.low_balance_threshold, row.last_lot_quantity
            ),
            exam_figures=ExamFigures(**view.figures.__dict__),
            newest_notice=Notice.from_row(view.newest_notice) if view.newest_notice else None,
        )


@dataclass
class LiveContext(Context):
    """One socket's context: the principal is the one of its handshake."""

    websocket: WebSocket | None = None
    signed_in: Callable[[], Awaitable[bool]] | None = None
    connection_params: dict[str, object] | None = None  # set by Strawberry at connection_init


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="The account now, then again whenever its figures, status or newest "
        "notice change (at most a few times a second). Over WebSocket (graphql-transport-ws)."
    )
    async def account_changed(
        self, info: Info, account_id: strawberry.ID
    ) -> AsyncGenerator[AccountChange, None]:
        context = cast(LiveContext, info.context)
        services = context.services
        pk = ids.decode(account_id, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId")
        signed_in = context.signed_in or _always
        following = live.follow_account(
            services.db, services.changes, services.clock, context.principal, pk, signed_in
        )
        try:
            async with aclosing(following):
                async for view in following:
                    yield AccountChange.of(view)
        except live.SessionEnded:
            if context.websocket is not None:
                # Already closed when `logout` closed it from this process first.
                with contextlib.suppress(RuntimeError):
                    await context.websocket.close(UNAUTHENTICATED, "UNAUTHENTICATED: signed out")
            # The socket is closed: wait to be cancelled with it rather than complete.
            await asyncio.Event().wait()


async def _always() -> bool:
    return True
