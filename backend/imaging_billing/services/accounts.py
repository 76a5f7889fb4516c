"""The operator's use cases on accounts: create one, its institutions, its agreement
(R-GEN-2) and its low-balance threshold (R-ARR-2)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from .. import security
from ..domain.errors import RuleViolation
from ..store import accounts
from ..store.db import Database
from ..store.records import AccountRecord, AgreementRecord, InstitutionRecord
from .principals import Principal
from .steps.accounts import add_account, add_agreement, add_institution


async def create_account(
    db: Database, principal: Principal, *, name: str, threshold: int | None, now: datetime
) -> AccountRecord:
    principal.require_operator()
    async with db.write() as conn:
        account_id = await add_account(conn, name=name, now=now)
        if threshold is not None:
            await _set_threshold(conn, account_id=account_id, threshold=threshold)
        row = await accounts.get_account(conn, account_id)
    assert row is not None
    return row


async def create_institution(
    db: Database,
    principal: Principal,
    *,
    account_id: int,
    name: str,
    now: datetime,
    keys: security.KeyBox,
) -> tuple[InstitutionRecord, str]:
    """The institution and its API token, shown this once."""
    principal.require_operator()
    async with db.write() as conn:
        issued = await add_institution(conn, account_id=account_id, name=name, now=now, keys=keys)
        row = await accounts.get_institution(conn, issued.institution_id)
    assert row is not None
    return row, issued.token


async def record_agreement(
    db: Database,
    principal: Principal,
    *,
    account_id: int,
    number: str,
    signed_on: date,
    channel_partner: str,
    now: datetime,
) -> AgreementRecord:
    principal.require_operator()
    async with db.write() as conn:
        await add_agreement(
            conn,
            account_id=account_id,
            number=number,
            signed_on=signed_on,
            channel_partner=channel_partner,
            actor=principal.actor,
            now=now,
        )
        row = await accounts.latest_agreement(conn, account_id)
    assert row is not None
    return row


async def set_low_balance_threshold(
    db: Database, principal: Principal, *, account_id: int, threshold: int | None
) -> AccountRecord:
    """R-ARR-2 decision; None restores the default (10 % of the last lot bought)."""
    principal.require_operator()
    async with db.write() as conn:
        await _set_threshold(conn, account_id=account_id, threshold=threshold)
        row = await accounts.get_account(conn, account_id)
    assert row is not None
    return row


async def _set_threshold(conn: AsyncConnection, *, account_id: int, threshold: int | None) -> None:
    if threshold is not None and not 0 <= threshold <= 2**53:
        raise RuleViolation("THRESHOLD_INVALID", "threshold")
    if await accounts.lock_account(conn, account_id) is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    # Under a new threshold the low-balance notice is due again (R-ARR-2 decision).
    await accounts.update_account(
        conn, account_id, low_balance_threshold=threshold, low_balance_noticed=False
    )
