"""AI reading steps (R-AI-1..4): crediting packs, granting licences, recording reads and
forfeiting expired packs, inside the caller's transaction (order fulfilment credits
what a payment bought in the payment's own, R-GEN-4)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain import ai as rules
from ...domain.ai import AiPack, AiReadItem, ReadCover, ReadDecision, ReadStatus
from ...domain.catalog import AiProduct
from ...domain.errors import RuleViolation
from ...domain.ledger import LedgerType
from ...domain.notices import NoticeKind, notice_rows, once_key
from ...domain.webhooks import EventType
from ...store import accounts
from ...store import ai as store
from ...store.records import AccountRecord, AiPackRecord, AiReadRecord
from .entitlements import licence_data
from .outbox import record_event, record_notices
from .snapshot import global_id

SWEEP_ACTOR = "system:sweep"


@dataclass(frozen=True)
class AiReadOutcome:
    status: ReadStatus
    item: AiReadItem
    read: AiReadRecord | None = None  # the read recorded, or the one a duplicate repeats
    error: RuleViolation | None = None

    @property
    def cover(self) -> ReadCover | None:
        if self.read is None:
            return None
        return rules.cover_of(self.read.pack_id, self.read.licence_id)


async def _lock(conn: AsyncConnection, account_id: int) -> AccountRecord:
    account = await accounts.lock_account(conn, account_id)
    if account is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    return account


async def credit_ai_pack(
    conn: AsyncConnection,
    *,
    account_id: int,
    product: AiProduct,
    quantity: int,
    now: datetime,
    actor: str,
    order_id: int | None,
) -> int:
    """Credit a paid pack at once (R-GEN-4, R-AI-1); returns the pack id."""
    quantity = rules.pack_quantity(product, quantity)
    await _lock(conn, account_id)
    pack_id = await store.insert_pack(
        conn,
        account_id=account_id,
        product=product.value,
        quantity=quantity,
        used=0,
        forfeited=0,
        purchased_at=now,
        expires_at=rules.pack_expires_at(now),
        order_id=order_id,
    )
    purchase = rules.ledger_entry(
        LedgerType.PURCHASE,
        account_id=account_id,
        pack_id=pack_id,
        quantity=quantity,
        now=now,
        actor=actor,
    )
    await store.append_ledger(conn, [purchase])
    return pack_id


async def grant_ai_licence(
    conn: AsyncConnection,
    *,
    account_id: int,
    institution_id: int,
    product: AiProduct,
    now: datetime,
    order_id: int | None,
) -> int:
    """Record a perpetual licence from an offline purchase (R-AI-4); returns its id."""
    # The account lock makes check-then-insert safe against a concurrent grant.
    await _lock(conn, account_id)
    institution = await accounts.get_institution(conn, institution_id)
    if institution is None or institution.account_id != account_id:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    if await store.find_licence(conn, institution_id, product) is not None:
        raise RuleViolation("R_AI_4_ALREADY_HELD", "product")
    licence_id = await store.insert_licence(
        conn,
        account_id=account_id,
        institution_id=institution_id,
        product=product.value,
        granted_at=now,
        order_id=order_id,
    )
    data = licence_data("AiLicence", licence_id, institution_id, order_id, now)
    data["aiProduct"] = product.value
    key = f"ailic_{licence_id}"
    await record_event(conn, EventType.LICENCE_GRANTED, key, account_id, data, now)
    return licence_id


async def record_ai_reads(
    conn: AsyncConnection,
    *,
    account_id: int,
    institution_id: int,
    reads: list[AiReadItem],
    now: datetime,
    actor: str,
) -> list[AiReadOutcome]:
    """Record one institution's reads, in order; one outcome per item.

    A fixed number of statements whatever the batch size (lock, institution, keys,
    licences, packs, then one executemany per table). Refused reads write nothing.
    """
    await _lock(conn, account_id)
    institution = await accounts.get_institution(conn, institution_id)
    if institution is None or institution.account_id != account_id:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    stored = await store.reads_by_keys(conn, account_id, (r.idempotency_key for r in reads))
    held = await store.institutions_licences(conn, [institution_id])
    packs = await store.usable_packs(conn, account_id, now)
    decisions = rules.plan_reads(
        reads,
        institution_id=institution_id,
        prior={key: _prior(row) for key, row in stored.items()},
        licences={AiProduct(row.product): row.id for row in held},
        packs=packs,
        now=now,
    )
    inserted = await _insert(conn, account_id, institution_id, reads, decisions, now, actor)
    drawn = sum(1 for row in inserted.values() if row.pack_id is not None)
    if drawn:
        await _notice_low(conn, account_id, packs, drawn, now)
    return [
        _outcome(index, item, decision, inserted, stored)
        for index, (item, decision) in enumerate(zip(reads, decisions, strict=True))
    ]


async def _notice_low(
    conn: AsyncConnection, account_id: int, packs: list[AiPack], taken: int, now: datetime
) -> None:
    """`ai_pack.low` once per crossing of the threshold, whether reads drew the credit
    down or an expiry forfeited it (keyed by the newest pack: a purchase re-arms it).
    `packs`: the usable packs before `taken` went."""
    before = sum(pack.remaining for pack in packs)
    threshold = rules.low_threshold(packs)
    if not rules.low_crossed(before=before, after=before - taken, threshold=threshold):
        return
    newest = max(packs, key=lambda p: (p.purchased_at, p.id))
    detail = {"remaining": before - taken, "threshold": threshold, "product": newest.product.value}
    key = once_key(NoticeKind.AI_PACK_LOW, account_id, newest.id)
    rows = notice_rows(
        NoticeKind.AI_PACK_LOW, account_id=account_id, now=now, detail=detail, key=key
    )
    await record_notices(conn, rows, now)


def _prior(row: AiReadRecord) -> rules.PriorRead:
    return rules.PriorRead(row.id, row.institution_id, AiProduct(row.product), row.study_uid)


async def _insert(
    conn: AsyncConnection,
    account_id: int,
    institution_id: int,
    reads: Sequence[AiReadItem],
    decisions: Sequence[ReadDecision],
    now: datetime,
    actor: str,
) -> dict[int, AiReadRecord]:
    """Write the accepted reads, their CONSUMPTION entries and the packs' counters."""
    accepted = [i for i, d in enumerate(decisions) if d.status is ReadStatus.ACCEPTED]
    rows = await store.insert_reads(
        conn,
        [
            {
                "account_id": account_id,
                "institution_id": institution_id,
                "product": reads[i].product.value,
                "study_uid": reads[i].study_uid,
                "idempotency_key": reads[i].idempotency_key,
                "pack_id": decisions[i].pack_id,
                "licence_id": decisions[i].licence_id,
                "read_at": now,
            }
            for i in accepted
        ],
    )
    drawn = [(row.pack_id, row.id) for row in rows if row.pack_id is not None]
    await store.append_ledger(
        conn,
        [
            rules.ledger_entry(
                LedgerType.CONSUMPTION,
                account_id=account_id,
                pack_id=pack_id,
                quantity=-1,
                now=now,
                actor=actor,
                read_id=read_id,
            )
            for pack_id, read_id in drawn
        ],
    )
    await store.add_used(conn, dict(Counter(pack_id for pack_id, _ in drawn)))
    covered = Counter(row.licence_id for row in rows if row.licence_id is not None)
    await store.add_licence_reads(conn, dict(covered))
    by_key = {row.idempotency_key: row for row in rows}  # keys are unique per account
    return {i: by_key[reads[i].idempotency_key] for i in accepted}


