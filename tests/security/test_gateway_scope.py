"""Issue 9 §5, R-GEN-8: a gateway (the institution principal) reads only what a gateway
needs — `uploadPermission`, its own institution's exams, its account's AI figures, the
answers of its uploads and AI reads — on every path. The ledger, all exams, sibling
institutions and their token state were readable; each probe is re-sent here."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway

UPLOAD = """mutation($i: ID!, $u: String!) { recordExamUpload(institutionId: $i,
  studyInstanceUid: $u) { status exam { id } userErrors { code } } }"""


class Hospital:
    """One account, two sites (the gateway and its sibling), a lot and an exam at each."""

    def __init__(self, services: Services, api: Api) -> None:
        self.services = services
        self.api = api

    async def setup(self) -> Hospital:
        self.account = await create_account(self.services, name="Scope Hospital")
        self.gateway = await create_institution(self.services, self.account, name="East site")
        self.sibling = await create_institution(self.services, self.account, name="West site")
        self.lot = await credit_lot(self.services, self.account, quantity=10_000)
        self.token = await create_operator_token(self.services)
        self.acc_id = str(encode("Account", self.account))
        self.own_exam = await self.upload(self.gateway, "1.2.840.1.1")
        self.sibling_exam = await self.upload(self.sibling, "1.2.840.2.1")
        return self

    async def upload(self, gateway: Gateway, uid: str) -> str:
        out = (await self.api.gateway(gateway, UPLOAD, {"i": gateway.id, "u": uid}))[
            "recordExamUpload"
        ]
        assert out["status"] == "ACCEPTED", out
        exam_id: str = out["exam"]["id"]
        return exam_id

    async def signed(self, query: str, gateway: Gateway | None = None, **variables: Any) -> Any:
        """The gateway's raw answer: data and errors as sent."""
        gateway = gateway or self.gateway
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = gateway.headers(body, self.api.clock.now())
        response: httpx.Response = await self.api.client.post(
            "/graphql", content=body, headers=headers
        )
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
async def hospital(services: Services, api: Api) -> Hospital:
    return await Hospital(services, api).setup()


