"""Any object by its type name and key: the Relay `node` field, and the account an
audited operation concerned."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ...store import access, accounts, exams, ledger, lots, notices, orders, people
from ...store import ai as ai_store
from ...store import entitlements as entitlement_store
from ...store.db import Database
from ..reader import Reader
from ..reading import may_read

Getter = Callable[[AsyncConnection, int], Awaitable[Row[Any] | None]]

# GraphQL type name -> its look-up by key. Users and invitations are not nodes anyone
# may open by ID; they are here for the audit trail only.
_NODES: dict[str, Getter] = {
    "Account": accounts.get_account,
    "Institution": accounts.get_institution,
    "ExamLot": lots.get_lot,
    "Exam": exams.get_exam,
    "LedgerEntry": ledger.get_entry,
    "Notice": notices.get_notice,
    "Agreement": accounts.get_agreement,
    "Order": orders.get_order,
    "AiPack": ai_store.get_pack,
    "AiLicence": ai_store.get_licence,
    "AiRead": ai_store.get_read,
    "Licence": entitlement_store.get_licence,
    "Service": entitlement_store.get_service,
}
_AUDITED: dict[str, Getter] = {
    **_NODES,
    "User": access.get_user,
    "Invitation": people.get_invitation,
}
NODE_TYPES = frozenset(_NODES)


def _owners(type_name: str, row: Row[Any]) -> tuple[int, int | None]:
    """The account, and the institution where the object belongs to one."""
    if type_name == "Account":
        return row.id, None
    if type_name == "Institution":
        return row.account_id, row.id
    return row.account_id, getattr(row, "institution_id", None)


async def node(reader: Reader, type_name: str, pk: int) -> Row[Any] | None:
    """The object if the principal may see it (R-GEN-8); another account's, or what a
    gateway may not read, is None, exactly like an unknown key."""
    load = _NODES.get(type_name)
    if load is None:
        return None
    row = await reader.run(load, pk)
    if row is None:
        return None
    account_id, institution_id = _owners(type_name, row)
    if not may_read(
        reader.principal, type_name, account_id=account_id, institution_id=institution_id
    ):
        return None
    return row


async def owning_account(db: Database, type_name: str, pk: int) -> int | None:
    """The account an object belongs to (None for operators' own objects), for the audit
    trail of an operation that named it."""
    load = _AUDITED.get(type_name)
    if load is None:
        return None
    async with db.read() as conn:
        row = await load(conn, pk)
    if row is None or row.account_id is None:
        return None
    return int(row.account_id)
