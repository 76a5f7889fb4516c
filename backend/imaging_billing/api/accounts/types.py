"""Accounts, their institutions and agreements (R-GEN-1/2, R-ARR-1..3)."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum

import strawberry
from strawberry import relay

from ...domain import exams as rules
from ...domain import steady
from ...services.queries import accounts as reads
from ...services.records import AccountRecord, AgreementRecord, InstitutionRecord
from .. import connections as conn_
from ..access.fields import AccountAccessFields
from ..ai import AccountAiFields, InstitutionAiFields
from ..commerce.fields import AccountCommerceFields
from ..connections import Connection
from ..context import Info
from ..entitlements import AccountEntitlementFields, InstitutionEntitlementFields
from ..enums import AccountStatus
from ..exams.fields import AccountExamFields
from ..ledger.fields import AccountLedgerFields


@strawberry.type(description="R-GEN-2: the signed offline cooperation agreement.")
class Agreement(relay.Node):
    id: relay.NodeID[int]
    number: str
    signed_on: date
    channel_partner: str
    recorded_at: datetime

    @classmethod
    def from_row(cls, row: AgreementRecord) -> Agreement:
        return cls(
            id=row.id,
            number=row.number,
            signed_on=row.signed_on,
            channel_partner=row.channel_partner,
            recorded_at=row.recorded_at,
        )


@strawberry.enum
class TokenState(Enum):
    ACTIVE = "ACTIVE"
    ROTATING = "ROTATING"  # the previous token still works until previousValidUntil
    REVOKED = "REVOKED"


@strawberry.type(description="The institution's API token, never the token itself.")
class InstitutionToken:
    state: TokenState
    previous_valid_until: datetime | None
    revoked_at: datetime | None


@strawberry.type
class Institution(InstitutionAiFields, InstitutionEntitlementFields, relay.Node):
    id: relay.NodeID[int]
    name: str
    created_at: datetime
    account_id: strawberry.Private[int]
    row: strawberry.Private[InstitutionRecord]

    @classmethod
    def from_row(cls, row: InstitutionRecord) -> Institution:
        return cls(
            id=row.id, name=row.name, created_at=row.created_at, account_id=row.account_id, row=row
        )

    @strawberry.field
    def token(self, info: Info) -> InstitutionToken:
        row = self.row
        if row.token_revoked_at is not None:
            state = TokenState.REVOKED
        elif row.previous_valid_until is not None and info.context.now() < row.previous_valid_until:
            state = TokenState.ROTATING
        else:
            state = TokenState.ACTIVE
        return InstitutionToken(
            state=state,
            previous_valid_until=row.previous_valid_until if state is TokenState.ROTATING else None,
            revoked_at=row.token_revoked_at,
        )

    @strawberry.field
    async def account(self, info: Info) -> Account:
        row = await info.context.loaders.account.load(self.account_id)
        assert row is not None  # an institution the principal sees is of an account it sees
        return Account.from_row(row)


@strawberry.type
class Account(
    AccountAiFields,
    AccountEntitlementFields,
    AccountCommerceFields,
    AccountAccessFields,
    AccountExamFields,
    AccountLedgerFields,
    relay.Node,
):
    id: relay.NodeID[int]
    name: str
    created_at: datetime
    arrears_since: datetime | None = strawberry.field(description="R-ARR-1: the arrears clock.")
    row: strawberry.Private[AccountRecord]

    @classmethod
    def from_row(cls, row: AccountRecord) -> Account:
        return cls(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            arrears_since=row.arrears_since,
            row=row,
        )

    @strawberry.field
    def status(self, info: Info) -> AccountStatus:
        now = info.context.now()
        info.context.steady.holds_until(steady.status_changes(self.arrears_since, now))
        return AccountStatus(rules.account_status(self.arrears_since, now))

    @strawberry.field(description="R-ARR-3: when uploads stop unless arrears are settled.")
    def suspends_at(self) -> datetime | None:
        return rules.suspends_at(self.arrears_since)

    @strawberry.field(description="R-ARR-2: the low-balance notice threshold in force.")
    def low_balance_threshold(self) -> int:
        return rules.low_balance_threshold(
            self.row.low_balance_threshold, self.row.last_lot_quantity
        )

    @strawberry.field
    async def agreement(self, info: Info) -> Agreement | None:
        row = await info.context.loaders.agreement.load(self.id)
        return Agreement.from_row(row) if row is not None else None

    @strawberry.field
    async def institutions(
        self, info: Info, first: int, after: str | None = None
    ) -> Connection[Institution]:
        size = conn_.page_size(first)
        page = await reads.institutions_page(
            info.context.reader, self.id, after_id=conn_.after_pk(after), limit=size + 1
        )
        return conn_.build(page.rows, size, page.total, Institution.from_row)
