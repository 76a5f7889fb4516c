"""The account and its figures at an instant, as a notice's webhook event and e-mail
carry them (so a receiver or reader need not ask)."""

from __future__ import annotations

import base64
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ...domain.exams import account_status, figures
from ...domain.webhooks import AccountRef
from ...store import accounts, lots


def global_id(type_name: str, pk: int) -> str:
    """The object's ID in the GraphQL API (api/ids.py: base64 of `Type:pk`), so a
    receiver can ask about what an event names."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


async def account_snapshot(
    conn: AsyncConnection, account_id: int, now: datetime
) -> tuple[AccountRef | None, dict[str, object]]:
    """The account and its exam figures at this instant, in this transaction."""
    account = await accounts.get_account(conn, account_id)
    if account is None:
        return None, {}
    lot_rows = await lots.account_lots(conn, account_id)
    found = figures([lots.to_lot(r) for r in lot_rows], account.arrears_count, now)
    snapshot: dict[str, object] = {
        "status": account_status(account.arrears_since, now).value,
        "available": found.available,
        "used": found.used,
        "arrears": found.arrears,
        "expired": found.expired,
        "bought": found.bought,
        "arrearsSince": account.arrears_since.isoformat() if account.arrears_since else None,
    }
    return AccountRef(global_id("Account", account.id), account.name), snapshot
