"""A notice's e-mails, written in its transaction (R-ARR-2 delivery decision): one per
account administrator for a BUSINESS notice, one per operator for a MANAGEMENT one.
The mail worker (services/mail_worker.py) sends them afterwards. The subject and body
are written now, with the figures of this instant, so a retry hours later still says
what was true when the notice was given."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.mail import Language, MailText, compose, languages_for
from ...domain.notices import NoticeKind, NoticeTarget
from ...store import mail
from ...store.records import NoticeRecord
from .snapshot import account_snapshot


async def mail_notice(conn: AsyncConnection, row: NoticeRecord, now: datetime) -> None:
    """Enqueue the notice's mails; nothing when nobody is there to read them."""
    business = NoticeTarget(row.target) is NoticeTarget.BUSINESS
    people = await mail.recipients(conn, row.account_id if business else None)
    if not people:
        return
    account, figures = await account_snapshot(conn, row.account_id, now)
    texts: dict[tuple[Language, ...], MailText] = {}
    for person in people:
        languages = languages_for(person.language)
        if languages not in texts:
            texts[languages] = compose(
                NoticeKind(row.kind),
                account=account.name if account else str(row.account_id),
                at=now.isoformat(timespec="seconds").replace("+00:00", "Z"),
                detail=json.loads(row.detail),
                figures=figures,
                languages=languages,
            )
    await mail.insert_deliveries(
        conn,
        [
            {
                "key": f"ntc_{row.id}",
                "recipient": person.email,
                "user_id": person.id,
                "notice_id": row.id,
                "account_id": row.account_id,
                "target": row.target,
                "subject": texts[languages_for(person.language)].subject,
                "body": texts[languages_for(person.language)].body,
                "next_attempt_at": now,
                "created_at": now,
            }
            for person in people
        ],
    )
