"""AI reading through GraphQL (R-AI-1..5): packs, licences, figures, renewals, reads.

Its fields of Account and Institution are mixed into those types (api/accounts/types.py)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import strawberry
from strawberry import relay

from ..domain import ai as rules
from ..domain.ai import ReadCover, ReadStatus
from ..domain.catalog import AiProduct
from ..services import ai as cases
from ..services.queries import ai as reads
from ..services.records import AiLicenceRecord, AiPackRecord, AiReadRecord
from . import connections as conn_
from . import ids
from .connections import Connection
from .context import Info
from .errors import UserError, attempt

T = TypeVar("T")

strawberry.enum(AiProduct, name="AiProduct")
strawberry.enum(ReadStatus, name="AiReadStatus")
strawberry.enum(ReadCover, name="AiReadCover")


def _order(order_id: int | None) -> relay.GlobalID | None:
    return ids.encode("Order", order_id) if order_id is not None else None


@strawberry.type(description="R-AI-1: glaucoma AI read credits, to be used within one year.")
class AiPack(relay.Node):
    id: relay.NodeID[int]
    product: AiProduct
    quantity: int
    used: int
    purchased_at: datetime
    expires_at: datetime = strawberry.field(description="One calendar year after purchase.")
    order_id: relay.GlobalID | None

    @classmethod
    def from_row(cls, row: AiPackRecord) -> AiPack:
        return cls(
            id=row.id,
            product=AiProduct(row.product),
            quantity=row.quantity,
            used=row.used,
            purchased_at=row.purchased_at,
            expires_at=row.expires_at,
            order_id=_order(row.order_id),
        )

    @strawberry.field(description="True from the expiry instant on.")
    def expired(self, info: Info) -> bool:
        return bool(info.context.now() >= self.expires_at)

    @strawberry.field(description="Credits left to draw; 0 once expired.")
    def remaining(self, info: Info) -> int:
        return 0 if self.expired(info) else self.quantity - self.used

    @strawberry.field(description="Forfeited at expiry, swept or not yet.")
    def forfeited(self, info: Info) -> int:
        return self.quantity - self.used if self.expired(info) else 0


@strawberry.type(description="R-AI-4: a perpetual AI licence of one institution, unlimited reads.")
class AiLicence(relay.Node):
    id: relay.NodeID[int]
    product: AiProduct
    granted_at: datetime
    institution_id: relay.GlobalID
    order_id: relay.GlobalID | None

    @classmethod
    def from_row(cls, row: AiLicenceRecord) -> AiLicence:
        return cls(
            id=row.id,
            product=AiProduct(row.product),
            granted_at=row.granted_at,
            institution_id=ids.encode("Institution", row.institution_id),
            order_id=_order(row.order_id),
        )


@strawberry.type(description="One AI-assisted read of one study, by a pack credit or a licence.")
class AiRead(relay.Node):
    id: relay.NodeID[int]
    product: AiProduct
    study_instance_uid: str
    idempotency_key: str
    read_at: datetime
    covered_by: ReadCover
    institution_id: relay.GlobalID

    @classmethod
    def from_row(cls, row: AiReadRecord) -> AiRead:
        return cls(
            id=row.id,
            product=AiProduct(row.product),
            study_instance_uid=row.study_uid,
            idempotency_key=row.idempotency_key,
            read_at=row.read_at,
            covered_by=rules.cover_of(row.pack_id, row.licence_id),
            institution_id=ids.encode("Institution", row.institution_id),
        )


@strawberry.type(description="R-AI-5 per product: bought = remaining + used + expired.")
class AiFigures:
    product: AiProduct
    remaining: int
    bought: int
    used: int = strawberry.field(description="Credits drawn; licence reads draw none.")
    expired: int
    licensed_institutions: int = strawberry.field(
        description="Institutions holding a licence for the product (R-AI-4)."
    )
    licence_reads: int = strawberry.field(
        description="Reads covered by a licence (R-AI-4): unlimited, they draw no credit."
    )


@strawberry.type(description="R-AI-5: one purchase of a pack, for the renewal record.")
class AiRenewal:
    purchased_at: datetime
    product: AiProduct
    quantity: int
    order_id: relay.GlobalID | None
    pack_id: relay.GlobalID

    @classmethod
    def from_row(cls, row: AiPackRecord) -> AiRenewal:
        return cls(
            purchased_at=row.purchased_at,
            product=AiProduct(row.product),
            quantity=row.quantity,
            order_id=_order(row.order_id),
            pack_id=ids.encode("AiPack", row.id),
        )


@strawberry.type
class AccountAiFields:
    """AI fields of `Account`; `self.id` is the account's primary key."""

    if TYPE_CHECKING:
        id: int

    @strawberry.field(description="R-AI-5: per product with packs or licences; glaucoma always.")
    async def ai_figures(self, info: Info) -> list[AiFigures]:
        found = await reads.ai_figures(info.context.reader, self.id, info.context.now())
        info.context.steady.holds_until(found.changes_at)
        return [AiFigures(**figures.__dict__) for figures in found.figures]

    @strawberry.field(description="Packs by purchase; `includeExpired: false` keeps usable ones.")
    async def ai_packs(
        self, info: Info, first: int, after: str | None = None, include_expired: bool = True
    ) -> Connection[AiPack]:
        size = conn_.page_size(first)
        page = await reads.packs_page(
            info.context.reader,
            self.id,
            after_id=conn_.after_pk(after),
            limit=size + 1,
            unexpired_at=None if include_expired else info.context.now(),
        )
        return conn_.build(page.rows, size, page.total, AiPack.from_row)

    @strawberry.field(description="R-AI-5: every pack purchase, newest first.")
    async def ai_renewals(
        self, info: Info, first: int, after: str | None = None
    ) -> Connection[AiRenewal]:
        size = conn_.page_size(first)
        page = await reads.packs_page(
            info.context.reader,
            self.id,
            after_id=conn_.after_pk(after),
            limit=size + 1,
            newest_first=True,
        )
        return conn_.build(page.rows, size, page.total, AiRenewal.from_row)

    @strawberry.field(description="R-AI-4: the licences of every institution of the account.")
    async def ai_licences(self, info: Info) -> list[AiLicence]:
        rows = await reads.account_licences(info.context.reader, self.id)
        return [AiLicence.from_row(row) for row in rows]


