"""The audit log (R-GEN-7): what was done, by whom, with what result."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ...domain.errors import RuleViolation
from ...services.queries import access as reads
from .. import connections as conn_
from .. import ids
from ..connections import Connection
from ..context import Info
from .types import AuditRecord

MAX_SEARCH = 100  # a search is a few words; LIKE over long patterns costs per row


@strawberry.type
class AccessQuery:
    @strawberry.field(
        description="Operators: every record (or one account's); account admins: their "
        "account's. Newest first. `search`: words, each found (case-insensitive) in the "
        "operation, principal, result or arguments."
    )
    async def audit_log(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        account_id: strawberry.ID | None = None,
        principal: str | None = None,
        operation: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        search: str | None = None,
    ) -> Connection[AuditRecord]:
        if search is not None and len(search) > MAX_SEARCH:
            raise RuleViolation("SEARCH_TOO_LONG", "search", {"limit": MAX_SEARCH})
        size = conn_.page_size(first)
        start = conn_.start_of(after)
        page = await reads.audit_page(
            info.context.reader,
            account_id=ids.decode(
                account_id, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId"
            )
            if account_id is not None
            else None,
            principal=principal,
            operation=operation,
            since=since,
            until=until,
            after_id=start.after_pk,
            offset=start.offset,
            limit=size + 1,
            search=search.strip() if search else None,
        )
        return conn_.build(page.rows, size, page.total, AuditRecord.from_row)
