"""AI reading (R-AI-1..5): an institution's reads, and the figures and reconciliation
of an account's packs. The steps that credit packs, grant licences, record reads and
forfeit expired packs are in `steps/ai.py`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import ai as rules
from ..domain.ai import AiFigures, AiReadItem
from ..domain.catalog import AiProduct
from ..domain.errors import RuleViolation
from ..domain.steady import next_expiry
from ..store import accounts
from ..store import ai as store
from ..store.db import Database
from .principals import Principal
from .reconcile import Discrepancy
from .steps.ai import AiReadOutcome, record_ai_reads

__all__ = [
    "MAX_READ_BATCH",
    "AiReadItem",
    "AiFiguresNow",
    "AiReadOutcome",
    "ai_figures",
    "reconcile_ai",
    "record_reads",
]

MAX_READ_BATCH = 1_000


async def record_reads(
    db: Database,
    principal: Principal,
    *,
    institution_id: int,
    items: list[AiReadItem],
    now: datetime,
) -> list[AiReadOutcome]:
    """An institution reports AI reads of its own (R-AI-1..4), in one transaction."""
    if principal.institution_id is None:
        raise RuleViolation("FORBIDDEN")
    if principal.institution_id != institution_id or principal.account_id is None:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    if len(items) > MAX_READ_BATCH:
        raise RuleViolation("BATCH_TOO_LARGE", "items", {"limit": MAX_READ_BATCH})
    async with db.write() as conn:
        return await record_ai_reads(
            conn,
            account_id=principal.account_id,
            institution_id=institution_id,
            reads=items,
            now=now,
            actor=principal.actor,
        )


async def reconcile_ai(conn: AsyncConnection, account_id: int) -> list[Discrepancy]:
    """R-GEN-7: each pack's cached counters against the AI ledger and the reads."""
    if await accounts.get_account(conn, account_id) is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    sums = await store.ledger_sums(conn, account_id)
    reads = await store.count_reads_by_pack(conn, account_id)
    found: list[Discrepancy] = []

    def check(subject: str, name: str, expected: int, actual: int) -> None:
        if expected != actual:
            found.append(Discrepancy(subject, name, expected, actual))

    for pack in await store.account_packs(conn, account_id):
        subject = f"ai_pack:{pack.id}"
        by_type = sums.get(pack.id, {})
        check(
            subject,
            "remainder = ledger",
            sum(by_type.values()),
            pack.quantity - pack.used - pack.forfeited,
        )
        check(subject, "purchase = quantity", by_type.get("PURCHASE", 0), pack.quantity)
        check(subject, "used = reads drawn", reads.get(pack.id, 0), pack.used)
        check(subject, "forfeited = expiry entries", -by_type.get("EXPIRY", 0), pack.forfeited)
        check(subject, "used <= quantity", 1, int(0 <= pack.used <= pack.quantity))
    by_licence = await store.count_reads_by_licence(conn, account_id)
    for licence in await store.account_licences(conn, account_id):
        check(
            f"ai_licence:{licence.id}",
            "reads = reads covered",
            by_licence.get(licence.id, 0),
            licence.reads,
        )
    check(
        f"account:{account_id}",
        "reads covered by one own pack or licence",
        0,
        await store.count_misattributed_reads(conn, account_id),
    )
    return found


@dataclass(frozen=True)
class AiFiguresNow:
    figures: list[AiFigures]
    changes_at: datetime | None  # the next pack expiry: the clock alone changes them then


async def ai_figures(conn: AsyncConnection, account_id: int, now: datetime) -> AiFiguresNow:
    """R-AI-5 per product with packs or licences (glaucoma always), right at `now`."""
    packs = [store.to_pack(row) for row in await store.account_packs(conn, account_id)]
    licensed = Counter(
        AiProduct(row.product) for row in await store.account_licences(conn, account_id)
    )
    reads = await store.count_licence_reads(conn, account_id)
    shown = {AiProduct.GLAUCOMA} | {pack.product for pack in packs} | set(licensed)
    return AiFiguresNow(
        [
            rules.figures(p, packs, now, licensed[p], reads.get(p, 0))
            for p in AiProduct
            if p in shown
        ],
        next_expiry((pack.expires_at for pack in packs), now),
    )
