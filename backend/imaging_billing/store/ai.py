"""AI reading repository: packs, reads, their ledger, licences (R-AI-1..5)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.ai import AiPack
from ..domain.catalog import AiProduct
from .commerce_tables import ai_ledger_entry, ai_licence, ai_pack, ai_read
from .fetch import fetch_all, fetch_one
from .records import AiLicenceRecord, AiPackRecord, AiReadRecord


def to_pack(row: AiPackRecord) -> AiPack:
    return AiPack(
        id=row.id,
        product=AiProduct(row.product),
        quantity=row.quantity,
        used=row.used,
        purchased_at=row.purchased_at,
        expires_at=row.expires_at,
    )


# --- packs -----------------------------------------------------------------------------


async def insert_pack(conn: AsyncConnection, **values: object) -> int:
    stmt = ai_pack.insert().values(**values).returning(ai_pack.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def get_pack(conn: AsyncConnection, pack_id: int) -> AiPackRecord | None:
    return await fetch_one(conn, AiPackRecord, sa.select(ai_pack).where(ai_pack.c.id == pack_id))


async def usable_packs(conn: AsyncConnection, account_id: int, now: datetime) -> list[AiPack]:
    """Unexpired packs with a remainder, the only ones a read can draw from."""
    stmt = sa.select(ai_pack).where(
        ai_pack.c.account_id == account_id,
        ai_pack.c.expires_at > now,
        ai_pack.c.used < ai_pack.c.quantity,
    )
    return [to_pack(row) for row in await fetch_all(conn, AiPackRecord, stmt)]


async def account_packs(conn: AsyncConnection, account_id: int) -> list[AiPackRecord]:
    stmt = sa.select(ai_pack).where(ai_pack.c.account_id == account_id).order_by(ai_pack.c.id)
    return await fetch_all(conn, AiPackRecord, stmt)


def _packs_where(account_id: int, unexpired_at: datetime | None) -> list[sa.ColumnElement[bool]]:
    where = [ai_pack.c.account_id == account_id]
    if unexpired_at is not None:
        where.append(ai_pack.c.expires_at > unexpired_at)
    return where


async def page_packs(
    conn: AsyncConnection,
    account_id: int,
    *,
    after_id: int | None,
    limit: int,
    unexpired_at: datetime | None = None,
    newest_first: bool = False,
) -> list[AiPackRecord]:
    """Packs by purchase (id); newest first for the renewal record."""
    where = _packs_where(account_id, unexpired_at)
    if after_id is not None:
        where.append(ai_pack.c.id < after_id if newest_first else ai_pack.c.id > after_id)
    order = ai_pack.c.id.desc() if newest_first else ai_pack.c.id
    stmt = sa.select(ai_pack).where(*where).order_by(order).limit(limit)
    return await fetch_all(conn, AiPackRecord, stmt)


async def count_packs(
    conn: AsyncConnection, account_id: int, *, unexpired_at: datetime | None = None
) -> int:
    where = _packs_where(account_id, unexpired_at)
    stmt = sa.select(sa.func.count()).select_from(ai_pack).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def add_used(conn: AsyncConnection, deltas: dict[int, int]) -> None:
    """Add to each pack's cached `used` counter in one executemany."""
    await _add(conn, ai_pack.c.used, deltas)


async def _add(conn: AsyncConnection, counter: sa.Column[int], deltas: dict[int, int]) -> None:
    """Add each row's delta (by id) to a cached counter of its table, in one executemany."""
    if not deltas:
        return
    table = counter.table
    stmt = (
        table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values({counter.name: counter + sa.bindparam("delta")})
    )
    await conn.execute(stmt, [{"row_id": k, "delta": v} for k, v in deltas.items()])


