"""Operators' account mutations (R-GEN-1/2, R-ARR-2). Each returns a payload; refusals are
`userErrors`, never exceptions, and nothing is written when there is one."""

from __future__ import annotations

from datetime import date

import strawberry

from ...services import commands
from .. import ids
from ..context import Info
from ..errors import UserError, attempt
from .types import Account, Agreement, Institution


def account_pk(value: strawberry.ID) -> int:
    return ids.decode(value, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId")


@strawberry.type
class CreateAccountPayload:
    account: Account | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class CreateInstitutionPayload:
    institution: Institution | None = None
    token: str | None = strawberry.field(
        default=None, description="Shown this once; only its digest is stored."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordAgreementPayload:
    agreement: Agreement | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class SetLowBalanceThresholdPayload:
    account: Account | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class AccountMutation:
    @strawberry.mutation
    async def create_account(
        self, info: Info, name: str, low_balance_threshold: int | None = None
    ) -> CreateAccountPayload:
        c = info.context
        row, errors = await attempt(
            info.context.lang,
            commands.create_account(
                c.db, c.principal, name=name, threshold=low_balance_threshold, now=c.now()
            ),
        )
        return CreateAccountPayload(account=row and Account.from_row(row), user_errors=errors)

    @strawberry.mutation(description="Returns the institution's API token once.")
    async def create_institution(
        self, info: Info, account_id: strawberry.ID, name: str
    ) -> CreateInstitutionPayload:
        c = info.context

        async def run() -> CreateInstitutionPayload:
            row, token = await commands.create_institution(
                c.db,
                c.principal,
                account_id=account_pk(account_id),
                name=name,
                now=c.now(),
                keys=c.services.keys,
            )
            return CreateInstitutionPayload(institution=Institution.from_row(row), token=token)

        payload, errors = await attempt(info.context.lang, run())
        return payload or CreateInstitutionPayload(user_errors=errors)

    @strawberry.mutation(description="R-GEN-2")
    async def record_agreement(
        self,
        info: Info,
        account_id: strawberry.ID,
        number: str,
        signed_on: date,
        channel_partner: str,
    ) -> RecordAgreementPayload:
        c = info.context

        async def run() -> Agreement:
            row = await commands.record_agreement(
                c.db,
                c.principal,
                account_id=account_pk(account_id),
                number=number,
                signed_on=signed_on,
                channel_partner=channel_partner,
                now=c.now(),
            )
            return Agreement.from_row(row)

        agreement, errors = await attempt(info.context.lang, run())
        return RecordAgreementPayload(agreement=agreement, user_errors=errors)

    @strawberry.mutation(description="R-ARR-2; null restores the default (10 % of the last lot).")
    async def set_low_balance_threshold(
        self, info: Info, account_id: strawberry.ID, threshold: int | None
    ) -> SetLowBalanceThresholdPayload:
        c = info.context

        async def run() -> Account:
            row = await commands.set_low_balance_threshold(
                c.db, c.principal, account_id=account_pk(account_id), threshold=threshold
            )
            return Account.from_row(row)

        account, errors = await attempt(info.context.lang, run())
        return SetLowBalanceThresholdPayload(account=account, user_errors=errors)
