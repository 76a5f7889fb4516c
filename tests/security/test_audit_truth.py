"""The audit log tells the truth: a record's result is what the resolver produced,
whatever the client selected; refused requests are on record too (in sum)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.services.clock import ManualClock

from ..api.test_access_api import AUDIT, Browser, given_people
from ..api.test_commerce_api import PLACE, given_priced_catalog
from ..factories import create_account, create_institution, create_operator_token
from ..support import Api

LOGIN_NO_ERRORS = """mutation($e: String!, $p: String!) {
  login(email: $e, password: $p) { viewer { role } } }"""
CANCEL_NO_ERRORS = "mutation($o: ID!) { cancelOrder(orderId: $o) { order { state } } }"
CANCEL = "mutation($o: ID!) { cancelOrder(orderId: $o) { order { state } userErrors { code } } }"
ANONYMOUS_READ = "{ accounts(first: 1) { totalCount } }"


async def audit_records(api: Api, operator: str, operation: str) -> list[dict[str, Any]]:
    found = await api.operator(operator, AUDIT, {"first": 50, "op": operation})
    return [edge["node"] for edge in found["auditLog"]["edges"]]


async def test_a_failed_login_that_selects_no_user_errors_is_audited_as_failed(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given an administrator
    people = await given_people(services)
    operator = await create_operator_token(services)
    # when a wrong password is sent by a client that selects no userErrors
    out = await browsers("192.0.2.20").data(
        LOGIN_NO_ERRORS, {"e": people.admin, "p": "not the password at all"}
    )
    assert out["login"]["viewer"] is None
    # then the record says the login failed, not "ok"
    (record,) = await audit_records(api, operator, "login")
    assert record["result"] == "LOGIN_FAILED"


async def test_a_refused_cross_tenant_cancel_is_audited_with_its_code_unselected(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given an order of Bravo's, and Alpha's administrator signed in
    operator = await create_operator_token(services)
    await given_priced_catalog(api, operator)
    alpha = await given_people(services, name="Alpha Hospital")
    bravo = str(encode("Account", await create_account(services, name="Bravo Hospital")))
    lines = [{"product": "EXAM_VOLUME", "quantity": 10_000}]
    placed = await api.operator(operator, PLACE, {"acc": bravo, "lines": lines, "terms": True})
    order_id = placed["placeOrder"]["order"]["id"]
    admin = browsers()
    await admin.login(alpha.admin)
    # when she tries to cancel it, once without selecting userErrors, once selecting them
    unselected = await admin.data(CANCEL_NO_ERRORS, {"o": order_id})
    selected = await admin.data(CANCEL, {"o": order_id})
    assert unselected["cancelOrder"]["order"] is None
    code = selected["cancelOrder"]["userErrors"][0]["code"]
    # then both records carry the refusal's code, and Bravo's order is untouched
    records = await audit_records(api, operator, "cancelOrder")
    assert [r["result"] for r in records] == [code, code]
    assert code != "ok"


async def test_each_aliased_mutation_is_audited_with_its_own_outcome(
    services: Services, api: Api
) -> None:
    # given an operator
    operator = await create_operator_token(services)
    # when one request creates two accounts, the second with an empty name, selecting
    # nothing of the refusal
    both = (
        'mutation { good: createAccount(name: "Alpha Hospital") { account { id } }'
        ' bad: createAccount(name: "  ") { account { id } } }'
    )
    out = await api.operator(operator, both)
    assert out["good"]["account"]["id"]
    assert out["bad"]["account"] is None
    # then one record succeeded and one carries the refusal's code
    results = sorted(r["result"] for r in await audit_records(api, operator, "createAccount"))
    assert results == ["NAME_REQUIRED", "ok"]


async def test_unauthenticated_requests_are_audited_per_address_and_minute(
    services: Services, api: Api, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    operator = await create_operator_token(services)
    # given two clients without credentials
    first, second = browsers("198.51.100.7"), browsers("198.51.100.8")
    # when the first sends 30 reads and the second 2, and a minute later the first 1 more
    for _ in range(30):
        assert (await first.post(ANONYMOUS_READ)).status_code == 401
    for _ in range(2):
        assert (await second.post(ANONYMOUS_READ)).status_code == 401
    clock.advance(timedelta(minutes=1))
    assert (await first.post(ANONYMOUS_READ)).status_code == 401
    # and the minutes that are over are written
    assert services.refusals.pending == 33
    assert await services.refusals.flush(clock.now()) == 2
    assert await services.refusals.flush(clock.now(), everything=True) == 1
    # then one record per address and minute carries the count
    records = await audit_records(api, operator, "requestRefused")
    counted = sorted(
        (
            r["clientAddress"],
            json.loads(r["arguments"])["count"]
            if isinstance(r["arguments"], str)
            else r["arguments"]["count"],
        )
        for r in records
    )
    assert counted == [("198.51.100.7", 1), ("198.51.100.7", 30), ("198.51.100.8", 2)]
    assert {r["result"] for r in records} == {"UNAUTHENTICATED"}
    assert {r["role"] for r in records} == {"ANONYMOUS"}
    assert services.refusals.pending == 0


async def test_throttled_requests_are_audited_under_their_principal(
    services: Services, api: Api
) -> None:
    # given an operator and an account with an institution
    operator = await create_operator_token(services)
    account = await create_account(services)
    await create_institution(services, account)
    # when the operator asks for more than one request may cost
    costly = (
        "{ accounts(first: 100) { edges { node { institutions(first: 100) { edges { node {"
        " id name } } } lots(first: 100) { edges { node { id } } } } } } }"
    )
    response = await api.raw(costly, authorization=f"Bearer {operator}")
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    await services.refusals.flush(services.clock.now(), everything=True)
    # then the refusal is on record under the operator's token
    (record,) = await audit_records(api, operator, "requestRefused")
    assert record["result"] == "THROTTLED"
    assert record["role"] == "OPERATOR"
    assert record["principal"].startswith("token:")


async def test_logout_and_token_revocation_are_audited(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given an administrator signed in, and an institution of her account
    people = await given_people(services)
    operator = await create_operator_token(services)
    institution = await create_institution(services, people.account)
    admin = browsers()
    await admin.login(people.admin)
    # when she revokes the institution's token and signs out
    revoke = "mutation($i: ID!) { revokeInstitutionToken(institutionId: $i) { revokedAt } }"
    await admin.data(revoke, {"i": str(encode("Institution", institution.institution_pk))})
    await admin.data("mutation { logout { ok } }")
    # then both are on record under her name, with their outcome
    (revoked,) = await audit_records(api, operator, "revokeInstitutionToken")
    (logout,) = await audit_records(api, operator, "logout")
    for record in (revoked, logout):
        assert record["role"] == "ACCOUNT_ADMIN"
        assert record["principal"].startswith("user:")
        assert record["result"] == "ok"
        assert record["accountId"] == people.account_id


async def test_an_operator_disabling_a_person_is_on_that_persons_account_record(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given an account's administrator and viewer, and an operator
    people = await given_people(services)
    operator = await create_operator_token(services)
    users = await api.operator(
        operator,
        "query($a: ID!) { account(id: $a) { users(first: 10) { edges { node { id email } } } } }",
        {"a": people.account_id},
    )
    viewer_id = next(
        e["node"]["id"]
        for e in users["account"]["users"]["edges"]
        if e["node"]["email"] == people.viewer
    )
    # when the operator disables the viewer
    disable = "mutation($u: ID!) { disableUser(userId: $u) { user { disabledAt } } }"
    await api.operator(operator, disable, {"u": viewer_id})
    # then the record concerns the viewer's account, and its administrator sees it
    (record,) = await audit_records(api, operator, "disableUser")
    assert (record["accountId"], record["result"]) == (people.account_id, "ok")
    admin = browsers()
    await admin.login(people.admin)
    mine = await admin.data(AUDIT, {"first": 5, "op": "disableUser"})
    assert mine["auditLog"]["totalCount"] == 1
