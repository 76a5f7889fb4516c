"""The payee of bank transfers: read by anyone signed in, set by operators."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ...services import payee as payee_service
from ...services.payee import PayeeRecord
from ..context import Info
from ..errors import UserError, attempt


@strawberry.type(description="Whom to pay by bank transfer; write the order number on it.")
class Payee:
    name: str
    bank: str
    account_number: str = strawberry.field(description="Digits only.")
    updated_at: datetime

    @classmethod
    def from_record(cls, record: PayeeRecord) -> Payee:
        return cls(
            name=record.payee.name,
            bank=record.payee.bank,
            account_number=record.payee.account_number,
            updated_at=record.updated_at,
        )


@strawberry.type
class SetPayeePayload:
    payee: Payee | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PayeeQuery:
    @strawberry.field(description="The payee of bank transfers; null until operators set it.")
    async def payee(self, info: Info) -> Payee | None:
        record = await payee_service.get_payee(info.context.db)
        return Payee.from_record(record) if record is not None else None


@strawberry.type
class PayeeMutation:
    @strawberry.mutation(description="Operators: the payee the console shows on every pay step.")
    async def set_payee(
        self, info: Info, name: str, bank: str, account_number: str
    ) -> SetPayeePayload:
        c = info.context
        record, errors = await attempt(
            c.lang,
            payee_service.set_payee(
                c.db,
                c.principal,
                name=name,
                bank=bank,
                account_number=account_number,
                now=c.now(),
            ),
        )
        return SetPayeePayload(
            payee=Payee.from_record(record) if record is not None else None, user_errors=errors
        )
