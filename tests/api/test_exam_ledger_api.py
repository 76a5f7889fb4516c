"""The cloud-exam ledger through GraphQL: a gateway's uploads, arrears, suspension
and recharge, as an operator and a hospital would see them."""

from __future__ import annotations

import json
from datetime import timedelta

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.services.clock import ManualClock

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api

UPLOAD = """
mutation($inst: ID!, $uid: String!, $key: String) {
  recordExamUpload(institutionId: $inst, studyInstanceUid: $uid, idempotencyKey: $key) {
    status exam { id studyInstanceUid storageEndsAt inArrears viewable }
    userErrors { code field message messageZh messageEn }
  }
}"""

FIGURES = """
query($id: ID!) { account(id: $id) {
  status arrearsSince suspendsAt
  examFigures { available used arrears expired bought }
} }"""

PERMISSION = """
query($inst: ID!) { uploadPermission(institutionId: $inst) { allowed reason suspendsAt } }"""

CREDIT = """
mutation($acc: ID!, $q: Int!, $mode: LotMode!, $years: Int, $key: String) {
  creditExamLot(accountId: $acc, mode: $mode, quantity: $q, years: $years,
                idempotencyKey: $key) {
    settled lot { id quantity used remaining storageYears expiresAt }
    userErrors { code field }
  }
}"""

RECONCILE = "query($id: ID!) { reconcileAccount(accountId: $id) { ok discrepancies { check } } }"


def uid(n: int) -> str:
    return f"1.2.840.10008.{n}"


async def test_upload_draws_one_exam_and_replay_is_idempotent(services: Services, api: Api) -> None:
    """R-EXAM-4: the same study again is the same answer, drawn once."""
    # given an account with one lot and a gateway
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    token = await create_operator_token(services)
    # when the same study is reported twice
    first = await api.gateway(gateway, UPLOAD, {"inst": gateway.id, "uid": uid(1)})
    again = await api.gateway(gateway, UPLOAD, {"inst": gateway.id, "uid": uid(1)})
    # then the first is accepted, the second a duplicate of the same exam
    assert first["recordExamUpload"]["status"] == "ACCEPTED"
    assert again["recordExamUpload"]["status"] == "DUPLICATE"
    assert again["recordExamUpload"]["exam"]["id"] == first["recordExamUpload"]["exam"]["id"]
    assert first["recordExamUpload"]["exam"]["storageEndsAt"].startswith("2041-03-01")
    acc_id = str(encode("Account", account))
    figures = (await api.operator(token, FIGURES, {"id": acc_id}))["account"]["examFigures"]
    assert figures == {"available": 9_999, "used": 1, "arrears": 0, "expired": 0, "bought": 10_000}
    assert (await api.operator(token, RECONCILE, {"id": acc_id}))["reconcileAccount"]["ok"]


