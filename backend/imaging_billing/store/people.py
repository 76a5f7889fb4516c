"""Repository of the controls over people: disabling, ending sessions, pending
invitations, password resets and operator API tokens."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from .access_tables import invitation, password_reset, session, user
from .fetch import fetch_all, fetch_one
from .records import ApiTokenRecord, InvitationRecord, ResetUserRecord, UserRecord
from .tables import api_token


async def lock_user(conn: AsyncConnection, user_id: int) -> UserRecord | None:
    """The user row, locked on PostgreSQL until commit (SQLite: the write transaction)."""
    stmt = sa.select(user).where(user.c.id == user_id).with_for_update()
    return await fetch_one(conn, UserRecord, stmt)


async def set_disabled(conn: AsyncConnection, user_id: int, at: datetime | None) -> None:
    await conn.execute(user.update().where(user.c.id == user_id).values(disabled_at=at))


async def set_language(conn: AsyncConnection, user_id: int, language: str) -> None:
    await conn.execute(user.update().where(user.c.id == user_id).values(language=language))


async def language_of(conn: AsyncConnection, user_id: int) -> str | None:
    stmt = sa.select(user.c.language).where(user.c.id == user_id)
    return (await conn.execute(stmt)).scalar_one_or_none()


async def set_password(conn: AsyncConnection, user_id: int, password_hash: str) -> None:
    await conn.execute(
        user.update().where(user.c.id == user_id).values(password_hash=password_hash)
    )


async def end_sessions(conn: AsyncConnection, user_id: int, now: datetime) -> int:
    """Revoke every live session of the user; how many there were."""
    result = await conn.execute(
        session.update()
        .where(session.c.user_id == user_id, session.c.revoked_at.is_(None))
        .where(session.c.expires_at > now)
        .values(revoked_at=now)
    )
    return int(result.rowcount)


# --- pending invitations -------------------------------------------------------------


def _pending(account_id: int | None, everyone: bool, now: datetime) -> list[sa.ColumnElement[bool]]:
    where = [
        invitation.c.accepted_at.is_(None),
        invitation.c.revoked_at.is_(None),
        invitation.c.expires_at > now,
    ]
    if not everyone:
        where.append(
            invitation.c.account_id.is_(None)
            if account_id is None
            else invitation.c.account_id == account_id
        )
    return where


async def page_pending_invitations(
    conn: AsyncConnection,
    *,
    account_id: int | None,
    everyone: bool,
    now: datetime,
    after_id: int | None,
    limit: int,
) -> list[InvitationRecord]:
    where = _pending(account_id, everyone, now)
    if after_id is not None:
        where.append(invitation.c.id > after_id)
    stmt = sa.select(invitation).where(*where).order_by(invitation.c.id).limit(limit)
    return await fetch_all(conn, InvitationRecord, stmt)


async def count_pending_invitations(
    conn: AsyncConnection, *, account_id: int | None, everyone: bool, now: datetime
) -> int:
    where = _pending(account_id, everyone, now)
    stmt = sa.select(sa.func.count()).select_from(invitation).where(*where)
    return int((await conn.execute(stmt)).scalar_one())


async def get_invitation(conn: AsyncConnection, invitation_id: int) -> InvitationRecord | None:
    stmt = sa.select(invitation).where(invitation.c.id == invitation_id)
    return await fetch_one(conn, InvitationRecord, stmt)


async def lock_invitation(conn: AsyncConnection, invitation_id: int) -> InvitationRecord | None:
    stmt = sa.select(invitation).where(invitation.c.id == invitation_id).with_for_update()
    return await fetch_one(conn, InvitationRecord, stmt)


async def revoke_invitation(conn: AsyncConnection, invitation_id: int, now: datetime) -> None:
    await conn.execute(
        invitation.update().where(invitation.c.id == invitation_id).values(revoked_at=now)
    )


# --- password resets -------------------------------------------------------------------


async def insert_reset(conn: AsyncConnection, **values: object) -> int:
    stmt = password_reset.insert().values(**values).returning(password_reset.c.id)
    return int((await conn.execute(stmt)).scalar_one())


async def reset_by_hash(
    conn: AsyncConnection, token_hash: str, *, lock: bool = False
) -> ResetUserRecord | None:
    """The reset with the user's email and state (locked on PostgreSQL when `lock`)."""
    stmt = (
        sa.select(
            password_reset.c.id,
            password_reset.c.user_id,
            password_reset.c.expires_at,
            password_reset.c.used_at,
            user.c.email,
            user.c.disabled_at,
        )
        .join(user, user.c.id == password_reset.c.user_id)
        .where(password_reset.c.token_hash == token_hash)
    )
    if lock:
        stmt = stmt.with_for_update(of=password_reset)
    return await fetch_one(conn, ResetUserRecord, stmt)


async def use_resets(conn: AsyncConnection, user_id: int, now: datetime) -> None:
    """Mark every unused reset of the user used: one reset works once, the newest alone."""
    await conn.execute(
        password_reset.update()
        .where(password_reset.c.user_id == user_id, password_reset.c.used_at.is_(None))
        .values(used_at=now)
    )


# --- operator API tokens --------------------------------------------------------------


async def page_tokens(
    conn: AsyncConnection, *, after_id: int | None, limit: int
) -> list[ApiTokenRecord]:
    stmt = sa.select(api_token).order_by(api_token.c.id).limit(limit)
    if after_id is not None:
        stmt = stmt.where(api_token.c.id > after_id)
    return await fetch_all(conn, ApiTokenRecord, stmt)


async def count_tokens(conn: AsyncConnection) -> int:
    stmt = sa.select(sa.func.count()).select_from(api_token)
    return int((await conn.execute(stmt)).scalar_one())


async def lock_token(conn: AsyncConnection, token_id: int) -> ApiTokenRecord | None:
    stmt = sa.select(api_token).where(api_token.c.id == token_id).with_for_update()
    return await fetch_one(conn, ApiTokenRecord, stmt)


async def revoke_token(conn: AsyncConnection, token_id: int, now: datetime) -> None:
    await conn.execute(api_token.update().where(api_token.c.id == token_id).values(revoked_at=now))


async def touch_token(conn: AsyncConnection, token_id: int, now: datetime) -> None:
    await conn.execute(
        api_token.update().where(api_token.c.id == token_id).values(last_used_at=now)
    )
