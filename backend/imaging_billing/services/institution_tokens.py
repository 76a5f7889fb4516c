"""Institution tokens: shown once, rotatable with a grace period, revocable.

The token itself is never stored. Its signing key (security.signing_key) is stored
sealed with the server secret (security.KeyBox), so the database alone signs nothing.
After a rotation the previous token keeps working for `ROTATION_GRACE` (24 hours), long
enough for a hospital to roll the new token out to every gateway without a gap.
Revocation is immediate and also ends any grace period. Both tell every instance to drop
its cached keys of the institution (services/auth.py), in their transaction: a rollback
tells nobody.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from .. import security
from ..domain.errors import RuleViolation
from ..store import accounts, notify
from ..store.db import Database
from ..store.records import InstitutionRecord
from .principals import Principal

log = logging.getLogger("imaging_billing.institution_tokens")

ROTATION_GRACE = timedelta(hours=24)


@dataclass(frozen=True)
class Rotated:
    institution: InstitutionRecord
    token: str
    previous_valid_until: datetime


async def _own(
    conn: AsyncConnection, principal: Principal, institution_id: int
) -> InstitutionRecord:
    row = await accounts.get_institution(conn, institution_id)
    if row is None or not principal.can_see_account(row.account_id):
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    principal.require_account_admin(row.account_id, missing="INSTITUTION_NOT_FOUND")
    await accounts.lock_account(conn, row.account_id)
    return row


async def rotate(
    db: Database, principal: Principal, *, institution_id: int, now: datetime, keys: security.KeyBox
) -> Rotated:
    token = security.new_token("ibi")
    async with db.write() as conn:
        row = await _own(conn, principal, institution_id)
        keep_previous = row.token_revoked_at is None
        await accounts.update_institution(
            conn,
            institution_id,
            token_key=keys.seal(security.signing_key(token)),
            previous_token_key=row.token_key if keep_previous else None,
            previous_valid_until=now + ROTATION_GRACE if keep_previous else None,
            token_revoked_at=None,
        )
        await notify.credentials_revoked(conn, institution_id)
        updated = await accounts.get_institution(conn, institution_id)
    assert updated is not None
    return Rotated(updated, token, now + ROTATION_GRACE)


async def revoke(
    db: Database, principal: Principal, *, institution_id: int, now: datetime
) -> InstitutionRecord:
    async with db.write() as conn:
        await _own(conn, principal, institution_id)
        await accounts.update_institution(
            conn,
            institution_id,
            token_revoked_at=now,
            previous_token_key=None,
            previous_valid_until=None,
        )
        await notify.credentials_revoked(conn, institution_id)
        updated = await accounts.get_institution(conn, institution_id)
    assert updated is not None
    return updated


def accepted_keys(row: InstitutionRecord, now: datetime) -> list[str]:
    """The stored (sealed) keys that may sign for this institution at `now`."""
    if row.token_revoked_at is not None:
        return []
    keys = [row.token_key]
    if row.previous_token_key and row.previous_valid_until and now < row.previous_valid_until:
        keys.append(row.previous_token_key)
    return keys


@dataclass(frozen=True)
class SealReport:
    sealed: int  # rows whose plain key was sealed now
    unreadable: int  # sealed keys this server secret cannot open


async def seal_legacy(db: Database, keys: security.KeyBox) -> SealReport:
    """Seal keys stored in the clear (before migration 0004 they were the plain SHA-256
    of the token) and count sealed keys the current secret cannot open. Idempotent; run
    at start-up after the migrations, since the secret never enters the database."""
    sealed = unreadable = 0
    async with db.write() as conn:
        for row in await accounts.institution_keys(conn):
            values: dict[str, str] = {}
            for column in ("token_key", "previous_token_key"):
                stored = getattr(row, column)
                if stored is None:
                    continue
                if not security.is_sealed(stored):
                    values[column] = keys.seal(stored)
                elif keys.open(stored) is None:
                    unreadable += 1
            if values:
                await accounts.update_institution(conn, row.id, **values)
                sealed += 1
    if unreadable:
        log.error(
            "%d institution keys do not open with this server secret: those gateways are "
            "refused until SERVER_SECRET is the one that sealed them",
            unreadable,
        )
    return SealReport(sealed, unreadable)
