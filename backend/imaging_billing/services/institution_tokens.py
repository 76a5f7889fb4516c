"""Institution tokens: shown once, stored hashed, rotatable with a grace period, revocable.

After a rotation the previous token keeps working for `ROTATION_GRACE` (24 hours), long
enough for a hospital to roll the new token out to every gateway without a gap.
Revocation is immediate and also ends any grace period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Row

from .. import security
from ..domain.errors import RuleViolation
from ..store import accounts
from ..store.db import Database
from .principals import Principal

ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class Rotated:
    institution: Row[Any]
    token: str
    previous_valid_until: datetime


async def _own(conn: Any, principal: Principal, institution_id: int) -> Row[Any]:
    row = await accounts.get_institution(conn, institution_id)
    if row is None or not principal.can_see_account(row.account_id):
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    principal.require_account_admin(row.account_id, missing="INSTITUTION_NOT_FOUND")
    await accounts.lock_account(conn, row.account_id)
    return row


async def rotate(
    db: Database, principal: Principal, *, institution_id: int, now: datetime
) -> Rotated:
    token = security.new_token("ibi")
    async with db.write() as conn:
        row = await _own(conn, principal, institution_id)
        keep_previous = row.token_revoked_at is None
        await accounts.update_institution(
            conn,
            institution_id,
            token_hash=security.digest(token),
            previous_token_hash=row.token_hash if keep_previous else None,
            previous_valid_until=now + ROTATION_GRACE if keep_previous else None,
            token_revoked_at=None,
        )
        updated = await accounts.get_institution(conn, institution_id)
    assert updated is not None
    return Rotated(updated, token, now + ROTATION_GRACE)


async def revoke(
    db: Database, principal: Principal, *, institution_id: int, now: datetime
) -> Row[Any]:
    async with db.write() as conn:
        await _own(conn, principal, institution_id)
        await accounts.update_institution(
            conn,
            institution_id,
            token_revoked_at=now,
            previous_token_hash=None,
            previous_valid_until=None,
        )
        updated = await accounts.get_institution(conn, institution_id)
    assert updated is not None
    return updated


def accepted_digests(row: Any, now: datetime) -> list[str]:
    """The token digests that may sign for this institution at `now`."""
    if row.token_revoked_at is not None:
        return []
    digests = [row.token_hash]
    if row.previous_token_hash and row.previous_valid_until and now < row.previous_valid_until:
        digests.append(row.previous_token_hash)
    return digests
