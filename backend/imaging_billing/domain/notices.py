"""Notices to the business and management platforms (R-ARR-2)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum


class NoticeKind(StrEnum):
    LOW_BALANCE = "LOW_BALANCE"
    ARREARS_STARTED = "ARREARS_STARTED"
    UPLOADS_SUSPENDED = "UPLOADS_SUSPENDED"
    UPLOADS_RESUMED = "UPLOADS_RESUMED"
    LOT_EXPIRING_30D = "LOT_EXPIRING_30D"
    LOT_EXPIRING_7D = "LOT_EXPIRING_7D"
    LOT_EXPIRED = "LOT_EXPIRED"
    AI_PACK_LOW = "AI_PACK_LOW"
    AI_PACK_EXPIRED = "AI_PACK_EXPIRED"


class NoticeTarget(StrEnum):
    BUSINESS = "BUSINESS"
    MANAGEMENT = "MANAGEMENT"


EXPIRY_WARNINGS = (
    (NoticeKind.LOT_EXPIRING_30D, timedelta(days=30), "notified_30d"),
    (NoticeKind.LOT_EXPIRING_7D, timedelta(days=7), "notified_7d"),
)


def notice_rows(
    kind: NoticeKind,
    *,
    account_id: int,
    now: datetime,
    lot_id: int | None = None,
    detail: Mapping[str, object] | None = None,
    key: str | None = None,
) -> list[dict[str, object]]:
    """One row per platform: every notice goes to both (R-ARR-2). A `key` makes the
    notice once-only: a second write with the same key (per platform) writes nothing."""
    text = json.dumps(detail or {}, sort_keys=True, default=str)
    return [
        {
            "key": key,
            "account_id": account_id,
            "kind": kind.value,
            "target": target.value,
            "created_at": now,
            "lot_id": lot_id,
            "detail": text,
        }
        for target in NoticeTarget
    ]


def once_key(kind: NoticeKind, *parts: object) -> str:
    """The unique key of a notice that fires once per thing (a lot, a pack, a crossing)."""
    return ":".join([kind.value, *(str(p) for p in parts)])
