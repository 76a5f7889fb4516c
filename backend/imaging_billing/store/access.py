"""Repository of users, sessions, invitations and login failures."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .access_tables import invitation, login_failure, session, user
from .fetch import fetch_all, fetch_one
from .records import InvitationRecord, SessionUserRecord, UserRecord


async def insert_user(conn: AsyncConnection, **values: object) -> int:
    return int(
        (await conn.execute(user.insert().values(**values).returning(user.c.id))).scalar_one()
    )


async def user_by_email(conn: AsyncConnection, email: str) -> UserRecord | None:
    return await fetch_one(conn, UserRecord, sa.select(user).where(user.c.email == email))


async def get_user(conn: AsyncConnection, user_id: int) -> UserRecord | None:
    return await fetch_one(conn, UserRecord, sa.select(user).where(user.c.id == user_id))


async def page_users(
    conn: AsyncConnection, account_id: int | None, *, after_id: int | None, limit: int
) -> list[UserRecord]:
    stmt = sa.select(user).where(user.c.account_id == account_id).order_by(user.c.id).limit(limit)
    if account_id is None:
        stmt = sa.select(user).where(user.c.account_id.is_(None)).order_by(user.c.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(user.c.id > after_id)
    return await fetch_all(conn, UserRecord, stmt)


async def count_users(conn: AsyncConnection, account_id: int | None) -> int:
    where = user.c.account_id.is_(None) if account_id is None else user.c.account_id == account_id
    stmt = sa.select(sa.func.count()).select_from(user).where(where)
    return int((await conn.execute(stmt)).scalar_one())


async def insert_session(conn: AsyncConnection, **values: object) -> int:
    stmt = session.insert().values(**values).returning(session.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def session_with_user(conn: AsyncConnection, token_hash: str) -> SessionUserRecord | None:
    stmt = (
        sa.select(
            session.c.id.label("session_id"),
            session.c.last_seen_at,
            session.c.expires_at,
            session.c.revoked_at,
            user.c.id.label("user_id"),
            user.c.email,
            user.c.name,
            user.c.role,
            user.c.account_id,
            user.c.disabled_at,
        )
        .join(user, user.c.id == session.c.user_id)
        .where(session.c.token_hash == token_hash)
    )
    return await fetch_one(conn, SessionUserRecord, stmt)


async def touch_session(conn: AsyncConnection, session_id: int, now: datetime) -> None:
    await conn.execute(session.update().where(session.c.id == session_id).values(last_seen_at=now))


async def revoke_session(conn: AsyncConnection, token_hash: str, now: datetime) -> None:
    await conn.execute(
        session.update()
        .where(session.c.token_hash == token_hash, session.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def insert_invitation(conn: AsyncConnection, **values: object) -> int:
    stmt = invitation.insert().values(**values).returning(invitation.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def invitation_by_hash(
    conn: AsyncConnection, token_hash: str, *, lock: bool = True
) -> InvitationRecord | None:
    stmt = sa.select(invitation).where(invitation.c.token_hash == token_hash)
    if lock:
        stmt = stmt.with_for_update()
    return await fetch_one(conn, InvitationRecord, stmt)


async def mark_invitation_accepted(
    conn: AsyncConnection, invitation_id: int, now: datetime
) -> None:
    await conn.execute(
        invitation.update().where(invitation.c.id == invitation_id).values(accepted_at=now)
    )


async def lock_login(conn: AsyncConnection, *, email: str, client_address: str) -> None:
    """Serialise login attempts for one email and from one address until commit, so
    counting the recent failures and adding this attempt is one step.

    PostgreSQL: transaction-scoped advisory locks on both keys' hashes, always the
    email's first (one order: no deadlock). SQLite: the IMMEDIATE write transaction
    already serialises every writer.
    """
    if conn.dialect.name != "postgresql":
        return
    for key in (f"login-email\x1f{email}", f"login-address\x1f{client_address}"):
        await conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key}
        )


async def add_login_failure(
    conn: AsyncConnection, *, email: str, client_address: str, now: datetime
) -> int:
    stmt = (
        login_failure.insert()
        .values(email=email, client_address=client_address, occurred_at=now)
        .returning(login_failure.c.id)
    )
    return int((await conn.execute(stmt)).scalar_one())


async def count_failures(
    conn: AsyncConnection, *, email: str, client_address: str, since: datetime
) -> tuple[int, int]:
    """Failures since `since`: (for this email, from this address)."""
    recent = login_failure.c.occurred_at >= since
    by_email = sa.select(sa.func.count()).where(login_failure.c.email == email, recent)
    by_address = sa.select(sa.func.count()).where(
        login_failure.c.client_address == client_address, recent
    )
    first = int((await conn.execute(by_email)).scalar_one())
    second = int((await conn.execute(by_address)).scalar_one())
    return first, second


async def clear_failures(conn: AsyncConnection, email: str) -> None:
    await conn.execute(login_failure.delete().where(login_failure.c.email == email))


async def prune_failures(conn: AsyncConnection, before: datetime) -> None:
    await conn.execute(login_failure.delete().where(login_failure.c.occurred_at < before))
