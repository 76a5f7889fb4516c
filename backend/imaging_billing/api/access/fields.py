"""The people fields of `Account`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from ...services.queries import access as reads
from .. import connections as conn_
from ..connections import Connection
from ..context import Info
from .types import User


@strawberry.type
class AccountAccessFields:
    """Mixed into Account; `self.id` is its key."""

    if TYPE_CHECKING:
        id: int

    @strawberry.field(description="People of this account (admins and operators).")
    async def users(self, info: Info, first: int, after: str | None = None) -> Connection[User]:
        size = conn_.page_size(first)
        page = await reads.users_page(
            info.context.reader, self.id, after_id=conn_.after_pk(after), limit=size + 1
        )
        return conn_.build(page.rows, size, page.total, User.from_row)