async def expired_unswept(
    conn: AsyncConnection, now: datetime, pack_ids: Sequence[int] | None = None
) -> list[AiPackRecord]:
    stmt = (
        sa.select(ai_pack)
        .where(ai_pack.c.expires_at <= now, ai_pack.c.swept_at.is_(None))
        .order_by(ai_pack.c.account_id, ai_pack.c.id)
    )
    if pack_ids is not None:
        stmt = stmt.where(ai_pack.c.id.in_(list(pack_ids)))
    return await fetch_all(conn, AiPackRecord, stmt)


async def mark_swept(conn: AsyncConnection, forfeits: dict[int, int], now: datetime) -> None:
    """Record each pack's forfeited remainder and the sweep instant, in one executemany."""
    if not forfeits:
        return
    stmt = (
        ai_pack.update()
        .where(ai_pack.c.id == sa.bindparam("pack_id"), ai_pack.c.swept_at.is_(None))
        .values(forfeited=ai_pack.c.forfeited + sa.bindparam("amount"), swept_at=now)
    )
    await conn.execute(stmt, [{"pack_id": k, "amount": v} for k, v in forfeits.items()])


# --- ledger (append-only, R-GEN-7) -----------------------------------------------------


async def append_ledger(conn: AsyncConnection, entries: Sequence[Mapping[str, object]]) -> None:
    if entries:
        await conn.execute(ai_ledger_entry.insert(), list(entries))


async def ledger_sums(conn: AsyncConnection, account_id: int) -> dict[int, dict[str, int]]:
    """Signed quantity per pack, per entry type."""
    stmt = (
        sa.select(
            ai_ledger_entry.c.pack_id,
            ai_ledger_entry.c.type,
            sa.func.sum(ai_ledger_entry.c.quantity),
        )
        .where(ai_ledger_entry.c.account_id == account_id)
        .group_by(ai_ledger_entry.c.pack_id, ai_ledger_entry.c.type)
    )
    sums: dict[int, dict[str, int]] = {}
    for pack_id, type_, quantity in (await conn.execute(stmt)).all():
        sums.setdefault(pack_id, {})[type_] = int(quantity)
    return sums


# --- reads -----------------------------------------------------------------------------


async def reads_by_keys(
    conn: AsyncConnection, account_id: int, keys: Iterable[str]
) -> dict[str, AiReadRecord]:
    keys = list(set(keys))
    if not keys:
        return {}
    stmt = sa.select(ai_read).where(
        ai_read.c.account_id == account_id, ai_read.c.idempotency_key.in_(keys)
    )
    return {row.idempotency_key: row for row in await fetch_all(conn, AiReadRecord, stmt)}


async def insert_reads(
    conn: AsyncConnection, rows: Sequence[Mapping[str, object]]
) -> list[AiReadRecord]:
    """Insert many reads in one statement; rows come back in no set order."""
    if not rows:
        return []
    stmt = ai_read.insert().returning(*ai_read.c)
    return await fetch_all(conn, AiReadRecord, stmt, list(rows))


async def get_read(conn: AsyncConnection, read_id: int) -> AiReadRecord | None:
    return await fetch_one(conn, AiReadRecord, sa.select(ai_read).where(ai_read.c.id == read_id))


async def count_reads_by_pack(conn: AsyncConnection, account_id: int) -> dict[int | None, int]:
    """Reads per drawn pack (None: covered by a licence)."""
    stmt = (
        sa.select(ai_read.c.pack_id, sa.func.count())
        .where(ai_read.c.account_id == account_id)
        .group_by(ai_read.c.pack_id)
    )
    return {row[0]: int(row[1]) for row in (await conn.execute(stmt)).all()}


async def count_licence_reads(conn: AsyncConnection, account_id: int) -> dict[AiProduct, int]:
    """Reads covered by a licence (R-AI-4), per product: they draw no credit, so no pack
    counts them. Summed from the licences' counters: O(licences), not O(reads)."""
    stmt = (
        sa.select(ai_licence.c.product, sa.func.sum(ai_licence.c.reads))
        .where(ai_licence.c.account_id == account_id)
        .group_by(ai_licence.c.product)
    )
    return {AiProduct(row[0]): int(row[1]) for row in (await conn.execute(stmt)).all()}