async def test_arrears_suspend_after_24_hours_and_a_recharge_resumes(
    services: Services, api: Api, clock: ManualClock
) -> None:
    """R-ARR-1..4 end to end through the API, with the notices of R-ARR-2."""
    # given an account with nothing available
    account = await create_account(services)
    gateway = await create_institution(services, account)
    token = await create_operator_token(services)
    acc_id = str(encode("Account", account))
    # when two uploads arrive, the first starts the arrears clock
    started = clock.now()
    for n in (1, 2):
        out = await api.gateway(gateway, UPLOAD, {"inst": gateway.id, "uid": uid(n)})
        assert out["recordExamUpload"]["status"] == "ACCEPTED"
        assert out["recordExamUpload"]["exam"]["inArrears"] is True
        assert out["recordExamUpload"]["exam"]["viewable"] is True
        clock.advance(timedelta(hours=1))
    shown = (await api.operator(token, FIGURES, {"id": acc_id}))["account"]
    assert shown["status"] == "IN_ARREARS"
    assert shown["examFigures"]["arrears"] == 2
    assert shown["suspendsAt"].startswith((started + timedelta(hours=24)).isoformat()[:19])
    # then one millisecond before 24 hours uploads still go on
    clock.set(started + timedelta(hours=24) - timedelta(milliseconds=1))
    allowed = await api.gateway(gateway, PERMISSION, {"inst": gateway.id})
    assert allowed["uploadPermission"]["allowed"] is True
    # and at 24 hours they are refused, with nothing recorded
    clock.set(started + timedelta(hours=24))
    refused = await api.gateway(gateway, UPLOAD, {"inst": gateway.id, "uid": uid(3)})
    assert refused["recordExamUpload"]["status"] == "REFUSED"
    assert refused["recordExamUpload"]["userErrors"][0]["code"] == "R_ARR_3_SUSPENDED"
    assert refused["recordExamUpload"]["exam"] is None
    permission = await api.gateway(gateway, PERMISSION, {"inst": gateway.id})
    assert permission["uploadPermission"]["allowed"] is False
    shown = (await api.operator(token, FIGURES, {"id": acc_id}))["account"]
    assert shown["status"] == "SUSPENDED"
    assert shown["examFigures"]["arrears"] == 2
    # when a recharge is credited, it covers the arrears first and uploads resume
    credit = await api.operator(token, CREDIT, {"acc": acc_id, "q": 10_000, "mode": "VOLUME"})
    assert credit["creditExamLot"]["settled"] == 2
    assert credit["creditExamLot"]["lot"]["remaining"] == 9_998
    shown = (await api.operator(token, FIGURES, {"id": acc_id}))["account"]
    assert shown["status"] == "ACTIVE"
    assert shown["arrearsSince"] is None
    assert shown["examFigures"] == {
        "available": 9_998,
        "used": 2,
        "arrears": 0,
        "expired": 0,
        "bought": 10_000,
    }
    again = await api.gateway(gateway, UPLOAD, {"inst": gateway.id, "uid": uid(3)})
    assert again["recordExamUpload"]["status"] == "ACCEPTED"
    notices = await api.operator(
        token,
        "query($id: ID!) { account(id: $id) {"
        " notices(first: 20) { edges { node { kind target } } } } }",
        {"id": acc_id},
    )
    kinds = [
        (e["node"]["kind"], e["node"]["target"]) for e in notices["account"]["notices"]["edges"]
    ]
    for kind in ("ARREARS_STARTED", "UPLOADS_SUSPENDED", "UPLOADS_RESUMED"):
        assert (kind, "BUSINESS") in kinds
        assert (kind, "MANAGEMENT") in kinds
    assert (await api.operator(token, RECONCILE, {"id": acc_id}))["reconcileAccount"]["ok"]


async def test_anonymous_and_badly_signed_requests_get_only_an_authentication_error(
    services: Services, api: Api, clock: ManualClock
) -> None:
    account = await create_account(services)
    gateway = await create_institution(services, account)
    # anonymous
    response = await api.raw("{ viewer { name } }")
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in response.json()
    # wrong token
    wrong = await api.raw("{ viewer { name } }", authorization="Bearer ibo_nope")
    assert wrong.status_code == 401
    # a signature made with another token
    body = b'{"query":"{ viewer { name } }"}'
    headers = gateway.headers(body, clock.now())
    headers["x-signature"] = "v2=" + "0" * 64
    assert (await api.client.post("/graphql", content=body, headers=headers)).status_code == 401
    # a signature older than five minutes
    stale = gateway.headers(body, clock.now() - timedelta(minutes=5, seconds=1))
    assert (await api.client.post("/graphql", content=body, headers=stale)).status_code == 401
    # a correct one
    fresh = gateway.headers(body, clock.now())
    ok = await api.client.post("/graphql", content=body, headers=fresh)
    assert ok.status_code == 200
    assert ok.json()["data"]["viewer"]["name"] == "Main site"


