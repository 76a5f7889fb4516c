"""The entitlement mixins through GraphQL, on a small schema of their own: the lead's
schema composes the same mixins into Institution, Account, Query and Mutation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import strawberry
from strawberry import relay

from imaging_billing.api.context import Context, Services
from imaging_billing.api.entitlements import (
    AccountEntitlementFields,
    EntitlementMutation,
    EntitlementQuery,
    InstitutionEntitlementFields,
    Licence,
    ServiceContract,
)
from imaging_billing.api.ids import encode
from imaging_billing.domain.catalog import BASE_SUITE_MODULES, Feature, ServiceKind
from imaging_billing.services import entitlements
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role

from ..factories import create_account, create_institution


@strawberry.type
class Institution(InstitutionEntitlementFields, relay.Node):
    id: relay.NodeID[int]


@strawberry.type
class Account(AccountEntitlementFields, relay.Node):
    id: relay.NodeID[int]


@strawberry.type
class Query(EntitlementQuery):
    @strawberry.field
    def institution(self, pk: int) -> Institution:
        return Institution(id=pk)

    @strawberry.field
    def account(self, pk: int) -> Account:
        return Account(id=pk)


@strawberry.type
class Mutation(EntitlementMutation):
    pass


schema = strawberry.Schema(query=Query, mutation=Mutation, types=[Licence, ServiceContract])

INSTITUTION = """
query($pk: Int!) { institution(pk: $pk) {
  features featureEnabled(feature: MPR) mobile: featureEnabled(feature: MOBILE)
  licences { feature enabledAt orderId institutionId }
  services(first: 10) { totalCount edges { node { kind state remark institutionId } } }
} }"""

ACCOUNT_SERVICES = """
query($pk: Int!, $state: ServiceState, $after: String) { account(pk: $pk) {
  services(first: 1, state: $state, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id kind variant years startsOn endsOn useBy state } }
  }
} }"""

START = """
mutation($id: ID!) { startService(serviceId: $id) {
  service { id state startedAt } userErrors { code field messageEn }
} }"""

ACCEPT = """
mutation($id: ID!) { confirmServiceAcceptance(serviceId: $id) {
  service { id state acceptedAt } userErrors { code field message }
} }"""


async def run(
    services: Services, principal: Principal, query: str, **variables: Any
) -> dict[str, Any]:
    context = Context(services=services, principal=principal, lang="en", request_id="test")
    try:
        result = await schema.execute(query, variable_values=variables, context_value=context)
    finally:
        await context.reader.close()  # what the HTTP endpoint does after every request
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


async def test_r_lic_5_an_institution_shows_its_enabled_features(
    services: Services, operator: Principal
) -> None:
    # given an institution with the base suite and MPR, and one service
    account = await create_account(services)
    site = (await create_institution(services, account, name="Site")).institution_pk
    async with services.db.write() as conn:
        for feature in (Feature.MPR, Feature.BASE_SUITE):
            await entitlements.enable_licence(
                conn,
                account_id=account,
                institution_id=site,
                feature=feature,
                now=services.clock.now(),
                order_id=None,
            )
        await entitlements.open_service(
            conn,
            account_id=account,
            institution_id=site,
            institution_name=None,
            kind=ServiceKind.DELIVERY,
            variant=None,
            years=None,
            starts_on=None,
            now=services.clock.now(),
            order_id=None,
        )
    # when a partner asks about the institution
    data = (await run(services, operator, INSTITUTION, pk=site))["institution"]
    # then it sees the features in catalog order and "is MPR enabled?" answered
    assert data["features"] == ["BASE_SUITE", "MPR"]
    assert (data["featureEnabled"], data["mobile"]) == (True, False)
    assert [lic["feature"] for lic in data["licences"]] == ["MPR", "BASE_SUITE"]
    assert data["licences"][0]["institutionId"] == str(encode("Institution", site))
    assert data["licences"][0]["orderId"] is None
    node = data["services"]["edges"][0]["node"]
    assert node == {
        "kind": "DELIVERY",
        "state": "PURCHASED",
        "remark": f"机构：Site；机构 ID：{encode('Institution', site)}",
        "institutionId": str(encode("Institution", site)),
    }


async def test_catalog_lists_the_base_suite_and_every_option(
    services: Services, operator: Principal
) -> None:
    query = "{ catalogFeatures { feature product requiresBaseSuite } baseSuiteModules }"
    data = await run(services, operator, query)
    assert data["baseSuiteModules"] == list(BASE_SUITE_MODULES)
    assert len(data["catalogFeatures"]) == len(Feature)
    assert data["catalogFeatures"][0] == {
        "feature": "BASE_SUITE",
        "product": "LICENCE_BASE_SUITE",
        "requiresBaseSuite": False,
    }
    assert all(f["requiresBaseSuite"] for f in data["catalogFeatures"][1:])


async def test_r_svc_2_start_and_accept_through_mutations(
    services: Services, operator: Principal, clock: ManualClock
) -> None:
    # given a custom development and a maintenance contract of one account
    account = await create_account(services)
    async with services.db.write() as conn:
        common: dict[str, Any] = {
            "account_id": account,
            "institution_id": None,
            "institution_name": "New site",
            "variant": None,
            "starts_on": None,
            "now": clock.now(),
            "order_id": None,
        }
        custom = await entitlements.open_service(
            conn, kind=ServiceKind.CUSTOM_DEV, years=None, **common
        )
        await entitlements.open_service(conn, kind=ServiceKind.MAINTENANCE, years=2, **common)
    service_id = str(encode("Service", custom))
    admin = Principal(Role.ACCOUNT_ADMIN, 5, "admin", account_id=account)
    # when the administrator accepts before work started / then it is refused as data
    early = (await run(services, admin, ACCEPT, id=service_id))["confirmServiceAcceptance"]
    assert early["service"] is None
    assert early["userErrors"][0]["code"] == "R_SVC_2_STATE"
    # when an operator starts it and the administrator accepts it
    clock.advance(timedelta(days=3))
    started = (await run(services, operator, START, id=service_id))["startService"]
    assert started["service"]["state"] == "IN_PROGRESS"
    accepted = (await run(services, admin, ACCEPT, id=service_id))["confirmServiceAcceptance"]
    assert (accepted["service"]["state"], accepted["userErrors"]) == ("ACCEPTED", [])
    # then the account lists both, filterable by state, one page at a time
    page = (await run(services, admin, ACCOUNT_SERVICES, pk=account))["account"]["services"]
    assert (page["totalCount"], page["pageInfo"]["hasNextPage"]) == (2, True)
    after = page["pageInfo"]["endCursor"]
    rest = (await run(services, admin, ACCOUNT_SERVICES, pk=account, after=after))["account"]
    node = rest["services"]["edges"][0]["node"]
    assert (node["kind"], node["years"], node["state"]) == ("MAINTENANCE", 2, "ACTIVE")
    assert (node["startsOn"], node["endsOn"]) == ("2026-03-01", "2028-03-01")
    active = await run(services, admin, ACCOUNT_SERVICES, pk=account, state="ACTIVE")
    assert active["account"]["services"]["totalCount"] == 1


@pytest.mark.parametrize(
    "service_id",
    [str(encode("Service", 999)), str(encode("Account", 1))],
    ids=["unknown", "another-type"],
)
async def test_unknown_service_ids_are_not_found(
    services: Services, operator: Principal, service_id: str
) -> None:
    data = (await run(services, operator, START, id=service_id))["startService"]
    assert data["userErrors"] == [
        {"code": "SERVICE_NOT_FOUND", "field": "serviceId", "messageEn": "No such service"}
    ]


async def test_a_viewer_may_not_start_work(services: Services) -> None:
    account = await create_account(services)
    viewer = Principal(Role.ACCOUNT_VIEWER, 6, "viewer", account_id=account)
    data = (await run(services, viewer, START, id=str(encode("Service", 1))))["startService"]
    assert data["userErrors"][0]["code"] == "FORBIDDEN"
