"""Steps that add accounts, institutions, agreements and operator tokens (R-GEN-2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ... import security
from ...domain.clock import local_date
from ...domain.errors import RuleViolation
from ...store import accounts, tokens
from ..checks import check_text
from ..principals import Role


async def add_account(conn: AsyncConnection, *, name: str, now: datetime) -> int:
    return await accounts.insert_account(conn, name=check_text(name, "name"), now=now)


@dataclass(frozen=True)
class IssuedInstitution:
    institution_id: int
    token: str  # shown once, never stored


async def add_institution(
    conn: AsyncConnection, *, account_id: int, name: str, now: datetime, keys: security.KeyBox
) -> IssuedInstitution:
    name = check_text(name, "name")
    if await accounts.get_account(conn, account_id) is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    token = security.new_token("ibi")
    institution_id = await accounts.insert_institution(
        conn,
        account_id=account_id,
        name=name,
        token_key=keys.seal(security.signing_key(token)),
        now=now,
    )
    return IssuedInstitution(institution_id, token)


async def add_agreement(
    conn: AsyncConnection,
    *,
    account_id: int,
    number: str,
    signed_on: date,
    channel_partner: str,
    actor: str,
    now: datetime,
) -> int:
    """R-GEN-2: the signed offline cooperation agreement that lets an account order."""
    code = "R_GEN_2_AGREEMENT_FIELDS"
    number = check_text(number, "number", code=code, limit=100)
    channel_partner = check_text(channel_partner, "channelPartner", code=code)
    if signed_on > local_date(now):  # R-GEN-6: the day as signed, in Shanghai
        raise RuleViolation(code, "signedOn")
    if await accounts.lock_account(conn, account_id) is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    return await accounts.insert_agreement(
        conn,
        account_id=account_id,
        number=number,
        signed_on=signed_on,
        channel_partner=channel_partner,
        actor=actor,
        now=now,
    )


async def add_operator_token(conn: AsyncConnection, *, name: str, now: datetime) -> str:
    """An operator API token, returned once; only its digest is stored."""
    token = security.new_token("ibo")
    await tokens.insert_token(
        conn,
        name=check_text(name, "name"),
        token_hash=security.digest(token),
        role=Role.OPERATOR.value,
        now=now,
    )
    return token
