"""The root of the graph: who is calling, any object by its ID, and the accounts."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import assert_never

import strawberry
from strawberry import relay

from ..domain.errors import RuleViolation
from ..domain.text import storable
from ..services import people
from ..services.queries import accounts as reads
from ..services.queries import nodes
from ..services.records import (
    AccountRecord,
    AgreementRecord,
    AiLicenceRecord,
    AiPackRecord,
    AiReadRecord,
    ExamRecord,
    InstitutionRecord,
    LedgerEntryRecord,
    LicenceRecord,
    LotRecord,
    NoticeRecord,
    OrderRecord,
    ServiceContractRecord,
)
from . import connections as conn_
from . import ids
from .access.types import AuditRecord, User
from .accounts.types import Account, Agreement, Institution
from .ai import AiLicence, AiPack, AiRead
from .commerce.types import Order
from .connections import Connection
from .context import Info
from .entitlements import Licence, ServiceContract
from .enums import AccountStatus, Language, Role
from .exams.types import Exam, ExamLot
from .ledger.types import LedgerEntry, Notice

# GraphQL type name -> the type built from what services/queries/nodes.py finds.
_NODE_TYPES: dict[str, type[relay.Node]] = {
    "Account": Account,
    "Institution": Institution,
    "ExamLot": ExamLot,
    "Exam": Exam,
    "LedgerEntry": LedgerEntry,
    "Notice": Notice,
    "Agreement": Agreement,
    "Order": Order,
    "AiPack": AiPack,
    "AiLicence": AiLicence,
    "AiRead": AiRead,
    "Licence": Licence,
    "Service": ServiceContract,
}
assert set(_NODE_TYPES) == nodes.NODE_TYPES
NODE_TYPES: tuple[type, ...] = (*_NODE_TYPES.values(), User, AuditRecord)


@strawberry.enum
class AccountOrder(Enum):
    ID = "ID"
    ARREARS = "ARREARS"


@strawberry.type
class Viewer:
    role: Role
    name: str
    email: str | None
    account_id: strawberry.Private[int | None]
    institution_id: strawberry.Private[int | None]

    @strawberry.field
    async def account(self, info: Info) -> Account | None:
        if self.account_id is None:
            return None
        row = await info.context.loaders.account.load(self.account_id)
        return Account.from_row(row) if row else None

    @strawberry.field(description="The console language this person chose (null: not yet).")
    async def language(self, info: Info) -> Language | None:
        return await people.my_language(info.context.reader, info.context.principal)

    @strawberry.field
    async def institution(self, info: Info) -> Institution | None:
        if self.institution_id is None:
            return None
        row = await info.context.loaders.institution.load(self.institution_id)
        return Institution.from_row(row) if row else None


@strawberry.type
class Discrepancy:
    subject: str
    check: str
    expected: int
    actual: int


@strawberry.type(description="R-GEN-7: cached figures checked against the ledger.")
class Reconciliation:
    ok: bool
    discrepancies: list[Discrepancy]


def _as_node(row: nodes.NodeRecord, now: datetime) -> relay.Node:
    """The GraphQL object of a record `nodes.node` found: one record type per node type."""
    match row:
        case AccountRecord():
            return Account.from_row(row)
        case InstitutionRecord():
            return Institution.from_row(row)
        case LotRecord():
            return ExamLot.from_row(row, now)
        case ExamRecord():
            return Exam.from_row(row)
        case LedgerEntryRecord():
            return LedgerEntry.from_row(row)
        case NoticeRecord():
            return Notice.from_row(row)
        case AgreementRecord():
            return Agreement.from_row(row)
        case OrderRecord():
            return Order.from_row(row)
        case AiPackRecord():
            return AiPack.from_row(row)
        case AiLicenceRecord():
            return AiLicence.from_row(row)
        case AiReadRecord():
            return AiRead.from_row(row)
        case LicenceRecord():
            return Licence.from_row(row)
        case ServiceContractRecord():
            return ServiceContract.from_row(row)
    assert_never(row)


async def _node(info: Info, value: strawberry.ID) -> relay.Node | None:
    """A node the principal may see; malformed or foreign IDs are simply null."""
    try:
        gid = relay.GlobalID.from_id(value)
    except (ValueError, TypeError):
        return None
    if gid.type_name not in _NODE_TYPES:
        return None
    try:
        pk = ids.decode(value, gid.type_name, missing="NODE_NOT_FOUND", field="id")
    except RuleViolation:
        return None
    row = await nodes.node(info.context.reader, gid.type_name, pk)
    return _as_node(row, info.context.now()) if row is not None else None


@strawberry.type
class RootQuery:
    @strawberry.field(description="Who is calling.")
    def viewer(self, info: Info) -> Viewer:
        p = info.context.principal
        return Viewer(
            role=p.role,
            name=p.name,
            email=p.email,
            account_id=p.account_id,
            institution_id=p.institution_id,
        )

    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        return await _node(info, id)

    @strawberry.field
    async def account(self, info: Info, id: strawberry.ID) -> Account | None:
        node = await _node(info, id)
        if not isinstance(node, Account):
            return None
        info.context.steady.rests_on(node.id, node.row.revision)
        return node

    @strawberry.field(
        description="Operators: every account; `search` matches the name, `status` filters, "
        "`orderBy: ARREARS` puts the largest arrears first."
    )
    async def accounts(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        search: str | None = None,
        status: AccountStatus | None = None,
        order_by: AccountOrder = AccountOrder.ID,
    ) -> Connection[Account]:
        info.context.principal.require_operator()
        if search is not None and not storable(search):
            raise RuleViolation("NAME_REQUIRED", "search")
        size = conn_.page_size(first)
        by_arrears = order_by is AccountOrder.ARREARS
        offset = conn_.after_offset(after) if by_arrears else 0
        page = await reads.accounts_page(
            info.context.reader,
            after_id=None if by_arrears else conn_.after_pk(after),
            offset=offset,
            limit=size + 1,
            search=search,
            status=status.value if status else None,
            now=info.context.now(),
            by_arrears=by_arrears,
        )
        return conn_.build(
            page.rows, size, page.total, Account.from_row, offset=offset if by_arrears else None
        )

    @strawberry.field(description="Operators: R-GEN-7 reconciliation of one account.")
    async def reconcile_account(self, info: Info, account_id: strawberry.ID) -> Reconciliation:
        pk = ids.decode(account_id, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId")
        found = await reads.reconcile(info.context.reader, pk)
        return Reconciliation(
            ok=not found, discrepancies=[Discrepancy(**d.__dict__) for d in found]
        )
