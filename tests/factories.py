"""Factories: `create_x(services, *, **overrides)`, through the real services."""

from __future__ import annotations

from datetime import date

from imaging_billing.api.context import Services
from imaging_billing.domain.exams import LotMode, lot_terms
from imaging_billing.domain.ledger import Cause
from imaging_billing.services.steps import lots as lot_steps
from imaging_billing.services.steps.accounts import (
    add_account,
    add_agreement,
    add_institution,
    add_operator_token,
)

from .support import Gateway


async def create_operator_token(services: Services, *, name: str = "ops") -> str:
    async with services.db.write() as conn:
        return await add_operator_token(conn, name=name, now=services.clock.now())


async def create_account(
    services: Services, *, name: str = "Hospital", agreement: bool = True
) -> int:
    now = services.clock.now()
    async with services.db.write() as conn:
        account_id = await add_account(conn, name=name, now=now)
        if agreement:
            await add_agreement(
                conn,
                account_id=account_id,
                number=f"AG-{account_id}",
                signed_on=date(2026, 1, 5),
                channel_partner="Channel",
                actor="test",
                now=now,
            )
    return account_id


async def create_institution(
    services: Services, account_id: int, *, name: str = "Main site"
) -> Gateway:
    async with services.db.write() as conn:
        issued = await add_institution(
            conn, account_id=account_id, name=name, now=services.clock.now(), keys=services.keys
        )
    return Gateway(issued.institution_id, issued.token)


async def credit_lot(
    services: Services,
    account_id: int,
    *,
    quantity: int = 10_000,
    mode: LotMode = LotMode.VOLUME,
    years: int | None = None,
) -> int:
    async with services.db.write() as conn:
        credit = await lot_steps.credit_lot(
            conn,
            account_id=account_id,
            terms=lot_terms(mode, quantity, years),
            now=services.clock.now(),
            actor="test",
            cause=Cause.OPERATOR,
        )
    return credit.lot_id