async def test_an_institution_sees_only_its_own_account(services: Services, api: Api) -> None:
    # given two hospitals
    mine = await create_account(services, name="Mine")
    theirs = await create_account(services, name="Theirs")
    gateway = await create_institution(services, mine)
    other = await create_institution(services, theirs)
    await credit_lot(services, theirs)
    # when my gateway asks for the other account or uploads as the other institution
    seen = await api.gateway(gateway, FIGURES, {"id": str(encode("Account", theirs))})
    upload = await api.gateway(gateway, UPLOAD, {"inst": other.id, "uid": uid(9)})
    # then it is as if they did not exist
    assert seen["account"] is None
    assert upload["recordExamUpload"]["userErrors"][0]["code"] == "INSTITUTION_NOT_FOUND"
    response = await api.raw(
        'query($i: ID!) { exam(institutionId: $i, studyInstanceUid: "1.2") { id } }',
        {"i": other.id},
        authorization="Bearer nope",
    )
    assert response.status_code == 401
    query = 'query($i: ID!) { exam(institutionId: $i, studyInstanceUid: "1.2") { id } }'
    body = json.dumps({"query": query, "variables": {"i": other.id}}).encode()
    signed = await api.client.post(
        "/graphql", content=body, headers=gateway.headers(body, api.clock.now())
    )
    payload = signed.json()
    assert payload["data"] == {"exam": None} or payload["data"] is None
    assert payload["errors"][0]["extensions"]["code"] == "INSTITUTION_NOT_FOUND"


async def test_credit_refusals_name_the_rule_and_idempotency_key_replays(
    services: Services, api: Api
) -> None:
    account = await create_account(services)
    token = await create_operator_token(services)
    acc_id = str(encode("Account", account))
    bad_unit = await api.operator(token, CREDIT, {"acc": acc_id, "q": 15_000, "mode": "VOLUME"})
    assert bad_unit["creditExamLot"]["userErrors"] == [
        {"code": "R_EXAM_1_UNIT", "field": "quantity"}
    ]
    no_years = await api.operator(token, CREDIT, {"acc": acc_id, "q": 10_000, "mode": "ANNUAL"})
    assert no_years["creditExamLot"]["userErrors"][0]["code"] == "R_EXAM_1_YEARS"
    # the same key twice credits once
    args = {"acc": acc_id, "q": 20_000, "mode": "ANNUAL", "years": 3, "key": "k-1"}
    first = await api.operator(token, CREDIT, args)
    second = await api.operator(token, CREDIT, args)
    assert first["creditExamLot"]["lot"]["id"] == second["creditExamLot"]["lot"]["id"]
    assert first["creditExamLot"]["lot"]["storageYears"] == 3
    reused = await api.operator(token, CREDIT, {**args, "q": 30_000})
    assert reused["creditExamLot"]["userErrors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    figures = (await api.operator(token, FIGURES, {"id": acc_id}))["account"]["examFigures"]
    assert figures["bought"] == 20_000


async def test_an_invalid_uid_is_refused_as_invalid_not_answered_missing(
    services: Services, api: Api
) -> None:
    """R-EXAM-4: no upload can have such a UID, so "no such exam" would mislead."""
    # given an account with an institution and one uploaded study
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    await api.gateway(gateway, UPLOAD, {"inst": gateway.id, "uid": "1.2.3"})
    token = await create_operator_token(services)
    query = "query($i: ID!, $u: String!) { exam(institutionId: $i, studyInstanceUid: $u) { id } }"
    # when an operator looks up a UID with a letter in it
    response = await api.raw(
        query, {"i": gateway.id, "u": "1.2.abc"}, authorization=f"Bearer {token}"
    )
    # then the refusal names the rule and the field, with no exam
    payload = response.json()
    assert payload["data"] == {"exam": None}
    error = payload["errors"][0]
    assert error["extensions"]["code"] == "R_EXAM_4_STUDY_UID"
    assert error["extensions"]["field"] == "studyInstanceUid"
    # and a valid UID that was never uploaded is still simply not found
    missing = await api.operator(token, query, {"i": gateway.id, "u": "1.2.4"})
    assert missing == {"exam": None}
    found = await api.operator(token, query, {"i": gateway.id, "u": "1.2.3"})
    assert found["exam"] is not None