def _outcome(
    index: int,
    item: AiReadItem,
    decision: ReadDecision,
    inserted: dict[int, AiReadRecord],
    stored: dict[str, AiReadRecord],
) -> AiReadOutcome:
    if decision.status is ReadStatus.ACCEPTED:
        return AiReadOutcome(decision.status, item, read=inserted[index])
    if decision.status is ReadStatus.DUPLICATE:
        earlier = decision.first_index
        read = stored[item.idempotency_key] if earlier is None else inserted[earlier]
        return AiReadOutcome(decision.status, item, read=read)
    return AiReadOutcome(decision.status, item, error=decision.error)


async def sweep_ai_packs(conn: AsyncConnection, now: datetime) -> int:
    """Forfeit the remainder of every expired, unswept pack (R-AI-1); returns packs swept.

    Figures are already right before this runs (derived at read time); the sweep
    writes the EXPIRY entries. Packs are few (one per purchase), so one pass.
    """
    candidates = await store.expired_unswept(conn, now)
    if not candidates:
        return 0
    # Accounts in id order, so concurrent sweeps on PostgreSQL lock them in one order.
    for account_id in sorted({row.account_id for row in candidates}):
        await accounts.lock_account(conn, account_id)
    # Read again under the locks: another instance may have swept some meanwhile.
    packs = await store.expired_unswept(conn, now, [row.id for row in candidates])
    forfeits = {row.id: row.quantity - row.used - row.forfeited for row in packs}
    await store.append_ledger(
        conn,
        [
            rules.ledger_entry(
                LedgerType.EXPIRY,
                account_id=row.account_id,
                pack_id=row.id,
                quantity=-forfeits[row.id],
                now=now,
                actor=SWEEP_ACTOR,
            )
            for row in packs
            if forfeits[row.id]
        ],
    )
    await store.mark_swept(conn, forfeits, now)
    for row in packs:
        if forfeits[row.id]:
            await _notice_expired(conn, row, forfeits[row.id], now)
    for account_id in sorted({row.account_id for row in packs}):
        gone = [store.to_pack(row) for row in packs if row.account_id == account_id]
        held = await store.usable_packs(conn, account_id, now)
        taken = sum(forfeits[pack.id] for pack in gone)
        if taken:  # what the expiry took was usable the moment before
            await _notice_low(conn, account_id, held + gone, taken, now)
    return len(packs)


async def _notice_expired(
    conn: AsyncConnection, pack: AiPackRecord, forfeited: int, now: datetime
) -> None:
    """`ai_pack.expired`, once per pack that forfeits reads (R-AI-1), in the sweep's
    transaction with its EXPIRY entry."""
    detail = {
        "packId": global_id("AiPack", pack.id),
        "product": pack.product,
        "quantity": pack.quantity,
        "used": pack.used,
        "forfeited": forfeited,
        "expiredAt": pack.expires_at.isoformat(),
    }
    kind = NoticeKind.AI_PACK_EXPIRED
    rows = notice_rows(
        kind, account_id=pack.account_id, now=now, detail=detail, key=once_key(kind, pack.id)
    )
    await record_notices(conn, rows, now)
