"""Account, institution and agreement repository."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.exams import ARREARS_GRACE
from .db import account_changed
from .fetch import fetch_all, fetch_one
from .records import AccountRecord, AgreementRecord, InstitutionKeysRecord, InstitutionRecord
from .tables import account, agreement, institution

# Built once: building a statement and its cache key costs more than running it on
# SQLite, and these run in every upload's transaction.
_LOCK_ACCOUNT = (
    account.update()
    .where(account.c.id == sa.bindparam("account_id"))
    .values(revision=account.c.revision + 1)
    .returning(*account.c)
)
_REVISIONS = sa.select(account.c.id, account.c.revision).where(
    account.c.id.in_(sa.bindparam("ids", expanding=True))
)


async def insert_account(conn: AsyncConnection, *, name: str, now: datetime) -> int:
    result = await conn.execute(
        account.insert().values(name=name, created_at=now).returning(account.c.id)
    )
    return int(result.scalar_one())


async def get_account(conn: AsyncConnection, account_id: int) -> AccountRecord | None:
    stmt = sa.select(account).where(account.c.id == account_id)
    return await fetch_one(conn, AccountRecord, stmt)


async def lock_account(conn: AsyncConnection, account_id: int) -> AccountRecord | None:
    """Serialise every balance change of one account.

    PostgreSQL: a row lock held to commit (an UPDATE locks the row as FOR UPDATE
    would), so several API instances never interleave two allocations. SQLite: the
    IMMEDIATE write transaction already holds the database's single write lock.
    A transaction locks an account to change it: the live console hears of it, and
    the account's revision moves on with the commit (answers read at the old one are
    not reused, api/answers.py); a rollback takes the new revision back too.
    """
    account_changed(conn, account_id)
    return await fetch_one(conn, AccountRecord, _LOCK_ACCOUNT, {"account_id": account_id})


async def revisions(conn: AsyncConnection, account_ids: Sequence[int]) -> dict[int, int]:
    """Each account's revision (see `lock_account`); unknown ids are absent."""
    result = await conn.execute(_REVISIONS, {"ids": list(account_ids)})
    return {int(row.id): int(row.revision) for row in result}


async def update_account(conn: AsyncConnection, account_id: int, **values: object) -> None:
    await conn.execute(account.update().where(account.c.id == account_id).values(**values))


def _account_filter(
    search: str | None, status: str | None, now: datetime | None
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if search:
        where.append(account.c.name.contains(search, autoescape=True))
    if status == "ACTIVE":
        where.append(account.c.arrears_since.is_(None))
    elif status == "IN_ARREARS" and now is not None:
        where.append(account.c.arrears_since > now - ARREARS_GRACE)
    elif status == "SUSPENDED" and now is not None:
        where.append(account.c.arrears_since <= now - ARREARS_GRACE)
    return where


async def page_accounts(
    conn: AsyncConnection,
    *,
    after_id: int | None = None,
    offset: int = 0,
    limit: int,
    search: str | None = None,
    status: str | None = None,
    now: datetime | None = None,
    by_arrears: bool = False,
) -> list[AccountRecord]:
    """By id (keyset: `after_id`), or most arrears first (by `offset`)."""
    stmt = sa.select(account).where(*_account_filter(search, status, now)).limit(limit)
    if by_arrears:
        stmt = stmt.order_by(account.c.arrears_count.desc(), account.c.id).offset(offset)
    else:
        stmt = stmt.order_by(account.c.id)
        if after_id is not None:
            stmt = stmt.where(account.c.id > after_id)
    return await fetch_all(conn, AccountRecord, stmt)


async def count_accounts(
    conn: AsyncConnection,
    search: str | None = None,
    status: str | None = None,
    now: datetime | None = None,
) -> int:
    where = _account_filter(search, status, now)
    stmt = sa.select(sa.func.count()).select_from(account).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def insert_institution(
    conn: AsyncConnection, *, account_id: int, name: str, token_key: str, now: datetime
) -> int:
    stmt = (
        institution.insert()
        .values(account_id=account_id, name=name, token_key=token_key, created_at=now)
        .returning(institution.c.id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def get_institution(conn: AsyncConnection, institution_id: int) -> InstitutionRecord | None:
    stmt = sa.select(institution).where(institution.c.id == institution_id)
    return await fetch_one(conn, InstitutionRecord, stmt)


async def institution_keys(conn: AsyncConnection) -> list[InstitutionKeysRecord]:
    """Every institution's stored keys, by id (start-up sealing of legacy rows)."""
    columns = (institution.c.id, institution.c.token_key, institution.c.previous_token_key)
    stmt = sa.select(*columns).order_by(institution.c.id)
    return await fetch_all(conn, InstitutionKeysRecord, stmt)


async def page_institutions(
    conn: AsyncConnection, account_id: int, *, after_id: int | None, limit: int
) -> list[InstitutionRecord]:
    stmt = (
        sa.select(institution)
        .where(institution.c.account_id == account_id)
        .order_by(institution.c.id)
        .limit(limit)
    )
    if after_id is not None:
        stmt = stmt.where(institution.c.id > after_id)
    return await fetch_all(conn, InstitutionRecord, stmt)


async def insert_agreement(
    conn: AsyncConnection,
    *,
    account_id: int,
    number: str,
    signed_on: date,
    channel_partner: str,
    actor: str,
    now: datetime,
) -> int:
    stmt = (
        agreement.insert()
        .values(
            account_id=account_id,
            number=number,
            signed_on=signed_on,
            channel_partner=channel_partner,
            recorded_by=actor,
            recorded_at=now,
        )
        .returning(agreement.c.id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def latest_agreement(conn: AsyncConnection, account_id: int) -> AgreementRecord | None:
    stmt = (
        sa.select(agreement)
        .where(agreement.c.account_id == account_id)
        .order_by(agreement.c.recorded_at.desc(), agreement.c.id.desc())
        .limit(1)
    )
    return await fetch_one(conn, AgreementRecord, stmt)


async def suspended_unnoticed(conn: AsyncConnection, arrears_before: datetime) -> list[int]:
    """Accounts whose arrears clock started before the cutoff and have no suspension notice."""
    stmt = (
        sa.select(account.c.id)
        .where(
            account.c.arrears_since.is_not(None),
            account.c.arrears_since <= arrears_before,
            account.c.suspension_noticed.is_(False),
        )
        .order_by(account.c.id)
        .with_for_update()
    )
    return list((await conn.execute(stmt)).scalars())


async def count_institutions(conn: AsyncConnection, account_id: int) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(institution)
        .where(institution.c.account_id == account_id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def get_agreement(conn: AsyncConnection, agreement_id: int) -> AgreementRecord | None:
    stmt = sa.select(agreement).where(agreement.c.id == agreement_id)
    return await fetch_one(conn, AgreementRecord, stmt)


async def update_institution(conn: AsyncConnection, institution_id: int, **values: object) -> None:
    await conn.execute(
        institution.update().where(institution.c.id == institution_id).values(**values)
    )
