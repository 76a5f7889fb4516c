"""AI reading through GraphQL: on a small schema of its own (the lead's schema composes
the same mixins into Account, Institution and Mutation), then once through the app."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import strawberry
from strawberry import relay

from imaging_billing.api.ai import (
    AccountAiFields,
    AiLicence,
    AiMutation,
    AiPack,
    AiRead,
    InstitutionAiFields,
)
from imaging_billing.api.context import Context, Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.catalog import AiProduct
from imaging_billing.services import ai
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role

from ..factories import create_account, create_institution, create_operator_token
from ..support import Api


@strawberry.type
class Institution(InstitutionAiFields, relay.Node):
    id: relay.NodeID[int]


@strawberry.type
class Account(AccountAiFields, relay.Node):
    id: relay.NodeID[int]


@strawberry.type
class Query:
    @strawberry.field
    def institution(self, pk: int) -> Institution:
        return Institution(id=pk)

    @strawberry.field
    def account(self, pk: int) -> Account:
        return Account(id=pk)


@strawberry.type
class Mutation(AiMutation):
    pass


schema = strawberry.Schema(query=Query, mutation=Mutation, types=[AiPack, AiLicence, AiRead])

READ = """
mutation($inst: ID!, $product: AiProduct!, $uid: String!, $key: String!) {
  recordAiRead(institutionId: $inst, product: $product, studyInstanceUid: $uid,
               idempotencyKey: $key) {
    status read { id product studyInstanceUid readAt coveredBy }
    userErrors { code field messageEn messageZh }
  }
}"""

READS = """
mutation($inst: ID!, $items: [AiReadInput!]!) {
  recordAiReads(institutionId: $inst, items: $items) {
    accepted duplicates refused
    results { idempotencyKey status read { coveredBy } error { code } }
    userErrors { code field }
  }
}"""

ACCOUNT = """
query($pk: Int!, $after: String, $expired: Boolean) { account(pk: $pk) {
  aiFigures { product remaining bought used expired licensedInstitutions licenceReads }
  aiPacks(first: 1, after: $after, includeExpired: $expired) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { product quantity used remaining expired forfeited purchasedAt expiresAt } }
  }
  aiRenewals(first: 10) { totalCount edges { node { quantity purchasedAt orderId packId } } }
  aiLicences { product institutionId }
} }"""

INSTITUTION = "query($pk: Int!) { institution(pk: $pk) { aiLicences { product grantedAt } } }"


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


async def credit(services: Services, account: int, quantity: int) -> None:
    async with services.db.write() as conn:
        await ai.credit_ai_pack(
            conn,
            account_id=account,
            product=AiProduct.GLAUCOMA,
            quantity=quantity,
            now=services.clock.now(),
            actor="test",
            order_id=None,
        )


async def test_reads_figures_packs_and_renewals_through_the_mixins(
    services: Services, clock: ManualClock, operator: Principal
) -> None:
    # given an account with two packs a month apart and a pneumonia licence
    account = await create_account(services)
    site = (await create_institution(services, account)).institution_pk
    gateway = Principal(Role.INSTITUTION, site, "gw", account_id=account, institution_id=site)
    inst = str(encode("Institution", site))
    await credit(services, account, 1_000)
    clock.advance(timedelta(days=30))
    await credit(services, account, 2_000)
    async with services.db.write() as conn:
        await ai.grant_ai_licence(
            conn,
            account_id=account,
            institution_id=site,
            product=AiProduct.PNEUMONIA,
            now=clock.now(),
            order_id=None,
        )
    # when the institution records one read, then a batch with a replay and a refusal
    one = {"inst": inst, "product": "GLAUCOMA", "uid": "1.2.3", "key": "r1"}
    single = (await run(services, gateway, READ, **one))["recordAiRead"]
    items = [
        {"product": "PNEUMONIA", "studyInstanceUid": "1.2.4", "idempotencyKey": "r2"},
        {"product": "GLAUCOMA", "studyInstanceUid": "1.2.3", "idempotencyKey": "r1"},
        {"product": "COLORECTAL", "studyInstanceUid": "1.2.5", "idempotencyKey": "r3"},
    ]
    batch = (await run(services, gateway, READS, inst=inst, items=items))["recordAiReads"]
    # then the read is drawn from a pack, the batch counts each kind of answer
    assert single["status"] == "ACCEPTED"
    assert single["read"]["coveredBy"] == "PACK"
    assert single["userErrors"] == []
    assert (batch["accepted"], batch["duplicates"], batch["refused"]) == (1, 1, 1)
    assert [r["read"] and r["read"]["coveredBy"] for r in batch["results"]] == [
        "LICENCE",
        "PACK",
        None,
    ]
    assert batch["results"][2]["error"] == {"code": "R_AI_3_NO_CREDIT"}
    # and the account shows figures, packs (paged, soonest first), renewals and licences
    shown = (await run(services, operator, ACCOUNT, pk=account))["account"]
    assert shown["aiFigures"] == [
        {
            "product": "GLAUCOMA",
            "remaining": 2_999,
            "bought": 3_000,
            "used": 1,
            "expired": 0,
            "licensedInstitutions": 0,
            "licenceReads": 0,
        },
        {
            "product": "PNEUMONIA",
            "remaining": 0,
            "bought": 0,
            "used": 0,
            "expired": 0,
            "licensedInstitutions": 1,
            "licenceReads": 1,
        },
    ]
    packs = shown["aiPacks"]
    assert (packs["totalCount"], packs["pageInfo"]["hasNextPage"]) == (2, True)
    assert packs["edges"][0]["node"]["used"] == 1
    assert [e["node"]["quantity"] for e in shown["aiRenewals"]["edges"]] == [2_000, 1_000]
    assert shown["aiRenewals"]["edges"][0]["node"]["orderId"] is None
    assert shown["aiLicences"] == [{"product": "PNEUMONIA", "institutionId": inst}]
    # once the first pack expired, it is forfeited in place and filtered out on request
    clock.set(clock.now() - timedelta(days=30) + timedelta(days=365))
    later = (await run(services, operator, ACCOUNT, pk=account, expired=False))["account"]
    assert later["aiPacks"]["totalCount"] == 1
    assert later["aiFigures"][0]["expired"] == 999
    licences = (await run(services, operator, INSTITUTION, pk=site))["institution"]["aiLicences"]
    assert [lic["product"] for lic in licences] == ["PNEUMONIA"]


async def test_only_an_institution_records_its_own_reads(
    services: Services, operator: Principal
) -> None:
    account = await create_account(services)
    site = (await create_institution(services, account)).institution_pk
    other = (await create_institution(services, account, name="B")).institution_pk
    gateway = Principal(Role.INSTITUTION, site, "gw", account_id=account, institution_id=site)
    one = {"product": "GLAUCOMA", "uid": "1.2.3", "key": "r1"}
    cases = [
        (operator, site, "FORBIDDEN"),
        (gateway, other, "INSTITUTION_NOT_FOUND"),
    ]
    for principal, target, code in cases:
        inst = str(encode("Institution", target))
        payload = (await run(services, principal, READ, inst=inst, **one))["recordAiRead"]
        assert (payload["status"], payload["read"]) == (None, None)
        assert [e["code"] for e in payload["userErrors"]] == [code]
    # a batch over 1,000 is refused whole
    items = [
        {"product": "GLAUCOMA", "studyInstanceUid": "1.2.3", "idempotencyKey": f"k{n}"}
        for n in range(1_001)
    ]
    inst = str(encode("Institution", site))
    payload = (await run(services, gateway, READS, inst=inst, items=items))["recordAiReads"]
    assert payload["userErrors"] == [{"code": "BATCH_TOO_LARGE", "field": "items"}]
    assert payload["results"] == []


def _wired() -> bool:
    from imaging_billing.api.schema import schema as app_schema

    text = app_schema.as_str()
    return "recordAiRead(" in text and "aiFigures" in text


@pytest.mark.xfail(not _wired(), reason="the lead wires AiMutation and the mixins", strict=False)
async def test_a_gateway_records_a_read_through_the_app(services: Services, api: Api) -> None:
    # given an account with a pack and a signed gateway
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit(services, account, 1_000)
    token = await create_operator_token(services)
    variables = {"inst": gateway.id, "product": "GLAUCOMA", "uid": "1.2.3", "key": "r1"}
    # when it reports the same read twice
    first = (await api.gateway(gateway, READ, variables))["recordAiRead"]
    again = (await api.gateway(gateway, READ, variables))["recordAiRead"]
    # then one credit is drawn, and the account's figures say so
    assert (first["status"], again["status"]) == ("ACCEPTED", "DUPLICATE")
    assert again["read"]["id"] == first["read"]["id"]
    query = "query($id: ID!) { account(id: $id) { aiFigures { product remaining used } } }"
    shown = await api.operator(token, query, {"id": str(encode("Account", account))})
    assert shown["account"]["aiFigures"] == [{"product": "GLAUCOMA", "remaining": 999, "used": 1}]


async def test_licence_reads_are_counted_apart_from_credits(
    services: Services, clock: ManualClock, api: Api
) -> None:
    """R-AI-4/5: an unlimited licence shows its reads, although it has no credits."""
    # given a pneumonia licence at one site and a second, unlicensed site
    account = await create_account(services)
    licensed = await create_institution(services, account)
    other = await create_institution(services, account, name="B")
    async with services.db.write() as conn:
        await ai.grant_ai_licence(
            conn,
            account_id=account,
            institution_id=licensed.institution_pk,
            product=AiProduct.PNEUMONIA,
            now=clock.now(),
            order_id=None,
        )
    token = await create_operator_token(services)
    # when the licensed site reads three studies, one of them reported twice,
    # and the unlicensed site's read is refused (no pneumonia credits exist)
    for n in (1, 2, 3, 3):
        read = {"inst": licensed.id, "product": "PNEUMONIA", "uid": f"1.2.{n}", "key": f"r{n}"}
        payload = (await api.gateway(licensed, READ, read))["recordAiRead"]
        assert payload["read"]["coveredBy"] == "LICENCE"
    refused = {"inst": other.id, "product": "PNEUMONIA", "uid": "1.2.9", "key": "x"}
    assert (await api.gateway(other, READ, refused))["recordAiRead"]["status"] == "REFUSED"
    # then the figures count three licence reads and no credit drawn
    query = """query($id: ID!) { account(id: $id) { aiFigures {
      product remaining bought used licensedInstitutions licenceReads } } }"""
    shown = await api.operator(token, query, {"id": str(encode("Account", account))})
    assert shown["account"]["aiFigures"] == [
        {
            "product": "GLAUCOMA",
            "remaining": 0,
            "bought": 0,
            "used": 0,
            "licensedInstitutions": 0,
            "licenceReads": 0,
        },
        {
            "product": "PNEUMONIA",
            "remaining": 0,
            "bought": 0,
            "used": 0,
            "licensedInstitutions": 1,
            "licenceReads": 3,
        },
    ]
