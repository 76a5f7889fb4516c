"""Commerce types: products and prices, quotes, orders and payments (R-ORD, R-GEN-3).

The links back to accounts and institutions are lazy: `Account` inherits the commerce
fields (commerce/fields.py), which return these types."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from graphql import GraphQLSchema
from strawberry import relay

from ...domain.catalog import ServiceVariant
from ...domain.orders import (
    MAX_ORDER_LINES,
    Channel,
    LineRequest,
    OrderState,
    check_line_count,
)
from ...services.queries import commerce as reads
from ...services.records import OrderRecord, PriceRecord
from .. import ids
from ..context import Info, ResolveInfo, Resolver
from ..errors import UserError
from ..scalars import Fen

if TYPE_CHECKING:
    from ..accounts.types import Account, Institution

_ACCOUNTS = "imaging_billing.api.accounts.types"

strawberry.enum(OrderState, name="OrderState")
strawberry.enum(Channel, name="OrderChannel")
strawberry.enum(ServiceVariant, name="ServiceVariant")


@strawberry.type(description="A product of the purchase guide and its price in force now.")
class Product:
    code: str
    family: str
    unit: int = strawberry.field(description="Quantities are whole multiples of this.")
    per_year: bool
    online: bool = strawberry.field(description="False: recorded by an operator only (R-AI-4).")
    per_institution: bool
    unit_price_fen: int | None = strawberry.field(graphql_type=Fen | None)


@strawberry.type
class PriceEntry(relay.Node):
    id: relay.NodeID[int]
    product: str
    unit_price_fen: int = strawberry.field(graphql_type=Fen)
    effective_from: datetime
    set_by: str

    @classmethod
    def from_row(cls, row: PriceRecord) -> PriceEntry:
        return cls(
            id=row.id,
            product=row.product,
            unit_price_fen=row.unit_price_fen,
            effective_from=row.effective_from,
            set_by=row.set_by,
        )


@strawberry.input
class OrderLineInput:
    product: str
    quantity: int
    years: int | None = None
    institution_id: strawberry.ID | None = None
    institution_name: str | None = strawberry.field(
        default=None, description="R-SVC-4: for a service, an institution not yet on the platform."
    )
    variant: ServiceVariant | None = None
    starts_on: date | None = strawberry.field(
        default=None, description="Maintenance start, within a year of purchase (R-SVC-3)."
    )

    def to_request(self, index: int) -> LineRequest:
        institution = None
        if self.institution_id is not None:
            institution = ids.decode(
                self.institution_id,
                "Institution",
                missing="INSTITUTION_NOT_FOUND",
                field=f"lines[{index}].institutionId",
            )
        return LineRequest(
            product=self.product,
            quantity=self.quantity,
            years=self.years,
            institution_id=institution,
            institution_name=self.institution_name,
            variant=self.variant,
            starts_on=self.starts_on,
        )


def requests(lines: list[OrderLineInput]) -> list[LineRequest]:
    check_line_count(lines)  # before decoding a single line
    return [line.to_request(index) for index, line in enumerate(lines)]


def cap_order_lines(schema: GraphQLSchema) -> None:
    """Hand the resolvers of `quote`, `placeOrder` and `recordOfflineOrder` at most one line
    past MAX_ORDER_LINES: that one is enough for them to refuse the basket
    (ORDER_TOO_MANY_LINES, through the usual payload), and Strawberry then converts 51
    lines into input objects instead of tens of thousands (~2 s for 20,000)."""
    for root in (schema.query_type, schema.mutation_type):
        assert root is not None
        for field in root.fields.values():
            if "lines" in field.args and field.resolve is not None:
                field.resolve = _at_most_one_line_too_many(field.resolve)


def _at_most_one_line_too_many(resolve: Resolver) -> Resolver:
    def capped(root: object, info: ResolveInfo, **arguments: object) -> object:
        lines = arguments.get("lines")  # graphql-core has coerced it to a list
        if isinstance(lines, list) and len(lines) > MAX_ORDER_LINES:
            arguments["lines"] = lines[: MAX_ORDER_LINES + 1]
        return resolve(root, info, **arguments)

    return capped


@strawberry.type
class QuoteLine:
    product: str
    quantity: int
    years: int | None
    unit_price_fen: int = strawberry.field(graphql_type=Fen)
    amount_fen: int = strawberry.field(graphql_type=Fen)


@strawberry.type(description="R-ORD-4: a price preview; nothing is created.")
class QuoteResult:
    lines: list[QuoteLine] = strawberry.field(default_factory=list)
    total_fen: int | None = strawberry.field(default=None, graphql_type=Fen | None)
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class OrderLine:
    product: str
    quantity: int
    years: int | None
    institution_name: str | None
    variant: ServiceVariant | None
    starts_on: date | None
    remark: str | None
    unit_price_fen: int = strawberry.field(graphql_type=Fen)
    amount_fen: int = strawberry.field(graphql_type=Fen)
    institution_pk: strawberry.Private[int | None]

    @strawberry.field
    async def institution(
        self, info: Info
    ) -> Annotated[Institution, strawberry.lazy(_ACCOUNTS)] | None:
        from ..accounts.types import Institution

        if self.institution_pk is None:
            return None
        row = await info.context.loaders.institution.load(self.institution_pk)
        return Institution.from_row(row) if row is not None else None


@strawberry.type
class Payment:
    reference: str
    method: str
    amount_fen: int = strawberry.field(graphql_type=Fen)
    received_at: datetime


@strawberry.type
class Order(relay.Node):
    id: relay.NodeID[int]
    number: str = strawberry.field(
        description="What people see and write on a bank transfer: IB + the Asia/Shanghai "
        "day it was placed + its sequence that day, e.g. IB202612020001."
    )
    channel: str
    state: OrderState
    total_fen: int = strawberry.field(graphql_type=Fen)
    placed_at: datetime
    placed_by: str
    terms_accepted_at: datetime | None
    contract_ref: str | None
    paid_at: datetime | None
    fulfilled_at: datetime | None
    cancelled_at: datetime | None
    account_id: strawberry.Private[int]
    row: strawberry.Private[OrderRecord]

    @classmethod
    def from_row(cls, row: OrderRecord) -> Order:
        return cls(
            id=row.id,
            number=row.number,
            channel=row.channel,
            state=OrderState(row.state),
            total_fen=row.total_fen,
            placed_at=row.placed_at,
            placed_by=row.placed_by,
            terms_accepted_at=row.terms_accepted_at,
            contract_ref=row.contract_ref,
            paid_at=row.paid_at,
            fulfilled_at=row.fulfilled_at,
            cancelled_at=row.cancelled_at,
            account_id=row.account_id,
            row=row,
        )

    @strawberry.field
    async def lines(self, info: Info) -> list[OrderLine]:
        rows = await reads.order_lines(info.context.reader, self.row)
        return [
            OrderLine(
                product=r.product,
                quantity=r.quantity,
                years=r.years,
                institution_name=r.institution_name,
                variant=ServiceVariant(r.variant) if r.variant else None,
                starts_on=r.starts_on,
                remark=r.remark,
                unit_price_fen=r.unit_price_fen,
                amount_fen=r.amount_fen,
                institution_pk=r.institution_id,
            )
            for r in rows
        ]

    @strawberry.field(description="Whose order it is.")
    async def account(self, info: Info) -> Annotated[Account, strawberry.lazy(_ACCOUNTS)]:
        from ..accounts.types import Account

        row = await info.context.loaders.account.load(self.account_id)
        assert row is not None  # an order the principal sees is of an account it sees
        return Account.from_row(row)

    @strawberry.field
    async def payments(self, info: Info) -> list[Payment]:
        rows = await reads.order_payments(info.context.reader, self.row)
        return [
            Payment(
                reference=r.reference,
                method=r.method,
                amount_fen=r.amount_fen,
                received_at=r.received_at,
            )
            for r in rows
        ]
