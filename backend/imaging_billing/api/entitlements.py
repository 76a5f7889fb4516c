"""GraphQL for licences and services (R-LIC-1..5, R-SVC-1..4).

Its fields of Account and Institution are mixed into those types (api/accounts/types.py);
their resolvers read `self.id`, the institution's or account's key."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar

import strawberry
from strawberry import relay

from ..domain.catalog import (
    BASE_SUITE_MODULES,
    Feature,
    ServiceKind,
    ServiceVariant,
    licence_product,
)
from ..domain.entitlements import ServiceState
from ..services import entitlements as cases
from ..services.queries import entitlements as reads
from ..services.records import LicenceRecord, ServiceContractRecord
from . import connections as conn_
from . import ids
from .connections import Connection
from .context import Info
from .errors import UserError, attempt

strawberry.enum(Feature, name="Feature", description="R-LIC-2/3: the base suite and options.")
strawberry.enum(ServiceKind, name="ServiceKind")
strawberry.enum(ServiceVariant, name="ServiceVariant")
strawberry.enum(ServiceState, name="ServiceState", description="Derived at the current time.")

T = TypeVar("T")


def _gid(type_name: str, pk: int | None) -> relay.GlobalID | None:
    return ids.encode(type_name, pk) if pk is not None else None


@strawberry.type(description="R-LIC-1: a feature enabled for one institution, perpetual.")
class Licence(relay.Node):
    id: relay.NodeID[int]
    feature: Feature
    enabled_at: datetime
    institution_id: relay.GlobalID
    order_id: relay.GlobalID | None = strawberry.field(
        description="The order that bought it; null when recorded without one."
    )

    @classmethod
    def from_row(cls, row: LicenceRecord) -> Licence:
        return cls(
            id=row.id,
            feature=Feature(row.feature),
            enabled_at=row.enabled_at,
            institution_id=ids.encode("Institution", row.institution_id),
            order_id=_gid("Order", row.order_id),
        )


@strawberry.type(name="Service", description="R-SVC-1..4: one purchased service.")
class ServiceContract(relay.Node):
    id: relay.NodeID[int]
    kind: ServiceKind
    variant: ServiceVariant | None
    remark: str = strawberry.field(description="R-SVC-4: the institution's name and ID.")
    institution_name: str
    institution_id: relay.GlobalID | None = strawberry.field(
        description="Null for an institution not yet on the platform."
    )
    years: int | None = strawberry.field(description="Maintenance only (R-SVC-3).")
    purchased_at: datetime
    use_by: datetime = strawberry.field(description="R-SVC-1: unused by then, it expires.")
    starts_on: date | None = strawberry.field(description="Maintenance: its first day.")
    ends_on: date | None = strawberry.field(
        description="Maintenance: the first day (Asia/Shanghai) no longer covered."
    )
    started_at: datetime | None
    accepted_at: datetime | None
    order_id: relay.GlobalID | None
    row: strawberry.Private[ServiceContractRecord]

    @classmethod
    def from_row(cls, row: ServiceContractRecord) -> ServiceContract:
        return cls(
            id=row.id,
            kind=ServiceKind(row.kind),
            variant=ServiceVariant(row.variant) if row.variant else None,
            remark=row.remark,
            institution_name=row.institution_name,
            institution_id=_gid("Institution", row.institution_id),
            years=row.years,
            purchased_at=row.purchased_at,
            use_by=row.use_by,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            started_at=row.started_at,
            accepted_at=row.accepted_at,
            order_id=_gid("Order", row.order_id),
            row=row,
        )

    @strawberry.field
    def state(self, info: Info) -> ServiceState:
        return cases.service_state(self.row, info.context.now())


async def _services(
    info: Info,
    first: int,
    after: str | None,
    state: ServiceState | None,
    *,
    account_id: int | None = None,
    institution_id: int | None = None,
) -> Connection[ServiceContract]:
    size = conn_.page_size(first)
    page = await reads.services_page(
        info.context.reader,
        account_id=account_id,
        institution_id=institution_id,
        after_id=conn_.after_pk(after),
        limit=size + 1,
        state=state,
        now=info.context.now(),
    )
    return conn_.build(page.rows, size, page.total, ServiceContract.from_row)


@strawberry.type
class InstitutionEntitlementFields:
    """Mixed into Institution (R-LIC-5, R-SVC-1)."""

    if TYPE_CHECKING:
        id: int

    @strawberry.field(description="R-LIC-5: every licence, in enabling order.")
    async def licences(self, info: Info) -> list[Licence]:
        rows = await info.context.loaders.licences.load(self.id)
        return [Licence.from_row(row) for row in rows]

    @strawberry.field(description="R-LIC-5: the enabled features, in catalog order.")
    async def features(self, info: Info) -> list[Feature]:
        held = {r.feature for r in await info.context.loaders.licences.load(self.id)}
        return [feature for feature in Feature if feature in held]

    @strawberry.field(description="R-LIC-5: is this feature enabled for the institution?")
    async def feature_enabled(self, info: Info, feature: Feature) -> bool:
        held = {r.feature for r in await info.context.loaders.licences.load(self.id)}
        return feature.value in held

    @strawberry.field(description="The institution's services in purchase order.")
    async def services(
        self, info: Info, first: int, after: str | None = None, state: ServiceState | None = None
    ) -> Connection[ServiceContract]:
        return await _services(info, first, after, state, institution_id=self.id)


@strawberry.type
class AccountEntitlementFields:
    """Mixed into Account: services of every institution, in purchase order."""

    if TYPE_CHECKING:
        id: int

    @strawberry.field(description="`state` keeps the services in that state now.")
    async def services(
        self, info: Info, first: int, after: str | None = None, state: ServiceState | None = None
    ) -> Connection[ServiceContract]:
        return await _services(info, first, after, state, account_id=self.id)


@strawberry.type(description="R-LIC-2/3: a licence the catalog sells.")
class CatalogFeature:
    feature: Feature
    product: str = strawberry.field(description="The product code to order it with.")
    requires_base_suite: bool = strawberry.field(description="R-LIC-4")


@strawberry.type
class EntitlementQuery:
    @strawberry.field(description="R-LIC-2/3: the base suite first, then the options.")
    def catalog_features(self) -> list[CatalogFeature]:
        return [
            CatalogFeature(
                feature=feature,
                product=licence_product(feature),
                requires_base_suite=feature is not Feature.BASE_SUITE,
            )
            for feature in Feature
        ]

    @strawberry.field(description="R-LIC-2: what the mandatory, indivisible base suite holds.")
    def base_suite_modules(self) -> list[str]:
        return list(BASE_SUITE_MODULES)


@strawberry.type
class StartServicePayload:
    service: ServiceContract | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ConfirmServiceAcceptancePayload:
    service: ServiceContract | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _service_pk(value: strawberry.ID) -> int:
    return ids.decode(value, "Service", missing="SERVICE_NOT_FOUND", field="serviceId")


@strawberry.type
class EntitlementMutation:
    @strawberry.mutation(description="Operators: delivery or custom development began (R-SVC-2).")
    async def start_service(self, info: Info, service_id: strawberry.ID) -> StartServicePayload:
        c = info.context

        async def run() -> ServiceContract:
            row = await cases.start_service(
                c.db, c.principal, service_id=_service_pk(service_id), now=c.now()
            )
            return ServiceContract.from_row(row)

        service, errors = await attempt(info.context.lang, run())
        return StartServicePayload(service=service, user_errors=errors)

    @strawberry.mutation(description="R-SVC-2: the account's administrator accepts the work.")
    async def confirm_service_acceptance(
        self, info: Info, service_id: strawberry.ID
    ) -> ConfirmServiceAcceptancePayload:
        c = info.context

        async def run() -> ServiceContract:
            row = await cases.confirm_service_acceptance(
                c.db, c.principal, service_id=_service_pk(service_id), now=c.now()
            )
            return ServiceContract.from_row(row)

        service, errors = await attempt(info.context.lang, run())
        return ConfirmServiceAcceptancePayload(service=service, user_errors=errors)
