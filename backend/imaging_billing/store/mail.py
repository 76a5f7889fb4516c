"""E-mail outbox repository: who a notice is mailed to, the deliveries, their attempts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from .access_tables import user
from .fetch import fetch_all
from .mail_tables import mail_delivery
from .records import DueMailRecord, MailRecipientRecord

PENDING = "PENDING"
# Role values of services/principals.py (the store does not import services).
OPERATOR = "OPERATOR"
ACCOUNT_ADMIN = "ACCOUNT_ADMIN"


async def recipients(conn: AsyncConnection, account_id: int | None) -> list[MailRecipientRecord]:
    """The enabled users a notice goes to: the account's administrators, or (no account:
    the MANAGEMENT target) the operators."""
    if account_id is None:
        where = [user.c.role == OPERATOR]
    else:
        where = [user.c.role == ACCOUNT_ADMIN, user.c.account_id == account_id]
    stmt = (
        sa.select(user.c.id, user.c.email, user.c.language)
        .where(*where, user.c.disabled_at.is_(None))
        .order_by(user.c.id)
    )
    return await fetch_all(conn, MailRecipientRecord, stmt)


async def insert_deliveries(conn: AsyncConnection, rows: Sequence[Mapping[str, object]]) -> None:
    """New mails; one already written for a key and recipient is left as it is."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(mail_delivery).on_conflict_do_nothing(
        index_elements=[mail_delivery.c.key, mail_delivery.c.recipient]
    )
    await conn.execute(stmt, [{"status": PENDING, "attempts": 0, **r} for r in rows])


async def any_due(conn: AsyncConnection, now: datetime) -> bool:
    stmt = sa.select(
        sa.exists().where(mail_delivery.c.status == PENDING, mail_delivery.c.next_attempt_at <= now)
    )
    return bool((await conn.execute(stmt)).scalar())


async def claim_due(
    conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int
) -> list[DueMailRecord]:
    """Take up to `limit` due mails, pushing each one's next attempt out to
    `lease_until` so no other worker takes it meanwhile (SKIP LOCKED on PostgreSQL;
    on SQLite write transactions take turns)."""
    stmt = (
        sa.select(
            mail_delivery.c.id,
            mail_delivery.c.attempts,
            mail_delivery.c.key,
            mail_delivery.c.recipient,
            mail_delivery.c.subject,
            mail_delivery.c.body,
            mail_delivery.c.created_at,
            mail_delivery.c.notice_id,
        )
        .where(mail_delivery.c.status == PENDING, mail_delivery.c.next_attempt_at <= now)
        .order_by(mail_delivery.c.next_attempt_at, mail_delivery.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    due = await fetch_all(conn, DueMailRecord, stmt)
    if due:
        await conn.execute(
            mail_delivery.update()
            .where(mail_delivery.c.id.in_([d.id for d in due]))
            .values(next_attempt_at=lease_until)
        )
    return due


async def record_attempt(
    conn: AsyncConnection, mail_id: int, *, attempts_before: int, values: Mapping[str, object]
) -> bool:
    """The mail's new state after an attempt, unless another worker recorded one since
    it was claimed (then False, nothing written)."""
    result = await conn.execute(
        mail_delivery.update()
        .where(
            mail_delivery.c.id == mail_id,
            mail_delivery.c.attempts == attempts_before,
            mail_delivery.c.status == PENDING,
        )
        .values(attempts=attempts_before + 1, **values)
    )
    return bool(result.rowcount == 1)
