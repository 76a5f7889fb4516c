"""Query fields. Objects of other accounts resolve exactly like unknown IDs: null."""

from __future__ import annotations

from enum import Enum
from typing import Any

import strawberry
from strawberry import relay

from ..domain.errors import RuleViolation
from ..domain.text import storable
from ..services import reading, reconcile
from ..store import accounts, exams, ledger, lots, notices, orders
from ..store import ai as ai_store
from ..store import entitlements as entitlement_store
from . import connections as conn_
from . import ids
from .ai import AiLicence, AiPack, AiRead
from .commerce_fields import Order
from .connections import Connection
from .context import Info
from .entitlements import Licence, ServiceContract
from .enums import AccountStatus, Role
from .types import (
    Account,
    Agreement,
    Exam,
    ExamLot,
    Institution,
    LedgerEntry,
    Notice,
    UploadPermission,
)


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
        async with info.context.db.read() as conn:
            row = await accounts.get_account(conn, self.account_id)
        return Account.from_row(row) if row else None

    @strawberry.field
    async def institution(self, info: Info) -> Institution | None:
        if self.institution_id is None:
            return None
        async with info.context.db.read() as conn:
            row = await accounts.get_institution(conn, self.institution_id)
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


def _of_account(row: Any) -> tuple[int, None]:
    return row.account_id, None


def _of_institution(row: Any) -> tuple[int, int | None]:
    return row.account_id, row.institution_id


# type name -> (load by primary key, GraphQL type, the owning account and institution)
LOADERS: dict[str, tuple[Any, Any, Any]] = {
    "Account": (accounts.get_account, Account, lambda r: (r.id, None)),
    "Institution": (accounts.get_institution, Institution, lambda r: (r.account_id, r.id)),
    "ExamLot": (lots.get_lot, ExamLot, _of_account),
    "Exam": (exams.get_exam, Exam, _of_institution),
    "LedgerEntry": (ledger.get_entry, LedgerEntry, _of_account),
    "Notice": (notices.get_notice, Notice, _of_account),
    "Agreement": (accounts.get_agreement, Agreement, _of_account),
    "Order": (orders.get_order, Order, _of_account),
    "AiPack": (ai_store.get_pack, AiPack, _of_account),
    "AiLicence": (ai_store.get_licence, AiLicence, _of_institution),
    "AiRead": (ai_store.get_read, AiRead, _of_institution),
    "Licence": (entitlement_store.get_licence, Licence, _of_institution),
    "Service": (entitlement_store.get_service, ServiceContract, _of_institution),
}


async def _node(info: Info, value: strawberry.ID) -> Any:
    """Load any node, scoped to the principal; malformed or foreign IDs are simply null."""
    principal = info.context.principal
    try:
        gid = relay.GlobalID.from_id(value)
    except (ValueError, TypeError):
        return None
    if gid.type_name not in LOADERS:
        return None
    load, kind, owners = LOADERS[gid.type_name]
    try:
        pk = ids.decode(value, gid.type_name, missing="NODE_NOT_FOUND", field="id")
    except RuleViolation:
        return None
    async with info.context.db.read() as conn:
        row = await load(conn, pk)
    if row is None:
        return None
    account_id, institution_id = owners(row)
    if not reading.may_read(
        principal, gid.type_name, account_id=account_id, institution_id=institution_id
    ):
        return None  # another account's, or not a gateway's (R-GEN-8): as if unknown
    return kind.from_row(row)


@strawberry.type
class LedgerQuery:
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
        node: relay.Node | None = await _node(info, id)
        return node

    @strawberry.field
    async def account(self, info: Info, id: strawberry.ID) -> Account | None:
        node = await _node(info, id)
        return node if isinstance(node, Account) else None

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
        now = info.context.now()
        by_arrears = order_by is AccountOrder.ARREARS
        offset = conn_.after_offset(after) if by_arrears else 0
        state = status.value if status else None
        async with info.context.db.read() as conn:
            rows = await accounts.page_accounts(
                conn,
                after_id=None if by_arrears else conn_.after_pk(after),
                offset=offset,
                limit=size + 1,
                search=search,
                status=state,
                now=now,
                by_arrears=by_arrears,
            )
            total = await accounts.count_accounts(conn, search, state, now)
        return conn_.build(
            rows, size, total, Account.from_row, offset=offset if by_arrears else None
        )

    @strawberry.field(description="R-EXAM-4/5: an exam by its Study Instance UID.")
    async def exam(
        self, info: Info, institution_id: strawberry.ID, study_instance_uid: str
    ) -> Exam | None:
        institution = ids.decode(
            institution_id, "Institution", missing="INSTITUTION_NOT_FOUND", field="institutionId"
        )
        async with info.context.db.read() as conn:
            row = await reading.find_exam(
                conn, info.context.principal, institution, study_instance_uid
            )
        return Exam.from_row(row) if row is not None else None

    @strawberry.field(description="R-ARR-5: may this institution upload now?")
    async def upload_permission(
        self, info: Info, institution_id: strawberry.ID
    ) -> UploadPermission:
        institution = ids.decode(
            institution_id, "Institution", missing="INSTITUTION_NOT_FOUND", field="institutionId"
        )
        async with info.context.db.read() as conn:
            found = await reading.upload_permission(
                conn, info.context.principal, institution, info.context.now()
            )
        p = found.permission
        return UploadPermission(allowed=p.allowed, reason=p.reason, suspends_at=p.suspends_at)

    @strawberry.field(description="Operators: R-GEN-7 reconciliation of one account.")
    async def reconcile_account(self, info: Info, account_id: strawberry.ID) -> Reconciliation:
        pk = ids.decode(account_id, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId")
        found = await reconcile.reconcile(info.context.db, info.context.principal, pk)
        return Reconciliation(
            ok=not found, discrepancies=[Discrepancy(**d.__dict__) for d in found]
        )
