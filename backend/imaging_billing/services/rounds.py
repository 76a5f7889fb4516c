"""The loop the outbox workers (webhooks, mail) run in the server process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def keep_sending(
    send_round: Callable[[], Awaitable[int]], batch: int, every: float, log: logging.Logger
) -> None:
    """Run rounds for ever: the next at once while rounds fill their batch (a backlog
    drains without waiting), else after `every` seconds. A failed round is logged and
    tried again next period: one bad row or a lost connection must not stop sending."""
    while True:
        try:
            sent = await send_round()
        except Exception:
            log.exception("round failed; retrying next period")
            sent = 0
        if sent < batch:
            await asyncio.sleep(every)
