"""Ledger entries and notices (R-GEN-7, R-ARR-2)."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from ...services.records import LedgerEntryRecord, NoticeRecord
from ..enums import LedgerEntryType, NoticeKind, NoticeTarget


@strawberry.type(description="An append-only ledger entry (R-GEN-7).")
class LedgerEntry(relay.Node):
    id: relay.NodeID[int]
    type: LedgerEntryType
    quantity: int = strawberry.field(
        description="Signed: the lot's remainder change, or the arrears change when no lot."
    )
    occurred_at: datetime
    cause: str
    actor: str
    reason: str | None
    lot_id: relay.GlobalID | None
    exam_id: relay.GlobalID | None

    @classmethod
    def from_row(cls, row: LedgerEntryRecord) -> LedgerEntry:
        return cls(
            id=row.id,
            type=LedgerEntryType(row.type),
            quantity=row.quantity,
            occurred_at=row.occurred_at,
            cause=row.cause,
            actor=row.actor,
            reason=row.reason,
            lot_id=relay.GlobalID("ExamLot", str(row.lot_id)) if row.lot_id else None,
            exam_id=relay.GlobalID("Exam", str(row.exam_id)) if row.exam_id else None,
        )


@strawberry.type(description="R-ARR-2: a notice to the business or management platform.")
class Notice(relay.Node):
    id: relay.NodeID[int]
    kind: NoticeKind
    target: NoticeTarget
    created_at: datetime
    detail: JSON
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: NoticeRecord) -> Notice:
        return cls(
            id=row.id,
            kind=NoticeKind(row.kind),
            target=NoticeTarget(row.target),
            created_at=row.created_at,
            detail=json.loads(row.detail),
            delivered_at=row.delivered_at,
        )