async def add_licence_reads(conn: AsyncConnection, deltas: dict[int, int]) -> None:
    """Add to each licence's cached `reads` counter in one executemany."""
    await _add(conn, ai_licence.c.reads, deltas)


async def count_reads_by_licence(conn: AsyncConnection, account_id: int) -> dict[int, int]:
    """Reads per covering licence, counted from the reads (reconciliation only)."""
    stmt = (
        sa.select(ai_read.c.licence_id, sa.func.count())
        .where(ai_read.c.account_id == account_id, ai_read.c.licence_id.is_not(None))
        .group_by(ai_read.c.licence_id)
    )
    return {int(row[0]): int(row[1]) for row in (await conn.execute(stmt)).all()}


async def count_misattributed_reads(conn: AsyncConnection, account_id: int) -> int:
    """Reads not covered by exactly one pack or one licence of their own institution and
    product, or drawn from another account's pack or another product's."""
    licence = ai_licence.alias("l")
    pack = ai_pack.alias("p")
    one_cover = sa.or_(
        sa.and_(ai_read.c.pack_id.is_(None), ai_read.c.licence_id.is_not(None)),
        sa.and_(ai_read.c.pack_id.is_not(None), ai_read.c.licence_id.is_(None)),
    )
    licence_ok = sa.or_(
        ai_read.c.licence_id.is_(None),
        sa.and_(
            licence.c.institution_id == ai_read.c.institution_id,
            licence.c.product == ai_read.c.product,
        ),
    )
    pack_ok = sa.or_(
        ai_read.c.pack_id.is_(None),
        sa.and_(pack.c.account_id == ai_read.c.account_id, pack.c.product == ai_read.c.product),
    )
    stmt = (
        sa.select(sa.func.count())
        .select_from(
            ai_read.outerjoin(licence, licence.c.id == ai_read.c.licence_id).outerjoin(
                pack, pack.c.id == ai_read.c.pack_id
            )
        )
        .where(ai_read.c.account_id == account_id, sa.not_(sa.and_(one_cover, licence_ok, pack_ok)))
    )
    return int((await conn.execute(stmt)).scalar_one())


# --- licences (R-AI-4) -----------------------------------------------------------------


async def insert_licence(conn: AsyncConnection, **values: object) -> int:
    stmt = ai_licence.insert().values(**values).returning(ai_licence.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def get_licence(conn: AsyncConnection, licence_id: int) -> AiLicenceRecord | None:
    stmt = sa.select(ai_licence).where(ai_licence.c.id == licence_id)
    return await fetch_one(conn, AiLicenceRecord, stmt)


async def find_licence(
    conn: AsyncConnection, institution_id: int, product: AiProduct
) -> AiLicenceRecord | None:
    stmt = sa.select(ai_licence).where(
        ai_licence.c.institution_id == institution_id, ai_licence.c.product == product.value
    )
    return await fetch_one(conn, AiLicenceRecord, stmt)


async def institutions_licences(
    conn: AsyncConnection, institution_ids: Iterable[int]
) -> list[AiLicenceRecord]:
    ids = list(set(institution_ids))
    if not ids:
        return []
    stmt = (
        sa.select(ai_licence)
        .where(ai_licence.c.institution_id.in_(ids))
        .order_by(ai_licence.c.institution_id, ai_licence.c.id)
    )
    return await fetch_all(conn, AiLicenceRecord, stmt)


async def account_licences(conn: AsyncConnection, account_id: int) -> list[AiLicenceRecord]:
    stmt = (
        sa.select(ai_licence)
        .where(ai_licence.c.account_id == account_id)
        .order_by(ai_licence.c.institution_id, ai_licence.c.id)
    )
    return await fetch_all(conn, AiLicenceRecord, stmt)