@strawberry.type
class InstitutionAiFields:
    """AI fields of `Institution`; `self.id` is the institution's primary key."""

    if TYPE_CHECKING:
        id: int

    @strawberry.field(description="R-AI-4: the AI licences this institution holds.")
    async def ai_licences(self, info: Info) -> list[AiLicence]:
        rows = await info.context.loaders.ai_licences.load(self.id)
        return [AiLicence.from_row(row) for row in rows]


@strawberry.input
class AiReadInput:
    product: AiProduct
    study_instance_uid: str
    idempotency_key: str


@strawberry.type
class AiReadResult:
    idempotency_key: str
    study_instance_uid: str
    product: AiProduct
    status: ReadStatus
    read: AiRead | None
    error: UserError | None


@strawberry.type
class RecordAiReadPayload:
    status: ReadStatus | None = None
    read: AiRead | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordAiReadsPayload:
    results: list[AiReadResult] = strawberry.field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)


async def _record(
    info: Info, institution_id: strawberry.ID, items: list[rules.AiReadItem]
) -> list[cases.AiReadOutcome]:
    c = info.context
    pk = ids.decode(
        institution_id, "Institution", missing="INSTITUTION_NOT_FOUND", field="institutionId"
    )
    return await cases.record_reads(c.db, c.principal, institution_id=pk, items=items, now=c.now())


def _read(outcome: cases.AiReadOutcome) -> AiRead | None:
    return AiRead.from_row(outcome.read) if outcome.read is not None else None


def _result(outcome: cases.AiReadOutcome, lang: str) -> AiReadResult:
    error = outcome.error
    return AiReadResult(
        idempotency_key=outcome.item.idempotency_key,
        study_instance_uid=outcome.item.study_uid,
        product=outcome.item.product,
        status=outcome.status,
        read=_read(outcome),
        error=UserError.of(error, lang) if error is not None else None,
    )


@strawberry.type
class AiMutation:
    @strawberry.mutation(description="R-AI-1..4: the same idempotency key again draws nothing.")
    async def record_ai_read(
        self,
        info: Info,
        institution_id: strawberry.ID,
        product: AiProduct,
        study_instance_uid: str,
        idempotency_key: str,
    ) -> RecordAiReadPayload:
        item = rules.AiReadItem(product, study_instance_uid, idempotency_key)
        outcomes, errors = await attempt(info.context.lang, _record(info, institution_id, [item]))
        if not outcomes:
            return RecordAiReadPayload(user_errors=errors)
        outcome = outcomes[0]
        if outcome.error is not None:
            errors = [UserError.of(outcome.error, info.context.lang)]
        return RecordAiReadPayload(status=outcome.status, read=_read(outcome), user_errors=errors)

    @strawberry.mutation(description="Up to 1,000 reads; one result per item, in order.")
    async def record_ai_reads(
        self, info: Info, institution_id: strawberry.ID, items: list[AiReadInput]
    ) -> RecordAiReadsPayload:
        reads = [
            rules.AiReadItem(i.product, i.study_instance_uid, i.idempotency_key) for i in items
        ]
        outcomes, errors = await attempt(info.context.lang, _record(info, institution_id, reads))
        if outcomes is None:
            return RecordAiReadsPayload(user_errors=errors)
        statuses = [o.status for o in outcomes]
        return RecordAiReadsPayload(
            results=[_result(o, info.context.lang) for o in outcomes],
            accepted=statuses.count(ReadStatus.ACCEPTED),
            duplicates=statuses.count(ReadStatus.DUPLICATE),
            refused=statuses.count(ReadStatus.REFUSED),
        )
