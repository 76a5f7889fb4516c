"""Exam reconciliation (检查数据对账) through GraphQL: a gateway lists the studies it
stored in a window; the ledger answers what it lacks and what the gateway did not list;
operators and the account's admins read the runs."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from imaging_billing.api.context import Services
from imaging_billing.services import exam_reconciliation
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role
from imaging_billing.services.reader import Reader

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway

UPLOADS = """
mutation($inst: ID!, $items: [ExamUploadInput!]!) {
  recordExamUploads(institutionId: $inst, items: $items) { accepted userErrors { code } }
}"""

RECONCILE = """
mutation($inst: ID!, $from: DateTime!, $to: DateTime!, $uids: [String!]!) {
  reconcileExams(institutionId: $inst, startsAt: $from, endsAt: $to, studyInstanceUids: $uids) {
    reconciliation { sent matched missingCount unexpectedCount missing unexpected
                     voided voidedCount }
    userErrors { code field messageEn messageZh }
  }
}"""

RUNS = """
query($inst: ID!) { examReconciliations(institutionId: $inst) {
  ranAt startsAt endsAt sent matched missingCount unexpectedCount missing unexpected voided
} }"""

VOID = """
mutation($id: ID!) { voidExam(examId: $id, reason: "wrong patient") { userErrors { code } } }"""

EXAM = """
query($inst: ID!, $uid: String!) { exam(institutionId: $inst, studyInstanceUid: $uid) { id } }"""


def uid(n: int) -> str:
    return f"1.2.840.10008.{n}"


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def upload(api: Api, gateway: Gateway, uids: list[str], at: datetime) -> None:
    items = [{"studyInstanceUid": u, "uploadedAt": iso(at)} for u in uids]
    done = await api.gateway(gateway, UPLOADS, {"inst": gateway.id, "items": items})
    assert done["recordExamUploads"]["accepted"] == len(uids)


async def reconcile(
    api: Api, gateway: Gateway, start: datetime, end: datetime, uids: list[str]
) -> dict[str, Any]:
    variables = {"inst": gateway.id, "from": iso(start), "to": iso(end), "uids": uids}
    answer: dict[str, Any] = (await api.gateway(gateway, RECONCILE, variables))["reconcileExams"]
    return answer


async def test_the_answer_lists_what_each_side_lacks_and_the_run_is_kept(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given a gateway whose studies 1-3 are in the ledger, uploaded an hour ago
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    start = clock.now() - timedelta(hours=2)
    await upload(api, gateway, [uid(1), uid(2), uid(3)], clock.now() - timedelta(hours=1))
    # when it reconciles the last two hours listing 2, 3 and 4
    answer = await reconcile(api, gateway, start, clock.now(), [uid(2), uid(3), uid(4)])
    # then 4 is missing from the ledger and 1 was not listed
    assert answer["userErrors"] == []
    assert answer["reconciliation"] == {
        "sent": 3,
        "matched": 2,
        "missingCount": 1,
        "unexpectedCount": 1,
        "missing": [uid(4)],
        "unexpected": [uid(1)],
        "voided": [],
        "voidedCount": 0,
    }
    # and an operator sees the run with its window and differences
    token = await create_operator_token(services)
    runs = (await api.operator(token, RUNS, {"inst": gateway.id}))["examReconciliations"]
    assert [(r["missing"], r["unexpected"], r["sent"]) for r in runs] == [([uid(4)], [uid(1)], 3)]
    assert runs[0]["startsAt"].startswith(iso(start)[:19])
    # and nothing in the ledger was voided: study 1 is still an exam
    exam = await api.gateway(gateway, EXAM, {"inst": gateway.id, "uid": uid(1)})
    assert exam["exam"] is not None


async def test_only_the_window_and_the_institutions_exams_count_and_voids_are_flagged(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given two institutions of one account; study 1 of this one in the window, study 2
    # before it, study 3 of the other institution, study 4 in the window but voided
    account = await create_account(services)
    gateway = await create_institution(services, account)
    other = await create_institution(services, account, name="Branch")
    await credit_lot(services, account)
    window_start = clock.now() - timedelta(hours=3)
    await upload(api, gateway, [uid(2)], window_start - timedelta(minutes=1))
    await upload(api, gateway, [uid(1), uid(4)], window_start + timedelta(minutes=1))
    await upload(api, other, [uid(3)], window_start + timedelta(minutes=1))
    token = await create_operator_token(services)
    found = await api.operator(token, EXAM, {"inst": gateway.id, "uid": uid(4)})
    voided = await api.operator(token, VOID, {"id": found["exam"]["id"]})
    assert voided["voidExam"]["userErrors"] == []
    # when the gateway lists only study 4 for the window
    answer = await reconcile(api, gateway, window_start, clock.now(), [uid(4)])
    # then the voided study is a difference for an operator, not missing (re-reporting it
    # would draw nothing), and only study 1 is unexpected: not the earlier one, not the
    # other institution's
    found_run = answer["reconciliation"]
    assert found_run["missing"] == []
    assert (found_run["voided"], found_run["voidedCount"], found_run["matched"]) == ([uid(4)], 1, 0)
    assert found_run["unexpected"] == [uid(1)]
    # and the operator's list of runs keeps both differences apart
    runs = (await api.operator(token, RUNS, {"inst": gateway.id}))["examReconciliations"]
    assert [(r["unexpected"], r["voided"]) for r in runs] == [([uid(1)], [uid(4)])]


async def test_more_than_ten_thousand_studies_are_refused_naming_the_limit(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given a gateway
    account = await create_account(services)
    gateway = await create_institution(services, account)
    # when it lists 10,001 studies in one call
    uids = [uid(n) for n in range(10_001)]
    answer = await reconcile(api, gateway, clock.now() - timedelta(days=1), clock.now(), uids)
    # then the call is refused in both languages, naming the limit, and no run is kept
    assert answer["reconciliation"] is None
    (error,) = answer["userErrors"]
    assert (error["code"], error["field"]) == ("BATCH_TOO_LARGE", "studyInstanceUids")
    assert "10000" in error["messageEn"].replace(",", "")
    assert "10000" in error["messageZh"].replace(",", "")
    token = await create_operator_token(services)
    assert (await api.operator(token, RUNS, {"inst": gateway.id}))["examReconciliations"] == []


async def test_a_window_that_ends_before_it_starts_is_refused(
    services: Services, api: Api, clock: ManualClock
) -> None:
    account = await create_account(services)
    gateway = await create_institution(services, account)
    answer = await reconcile(api, gateway, clock.now(), clock.now() - timedelta(hours=1), [])
    assert [e["code"] for e in answer["userErrors"]] == ["RECONCILE_WINDOW"]


async def test_the_accounts_admin_reads_its_runs_another_account_and_the_gateway_do_not(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given a run of a gateway of account A
    account = await create_account(services)
    gateway = await create_institution(services, account)
    stranger = await create_account(services, name="Other hospital")
    await reconcile(api, gateway, clock.now() - timedelta(hours=1), clock.now(), [uid(7)])

    # when A's admin, A's viewer and B's admin ask for the runs
    async def runs_as(role: Role, account_id: int) -> int | str:
        reader = Reader(services.db, Principal(role, 1, "person", account_id=account_id))
        try:
            return len(await exam_reconciliation.runs(reader, gateway.institution_pk, 20))
        except Exception as refused:  # noqa: BLE001 - the refusal's code is the answer
            return str(getattr(refused, "code", refused))
        finally:
            await reader.close()

    # then only the admin sees them; to another account the institution is unknown
    assert await runs_as(Role.ACCOUNT_ADMIN, account) == 1
    assert await runs_as(Role.ACCOUNT_VIEWER, account) == "FORBIDDEN"
    assert await runs_as(Role.ACCOUNT_ADMIN, stranger) == "INSTITUTION_NOT_FOUND"
    # and the gateway itself may not list them
    body = json.dumps({"query": RUNS, "variables": {"inst": gateway.id}}).encode()
    response = await api.client.post(
        "/graphql", content=body, headers=gateway.headers(body, clock.now())
    )
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == ["FORBIDDEN"]


async def test_a_list_of_more_than_twenty_thousand_strings_is_refused_before_coercion(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given a gateway
    account = await create_account(services)
    gateway = await create_institution(services, account)
    # when it sends 20,001 studies (twice the field's limit, plus one)
    variables = {
        "inst": gateway.id,
        "from": iso(clock.now() - timedelta(days=1)),
        "to": iso(clock.now()),
        "uids": [uid(n) for n in range(20_001)],
    }
    body = json.dumps({"query": RECONCILE, "variables": variables}).encode()
    response = await api.client.post(
        "/graphql", content=body, headers=gateway.headers(body, clock.now())
    )
    # then the request is refused as it is read, naming the limit
    assert response.status_code == 400
    error = response.json()["errors"][0]["extensions"]
    assert error["code"] == "VARIABLES_LIST_TOO_LONG"
    assert "20000" in error["messageEn"].replace(",", "")