def refused(payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, field name) of every error of an answer."""
    return [(e["extensions"]["code"], str(e["path"][-1])) for e in payload.get("errors") or []]


@pytest.mark.parametrize(
    ("selection", "field"),
    [
        ("ledger(first: 5) { totalCount edges { node { type quantity } } }", "ledger"),
        ("lots(first: 5) { totalCount edges { node { quantity } } }", "lots"),
        ("exams(first: 5) { totalCount edges { node { studyInstanceUid } } }", "exams"),
        ('exam(studyInstanceUid: "1.2.840.2.1") { studyInstanceUid }', "exam"),
        ("examFigures { available used }", "examFigures"),
        ("orders(first: 5) { totalCount }", "orders"),
        ("dailyUsage(days: 3) { exams }", "dailyUsage"),
    ],
)
async def test_the_gateway_cannot_read_its_accounts_ledger_lots_or_all_its_exams(
    hospital: Hospital, selection: str, field: str
) -> None:
    # given a gateway of an account with a ledger, a lot and exams of two sites
    query = f"query($a: ID!) {{ account(id: $a) {{ name {selection} }} }}"
    # when it asks its account for one of them
    payload = await hospital.signed(query, a=hospital.acc_id)
    # then FORBIDDEN and nothing of it is in the answer
    assert refused(payload) == [("FORBIDDEN", field)]
    assert (payload["data"]["account"] or {}).get(field) is None
    # while the operator, asking the same, gets it
    seen = await hospital.api.operator(hospital.token, query, {"a": hospital.acc_id})
    assert seen["account"][field] not in (None, [])


async def test_the_gateway_cannot_list_sibling_institutions_or_their_token_state(
    hospital: Hospital,
) -> None:
    # given a gateway whose account has a second site
    query = """query($a: ID!) { account(id: $a) {
      institutions(first: 10) { edges { node { name token { state } } } } } }"""
    # when it lists its account's institutions with their token state
    payload = await hospital.signed(query, a=hospital.acc_id)
    # then FORBIDDEN, and the sibling's name is nowhere
    assert refused(payload) == [("FORBIDDEN", "institutions")]
    assert "West site" not in json.dumps(payload)
    # and its own token state is not a gateway's to read either
    own = await hospital.signed("{ viewer { institution { name token { state } } } }")
    assert refused(own) == [("FORBIDDEN", "token")]
    assert "ACTIVE" not in json.dumps(own)


async def test_a_sibling_institution_answers_like_an_unknown_one(hospital: Hospital) -> None:
    # given the sibling's institution, its exam, and IDs that exist nowhere
    sibling, unknown = hospital.sibling.id, str(encode("Institution", 987_654))
    node = "query($id: ID!) { node(id: $id) { id } }"
    permission = "query($i: ID!) { uploadPermission(institutionId: $i) { allowed } }"
    exam = """query($i: ID!, $u: String!) { exam(institutionId: $i, studyInstanceUid: $u) {
      viewable } }"""
    for query, seen, none in [
        (node, {"id": sibling}, {"id": unknown}),
        (node, {"id": hospital.sibling_exam}, {"id": str(encode("Exam", 987_654))}),
        (permission, {"i": sibling}, {"i": unknown}),
        (exam, {"i": sibling, "u": "1.2.840.2.1"}, {"i": unknown, "u": "1.2.840.2.1"}),
    ]:
        # when the gateway names the sibling's, then the unknown ones
        mine = await hospital.signed(query, **seen)
        ghost = await hospital.signed(query, **none)
        # then both answers are the same: null or INSTITUTION_NOT_FOUND
        mine.pop("extensions"), ghost.pop("extensions")
        assert mine == ghost
        assert not (mine.get("data") or {}).get("node")
        assert "West site" not in json.dumps(mine)
    # and the operator sees the sibling's objects (the IDs are real)
    operator = await hospital.api.operator(hospital.token, node, {"id": hospital.sibling_exam})
    assert operator["node"] == {"id": hospital.sibling_exam}


async def test_the_gateway_sees_its_own_exams_only(hospital: Hospital) -> None:
    # given one exam uploaded by the gateway, one by its sibling (same account)
    query = """query($i: ID!, $u: String!) { exam(institutionId: $i, studyInstanceUid: $u) {
      studyInstanceUid viewable } }"""
    # when the gateway asks both through its own institution
    own = await hospital.signed(query, i=hospital.gateway.id, u="1.2.840.1.1")
    other = await hospital.signed(query, i=hospital.gateway.id, u="1.2.840.2.1")
    # then its own exam answers, the sibling's is unknown
    assert own["data"]["exam"] == {"studyInstanceUid": "1.2.840.1.1", "viewable": True}
    assert other == {"data": {"exam": None}, "extensions": other["extensions"]}
    # and the sibling's gateway sees its own
    theirs = await hospital.signed(query, hospital.sibling, i=hospital.sibling.id, u="1.2.840.2.1")
    assert theirs["data"]["exam"]["viewable"] is True


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (
            """query($i: ID!) { exam(institutionId: $i, studyInstanceUid: "1.2.840.1.1") {
              viewable lot { quantity contractRef } } }""",
            "lot",
        ),
        (
            """query($i: ID!) { exam(institutionId: $i, studyInstanceUid: "1.2.840.1.1") {
              institution { name } } }""",
            "institution",
        ),
        (
            """query($i: ID!) { node(id: $i) { ... on Institution { account {
              ledger(first: 5) { totalCount } } } } }""",
            "ledger",
        ),
        ("query { viewer { account { users(first: 5) { totalCount } } } }", "users"),
        ("query { viewer { account { notices(first: 5) { totalCount } } } }", "notices"),
        ("query { viewer { institution { services(first: 5) { totalCount } } } }", "services"),
        ("query { viewer { account { agreement { number } } } }", "agreement"),
    ],
)
async def test_nested_fields_from_allowed_objects_do_not_leak(
    hospital: Hospital, query: str, field: str
) -> None:
    # given an object the gateway may get (its exam, its institution, its account)
    # when it asks a field of it that is not a gateway's
    payload = await hospital.signed(query, i=hospital.gateway.id)
    # then that field is FORBIDDEN and holds nothing
    assert refused(payload) == [("FORBIDDEN", field)]
    text = json.dumps(payload["data"])
    assert "totalCount" not in text
    assert "quantity" not in text
    assert "East site" not in text


async def test_an_upload_answer_does_not_carry_the_lot(hospital: Hospital) -> None:
    # given a gateway reporting an upload and asking, in the answer, the lot that covers it
    query = """mutation($i: ID!) { recordExamUpload(institutionId: $i,
      studyInstanceUid: "1.2.840.1.9") { status exam { viewable lot { quantity } } } }"""
    payload = await hospital.signed(query, i=hospital.gateway.id)
    # then the upload is recorded and viewable, and the lot is FORBIDDEN
    assert payload["data"]["recordExamUpload"]["status"] == "ACCEPTED"
    assert payload["data"]["recordExamUpload"]["exam"] == {"viewable": True, "lot": None}
    assert refused(payload) == [("FORBIDDEN", "lot")]


@pytest.mark.parametrize(
    "query",
    [
        "{ catalog { code unitPriceFen } }",
        '{ quote(lines: [{product: "EXAM_VOLUME", quantity: 10000}]) { totalFen } }',
        "{ catalogFeatures { feature } }",
        "{ orders(first: 5) { totalCount } }",
        "{ auditLog(first: 5) { totalCount } }",
    ],
)
async def test_root_fields_that_are_not_a_gateways_are_refused(
    hospital: Hospital, query: str
) -> None:
    # when the gateway asks for prices, quotes, the catalog, orders or the audit log
    payload = await hospital.signed(query)
    # then FORBIDDEN with no data
    assert payload["data"] is None
    assert [code for code, _ in refused(payload)] == ["FORBIDDEN"]


async def test_nodes_that_are_not_a_gateways_are_null(hospital: Hospital) -> None:
    # given the account's lot, its ledger entry and its agreement (real IDs)
    ids = await hospital.api.operator(
        hospital.token,
        """query($a: ID!) { account(id: $a) { agreement { id }
          lots(first: 1) { edges { node { id } } }
          ledger(first: 1) { edges { node { id } } } } }""",
        {"a": hospital.acc_id},
    )
    account = ids["account"]
    hidden = [
        account["agreement"]["id"],
        account["lots"]["edges"][0]["node"]["id"],
        account["ledger"]["edges"][0]["node"]["id"],
    ]
    for node_id in hidden:
        # when the gateway resolves them
        payload = await hospital.signed("query($id: ID!) { node(id: $id) { id } }", id=node_id)
        # then they are null, as unknown IDs are
        assert payload["data"] == {"node": None}
        assert "errors" not in payload


async def test_what_a_gateway_needs_still_answers(hospital: Hospital) -> None:
    # given the gateway of an account
    query = """query($i: ID!, $a: ID!) {
      viewer { role institution { id name features aiLicences { product } } }
      uploadPermission(institutionId: $i) { allowed reason }
      exam(institutionId: $i, studyInstanceUid: "1.2.840.1.1") { viewable storageEndsAt }
      account(id: $a) { name aiFigures { product remaining }
        aiPacks(first: 5) { totalCount } } }"""
    # when it asks what it needs
    payload = await hospital.signed(query, i=hospital.gateway.id, a=hospital.acc_id)
    # then everything answers
    assert "errors" not in payload, payload
    data = payload["data"]
    assert data["viewer"]["institution"]["name"] == "East site"
    assert data["uploadPermission"] == {"allowed": True, "reason": None}
    assert data["exam"]["viewable"] is True
    assert data["account"]["aiFigures"][0]["product"] == "GLAUCOMA"
    assert data["account"]["aiPacks"]["totalCount"] == 0
