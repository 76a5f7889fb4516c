"""Prepaid credit drawn one unit at a time until it expires: exam lots (R-EXAM-2/3) and
AI packs (R-AI-1/2, "as R-EXAM-3") share these rules of remainder, expiry and draw order.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypeVar


class PrepaidCredit:
    """The rules of a lot or a pack; the frozen dataclass using it has these fields.
    `used` counts what was drawn from it."""

    __slots__ = ()
    id: int
    quantity: int
    used: int
    purchased_at: datetime
    expires_at: datetime

    @property
    def remaining(self) -> int:
        return self.quantity - self.used

    def expired(self, now: datetime) -> bool:
        # R-EXAM-2: at the expiry instant itself the remainder is already forfeited.
        return now >= self.expires_at

    def usable(self, now: datetime) -> bool:
        return not self.expired(now) and self.remaining > 0


C = TypeVar("C", bound=PrepaidCredit)


def draw_order(credits: Iterable[C]) -> list[C]:
    """R-EXAM-3, R-AI-2: soonest expiry first; ties by earlier purchase, then lower id."""
    return sorted(credits, key=lambda credit: (credit.expires_at, credit.purchased_at, credit.id))
