"""People and the audit log as GraphQL types."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from ...domain.errors import describe
from ...services.principals import Role
from ...services.records import AuditEntryRecord, UserRecord
from .. import ids
from ..context import Info

if TYPE_CHECKING:
    from ..accounts.types import Account

_ACCOUNTS = "imaging_billing.api.accounts.types"


@strawberry.type
class User(relay.Node):
    id: relay.NodeID[int]
    email: str
    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None = strawberry.field(
        default=None, description="Set while the user may not log in."
    )

    @classmethod
    def from_row(cls, row: UserRecord) -> User:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=Role(row.role),
            created_at=row.created_at,
            disabled_at=row.disabled_at,
        )


@strawberry.type(description="Append-only record of a mutation or login attempt.")
class AuditRecord(relay.Node):
    id: relay.NodeID[int]
    occurred_at: datetime
    principal: str
    role: str
    account_id: relay.GlobalID | None
    operation: str
    arguments: JSON = strawberry.field(description="As given, secrets redacted.")
    result: str = strawberry.field(description="`ok` or the error code.")
    request_id: str = strawberry.field(description="The server's id of the request.")
    correlation_id: str | None = strawberry.field(
        description="The client's own `X-Request-Id`, if it sent one (printable ASCII)."
    )
    client_address: str | None

    @classmethod
    def from_row(cls, row: AuditEntryRecord) -> AuditRecord:
        return cls(
            id=row.id,
            occurred_at=row.occurred_at,
            principal=row.principal,
            role=row.role,
            account_id=ids.encode("Account", row.account_id) if row.account_id else None,
            operation=row.operation,
            arguments=json.loads(row.arguments) if row.arguments.startswith("{") else {},
            result=row.result,
            request_id=row.request_id,
            correlation_id=row.correlation_id,
            client_address=row.client_address,
        )

    @strawberry.field(
        description="The result in words, in the request's language; null when `ok` or unknown."
    )
    def result_message(self, info: Info) -> str | None:
        if self.result == "ok":
            return None
        return describe(self.result, english=info.context.lang == "en")


@strawberry.type
class SessionViewer:
    role: Role
    name: str
    email: str | None
    account_id: strawberry.Private[int | None]

    @strawberry.field
    async def account(self, info: Info) -> Annotated[Account, strawberry.lazy(_ACCOUNTS)] | None:
        from ..accounts.types import Account

        if self.account_id is None:
            return None
        row = await info.context.loaders.account.load(self.account_id)
        return Account.from_row(row) if row is not None else None
