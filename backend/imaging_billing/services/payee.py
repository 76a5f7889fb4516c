"""The payee of bank transfers (R-ORD-1 "pay"): set by operators, read by everyone who pays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.payee import Payee, check_payee
from ..store import settings
from ..store.db import Database
from .principals import Principal

PAYEE_KEY = "payee"


@dataclass(frozen=True)
class PayeeRecord:
    payee: Payee
    updated_at: datetime


async def get_payee(db: Database) -> PayeeRecord | None:
    async with db.read() as conn:
        found = await settings.get_setting(conn, PAYEE_KEY)
    if found is None:
        return None
    value, updated_at, _by = found
    return PayeeRecord(Payee(value["name"], value["bank"], value["accountNumber"]), updated_at)


async def set_payee(
    db: Database, principal: Principal, *, name: str, bank: str, account_number: str, now: datetime
) -> PayeeRecord:
    """Operators only; the whole payee is checked before anything is written."""
    principal.require_operator()
    payee = check_payee(name, bank, account_number)
    value = {"name": payee.name, "bank": payee.bank, "accountNumber": payee.account_number}
    async with db.write() as conn:
        await settings.put_setting(conn, PAYEE_KEY, value, now=now, actor=principal.actor)
    return PayeeRecord(payee, now)
