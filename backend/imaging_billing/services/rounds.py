"""The loop the outbox workers (webhooks, mail) run in the server process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


async def keep_sending(
    send_round: Callable[[], Awaitable[int]],
    batch: int,
    every: float,
    log: logging.Logger,
    stop: asyncio.Event | None = None,
) -> None:
    """Run rounds until `stop` is set: the next at once while rounds fill their batch (a
    backlog drains without waiting), else after `every` seconds. A failed round is logged
    and tried again next period: one bad row or a lost connection must not stop sending.

    Shutting down sets `stop` rather than cancelling the task: a round cancelled in the
    middle of a database call can leave its connection half-used, and closing the pool
    then waits for it forever."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            sent = await send_round()
        except Exception:
            log.exception("round failed; retrying next period")
            sent = 0
        if sent < batch:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
