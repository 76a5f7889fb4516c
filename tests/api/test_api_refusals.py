"""Every refusal the GraphQL API can give, as a client sees it: a typed error naming the
rule (code) and the field, with a message in Chinese and English, and nothing written
("What bad input gets" in shared/domain.md). Plus the batch upload's happy path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from strawberry import relay

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.errors import MESSAGES
from imaging_billing.services.clock import ManualClock

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway

UPLOAD = """
mutation($inst: ID!, $uid: String!, $at: DateTime, $key: String) {
  recordExamUpload(institutionId: $inst, studyInstanceUid: $uid, uploadedAt: $at,
                   idempotencyKey: $key) {
    status exam { id studyInstanceUid }
    userErrors { code field message messageZh messageEn }
  }
}"""

UPLOADS = """
mutation($inst: ID!, $items: [ExamUploadInput!]!, $key: String) {
  recordExamUploads(institutionId: $inst, items: $items, idempotencyKey: $key) {
    accepted duplicates refused
    results {
      studyInstanceUid status exam { id uploadedAt }
      error { code field message messageZh messageEn }
    }
    userErrors { code field message messageZh messageEn }
  }
}"""

CREDIT = """
mutation($acc: ID!, $q: Int!, $mode: LotMode!, $years: Int, $ref: String, $key: String) {
  creditExamLot(accountId: $acc, mode: $mode, quantity: $q, years: $years,
                contractRef: $ref, idempotencyKey: $key) {
    settled lot { id }
    userErrors { code field message messageZh messageEn }
  }
}"""

VOID = """
mutation($exam: ID!, $reason: String!, $key: String) {
  voidExam(examId: $exam, reason: $reason, idempotencyKey: $key) {
    exam { id voidedAt voidReason }
    userErrors { code field message messageZh messageEn }
  }
}"""

CREATE_ACCOUNT = """
mutation($name: String!) {
  createAccount(name: $name) {
    account { id }
    userErrors { code field message messageZh messageEn }
  }
}"""

CREATE_INSTITUTION = """
mutation($acc: ID!, $name: String!) {
  createInstitution(accountId: $acc, name: $name) {
    institution { id } token
    userErrors { code field message messageZh messageEn }
  }
}"""

AGREEMENT = """
mutation($acc: ID!, $number: String!, $signed: Date!, $partner: String!) {
  recordAgreement(accountId: $acc, number: $number, signedOn: $signed, channelPartner: $partner) {
    agreement { number }
    userErrors { code field message messageZh messageEn }
  }
}"""

THRESHOLD = """
mutation($acc: ID!, $t: Int) {
  setLowBalanceThreshold(accountId: $acc, threshold: $t) {
    account { lowBalanceThreshold }
    userErrors { code field message messageZh messageEn }
  }
}"""

SWEEP = """
mutation { runExpirySweep { lotsExpired userErrors { code field message messageZh messageEn } } }
"""

SNAPSHOT = """
query($id: ID!) {
  accounts(first: 1) { totalCount }
  account(id: $id) {
    lowBalanceThreshold
    examFigures { available used arrears expired bought }
    ledger(first: 1) { totalCount }
    exams(first: 1) { totalCount }
    lots(first: 1) { totalCount }
    institutions(first: 1) { totalCount }
    agreement { number signedOn channelPartner }
  }
}"""

LOTS_PAGE = """
query($id: ID!, $first: Int!, $after: String) {
  account(id: $id) { lots(first: $first, after: $after) { totalCount } }
}"""


def uid(n: int) -> str:
    return f"1.2.156.112605.{n}"


class Hospital:
    """One account with a gateway, an operator token and helpers to look at it."""

    def __init__(self, services: Services, api: Api) -> None:
        self.services = services
        self.api = api

    async def setup(self, *, lot: bool = True) -> Hospital:
        self.account = await create_account(self.services)
        self.gateway = await create_institution(self.services, self.account)
        self.token = await create_operator_token(self.services)
        self.acc_id = str(encode("Account", self.account))
        if lot:
            await credit_lot(self.services, self.account)
        return self

    async def op(self, query: str, lang: str = "en", **variables: Any) -> dict[str, Any]:
        return await self.api.operator(self.token, query, variables, lang=lang)

    async def gw(
        self, query: str, gateway: Gateway | None = None, **variables: Any
    ) -> dict[str, Any]:
        return await self.api.gateway(gateway or self.gateway, query, variables)

    async def snapshot(self) -> dict[str, Any]:
        return await self.op(SNAPSHOT, id=self.acc_id)

    async def upload(self, n: int) -> str:
        out = (await self.gw(UPLOAD, inst=self.gateway.id, uid=uid(n)))["recordExamUpload"]
        assert out["status"] == "ACCEPTED", out
        exam_id: str = out["exam"]["id"]
        return exam_id

    async def signed_raw(self, query: str, **variables: Any) -> httpx.Response:
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = self.gateway.headers(body, self.api.clock.now())
        return await self.api.client.post("/graphql", content=body, headers=headers)


@pytest.fixture
async def hospital(services: Services, api: Api) -> Hospital:
    return await Hospital(services, api).setup()


def assert_refused(errors: list[dict[str, Any]], code: str, field: str | None, lang: str) -> None:
    """One typed refusal naming the rule and field, in both languages, `message` in `lang`."""
    assert [(e["code"], e["field"]) for e in errors] == [(code, field)], errors
    [error] = errors
    assert error["messageZh"].strip()
    assert error["messageEn"].strip()
    assert error["messageZh"] != error["messageEn"]
    assert error["message"] == (error["messageEn"] if lang == "en" else error["messageZh"])


# --- R-EXAM-1: lot terms ---------------------------------------------------------------


async def test_r_exam_1_unit_lots_not_in_whole_10000s_are_refused(hospital: Hospital) -> None:
    """R-EXAM-1: lots are whole 10,000s of exams, at least 10,000."""
    # given an account with one lot
    before = await hospital.snapshot()
    for quantity in (0, 5_000, 15_000, 10_001, -10_000):
        # when an operator credits a lot of a quantity that is not a whole 10,000s
        out = await hospital.op(CREDIT, acc=hospital.acc_id, q=quantity, mode="VOLUME")
        # then R_EXAM_1_UNIT on quantity, and no lot
        assert out["creditExamLot"]["lot"] is None
        assert_refused(out["creditExamLot"]["userErrors"], "R_EXAM_1_UNIT", "quantity", "en")
    assert await hospital.snapshot() == before


async def test_r_exam_1_years_annual_needs_whole_years_and_volume_is_15(
    hospital: Hospital,
) -> None:
    """R-EXAM-1: ANNUAL needs at least 1 whole year; VOLUME is always 15 years."""
    # given an account with one lot
    before = await hospital.snapshot()
    for mode, years in (("ANNUAL", None), ("ANNUAL", 0), ("ANNUAL", -2), ("VOLUME", 10)):
        # when a lot with such years is credited
        out = await hospital.op(CREDIT, acc=hospital.acc_id, q=10_000, mode=mode, years=years)
        # then R_EXAM_1_YEARS on years
        assert out["creditExamLot"]["lot"] is None
        assert_refused(out["creditExamLot"]["userErrors"], "R_EXAM_1_YEARS", "years", "en")
    assert await hospital.snapshot() == before


# --- R-EXAM-4/5, R-GEN-6, R-ARR-3: uploads ---------------------------------------------


async def test_r_exam_4_an_invalid_study_uid_is_refused(hospital: Hospital) -> None:
    """R-EXAM-4: a Study Instance UID is a DICOM UID (digits and dots, 1-64 chars)."""
    # given an account with one lot
    before = await hospital.snapshot()
    for bad in ("", "abc", "1..2", "1.2.", "9" * 65):
        # when the gateway reports it
        out = (await hospital.gw(UPLOAD, inst=hospital.gateway.id, uid=bad))["recordExamUpload"]
        # then refused by R-EXAM-4 on the UID field, no exam (gateways get zh-CN by default)
        assert (out["status"], out["exam"]) == ("REFUSED", None)
        assert_refused(out["userErrors"], "R_EXAM_4_STUDY_UID", "studyInstanceUid", "zh-CN")
    assert await hospital.snapshot() == before


async def test_r_exam_5_an_upload_time_in_the_future_or_over_a_day_old_is_refused(
    hospital: Hospital, clock: ManualClock
) -> None:
    """R-EXAM-5: the reported upload time must lie within the last 24 h (5 min clock skew)."""
    # given an account with one lot
    before = await hospital.snapshot()
    for at in (clock.now() + timedelta(hours=1), clock.now() - timedelta(hours=25)):
        # when an upload reports that time
        out = await hospital.gw(UPLOAD, inst=hospital.gateway.id, uid=uid(1), at=at.isoformat())
        # then refused by R-EXAM-5 on uploadedAt
        result = out["recordExamUpload"]
        assert (result["status"], result["exam"]) == ("REFUSED", None)
        assert_refused(result["userErrors"], "R_EXAM_5_UPLOAD_TIME", "uploadedAt", "zh-CN")
    assert await hospital.snapshot() == before


async def test_r_gen_6_an_upload_time_without_a_zone_is_refused(hospital: Hospital) -> None:
    """R-GEN-6: times carry a zone; a naive uploadedAt is ambiguous and refused. The
    DateTime scalar refuses it for every argument alike, as a typed GraphQL error."""
    # given an account with one lot
    before = await hospital.snapshot()
    # when an upload reports a time without a zone
    response = await hospital.signed_raw(
        UPLOAD, inst=hospital.gateway.id, uid=uid(1), at="2026-03-01T07:00:00"
    )
    # then it is refused with the rule's code and both messages, and nothing is written
    payload = response.json()
    assert payload.get("data") is None
    extensions = payload["errors"][0]["extensions"]
    assert extensions["code"] == "R_GEN_6_NAIVE_TIME"
    assert extensions["messageZh"]
    assert extensions["messageEn"]
    assert await hospital.snapshot() == before


async def test_r_arr_3_a_new_upload_is_refused_24_hours_into_arrears(
    services: Services, api: Api, clock: ManualClock
) -> None:
    """R-ARR-3: 24 h after the arrears clock started, a new upload is refused and not
    recorded as consumption."""
    # given an account whose first upload went into arrears 24 hours ago
    hospital = await Hospital(services, api).setup(lot=False)
    await hospital.upload(1)
    clock.advance(timedelta(hours=24))
    before = await hospital.snapshot()
    # when a new study is reported
    out = (await hospital.gw(UPLOAD, inst=hospital.gateway.id, uid=uid(2)))["recordExamUpload"]
    # then it is refused by R-ARR-3 (no input field is at fault) and nothing is drawn
    assert (out["status"], out["exam"]) == ("REFUSED", None)
    assert_refused(out["userErrors"], "R_ARR_3_SUSPENDED", None, "zh-CN")
    assert await hospital.snapshot() == before
    assert before["account"]["examFigures"]["arrears"] == 1


# --- not found -------------------------------------------------------------------------


async def test_account_not_found_for_unknown_or_other_type_ids(hospital: Hospital) -> None:
    """An account ID of another type, an unknown pk or a malformed pk is ACCOUNT_NOT_FOUND on
    accountId, for every operator mutation that takes one."""
    # given an account, and IDs that do not name an account
    before = await hospital.snapshot()
    wrong_ids = [
        hospital.gateway.id,  # an Institution ID
        str(encode("Account", 999_999)),
        str(encode("Account", 0)),
        str(relay.GlobalID("Account", "abc")),
    ]
    for acc in wrong_ids:
        # when each mutation is called with it
        answers = [
            (await hospital.op(CREDIT, acc=acc, q=10_000, mode="VOLUME"))["creditExamLot"],
            (await hospital.op(CREATE_INSTITUTION, acc=acc, name="Site"))["createInstitution"],
            (
                await hospital.op(
                    AGREEMENT, acc=acc, number="AG-9", signed="2026-01-05", partner="P"
                )
            )["recordAgreement"],
            (await hospital.op(THRESHOLD, acc=acc, t=5))["setLowBalanceThreshold"],
        ]
        # then each says ACCOUNT_NOT_FOUND on accountId
        for answer in answers:
            assert_refused(answer["userErrors"], "ACCOUNT_NOT_FOUND", "accountId", "en")
    assert await hospital.snapshot() == before


async def test_malformed_global_ids_are_refused_as_not_found(hospital: Hospital) -> None:
    """'What bad input gets': an ID that is not a global ID at all is a typed refusal like any
    unknown one (ACCOUNT_NOT_FOUND, EXAM_NOT_FOUND, INSTITUTION_NOT_FOUND), not a bare
    GraphQL parsing error."""
    # given an account with one exam
    await hospital.upload(1)
    before = await hospital.snapshot()
    for bad in ("not-an-id", "", "%%%", "QWNjb3VudA"):
        # when a credit, a void and an upload name things by that ID
        credit = await hospital.op(CREDIT, acc=bad, q=10_000, mode="VOLUME")
        void = await hospital.op(VOID, exam=bad, reason="duplicate report")
        upload = await hospital.gw(UPLOAD, inst=bad, uid=uid(2))
        # then each is the typed not-found refusal of its field
        assert_refused(
            credit["creditExamLot"]["userErrors"], "ACCOUNT_NOT_FOUND", "accountId", "en"
        )
        assert_refused(void["voidExam"]["userErrors"], "EXAM_NOT_FOUND", "examId", "en")
        assert_refused(
            upload["recordExamUpload"]["userErrors"],
            "INSTITUTION_NOT_FOUND",
            "institutionId",
            "zh-CN",
        )
    assert await hospital.snapshot() == before


async def test_institution_not_found_for_another_institution_or_a_wrong_type(
    services: Services, hospital: Hospital
) -> None:
    """A gateway may upload only as its own institution; another one's ID, or an ID of
    another type, is INSTITUTION_NOT_FOUND on institutionId."""
    # given another hospital with its own gateway
    other_account = await create_account(services, name="Other")
    other = await create_institution(services, other_account)
    before = await hospital.snapshot()
    for inst in (other.id, hospital.acc_id, str(encode("Institution", 999_999))):
        # when my gateway uploads, singly and in a batch, as that institution
        single = (await hospital.gw(UPLOAD, inst=inst, uid=uid(1)))["recordExamUpload"]
        batch = (await hospital.gw(UPLOADS, inst=inst, items=[{"studyInstanceUid": uid(1)}]))[
            "recordExamUploads"
        ]
        # then INSTITUTION_NOT_FOUND, nothing recorded
        assert single["status"] is None
        assert_refused(single["userErrors"], "INSTITUTION_NOT_FOUND", "institutionId", "zh-CN")
        assert batch["results"] == []
        assert_refused(batch["userErrors"], "INSTITUTION_NOT_FOUND", "institutionId", "zh-CN")
    assert await hospital.snapshot() == before


async def test_exam_not_found_for_unknown_or_other_type_ids(hospital: Hospital) -> None:
    """voidExam of an unknown exam, or with an ID of another type, is EXAM_NOT_FOUND."""
    # given an account with one exam
    await hospital.upload(1)
    before = await hospital.snapshot()
    for exam in (str(encode("Exam", 999_999)), hospital.acc_id, str(encode("ExamLot", 1))):
        # when an operator voids it
        out = (await hospital.op(VOID, exam=exam, reason="duplicate report"))["voidExam"]
        # then EXAM_NOT_FOUND on examId
        assert out["exam"] is None
        assert_refused(out["userErrors"], "EXAM_NOT_FOUND", "examId", "en")
    assert await hospital.snapshot() == before


# --- voids -----------------------------------------------------------------------------


async def test_voiding_an_exam_twice_is_refused(hospital: Hospital) -> None:
    """A voided exam cannot be voided again: EXAM_ALREADY_VOIDED on examId."""
    # given a voided exam
    exam = await hospital.upload(1)
    first = (await hospital.op(VOID, exam=exam, reason="test upload"))["voidExam"]
    assert first["userErrors"] == []
    before = await hospital.snapshot()
    # when it is voided again (without an idempotency key)
    again = (await hospital.op(VOID, exam=exam, reason="test upload"))["voidExam"]
    # then refused, and the first void stands
    assert again["exam"] is None
    assert_refused(again["userErrors"], "EXAM_ALREADY_VOIDED", "examId", "en")
    assert await hospital.snapshot() == before
    assert before["account"]["examFigures"]["used"] == 0


async def test_r_gen_5_a_void_or_a_contract_reference_needs_a_reason(hospital: Hospital) -> None:
    """R-GEN-5: corrections carry a reason; an empty or blank one is refused."""
    # given an account with one exam
    exam = await hospital.upload(1)
    before = await hospital.snapshot()
    for blank in ("", "   "):
        # when a void or a credit names a blank reason / contract reference
        void = (await hospital.op(VOID, exam=exam, reason=blank))["voidExam"]
        credit = (
            await hospital.op(CREDIT, acc=hospital.acc_id, q=10_000, mode="VOLUME", ref=blank)
        )["creditExamLot"]
        # then the void wants its reason, the credit its contract reference
        assert void["exam"] is None
        assert_refused(void["userErrors"], "R_GEN_5_REASON_REQUIRED", "reason", "en")
        assert credit["lot"] is None
        assert_refused(credit["userErrors"], "R_GEN_5_CONTRACT_REQUIRED", "contractRef", "en")
    assert await hospital.snapshot() == before


# --- accounts, institutions, agreements ------------------------------------------------


async def test_names_are_required(hospital: Hospital) -> None:
    """An account or institution needs a name of 1-200 characters (control and formatting
    characters: TEXT_CHARACTERS, tests/security/test_text_input.py)."""
    # given an account
    before = await hospital.snapshot()
    for name in ("", "   ", "x" * 201):
        # when an account or an institution is created with that name
        account = (await hospital.op(CREATE_ACCOUNT, name=name))["createAccount"]
        site = (await hospital.op(CREATE_INSTITUTION, acc=hospital.acc_id, name=name))[
            "createInstitution"
        ]
        # then NAME_REQUIRED on name, and neither exists
        assert account["account"] is None
        assert_refused(account["userErrors"], "NAME_REQUIRED", "name", "en")
        assert (site["institution"], site["token"]) == (None, None)
        assert_refused(site["userErrors"], "NAME_REQUIRED", "name", "en")
    assert await hospital.snapshot() == before


async def test_r_gen_2_an_agreement_needs_number_date_and_channel_partner(
    hospital: Hospital,
) -> None:
    """R-GEN-2: the agreement's number and channel partner are required, and it cannot be
    signed in the future."""
    # given an account with its agreement
    before = await hospital.snapshot()
    cases = [
        ({"number": "", "signed": "2026-02-01", "partner": "Partner"}, "number"),
        ({"number": "AG-2", "signed": "2026-02-01", "partner": "  "}, "channelPartner"),
        ({"number": "AG-2", "signed": "2026-03-02", "partner": "Partner"}, "signedOn"),
    ]
    for variables, field in cases:
        # when an agreement with a missing field is recorded
        out = (await hospital.op(AGREEMENT, acc=hospital.acc_id, **variables))["recordAgreement"]
        # then R_GEN_2_AGREEMENT_FIELDS on that field, and the old agreement stands
        assert out["agreement"] is None
        assert_refused(out["userErrors"], "R_GEN_2_AGREEMENT_FIELDS", field, "en")
    assert await hospital.snapshot() == before


async def test_r_gen_2_an_agreement_signed_today_in_shanghai_is_accepted(
    hospital: Hospital, clock: ManualClock
) -> None:
    """R-GEN-2 with R-GEN-6: the signing date is a calendar date in China; at 04:00 on 2 March
    in Shanghai (20:00 UTC on 1 March) an agreement signed on 2 March is not in the future."""
    # given the clock at 2026-03-01T20:00Z, 2 March in Shanghai
    clock.set(datetime(2026, 3, 1, 20, 0, tzinfo=UTC))
    # when the agreement signed on 2 March is recorded
    out = await hospital.op(
        AGREEMENT, acc=hospital.acc_id, number="AG-2", signed="2026-03-02", partner="Partner"
    )
    # then it is accepted
    assert out["recordAgreement"]["userErrors"] == []
    assert out["recordAgreement"]["agreement"] == {"number": "AG-2"}


async def test_r_arr_2_a_negative_low_balance_threshold_is_refused(hospital: Hospital) -> None:
    """R-ARR-2 decision: the low-balance threshold is configurable, but not below zero."""
    # given an account with the default threshold
    before = await hospital.snapshot()
    # when the threshold is set to -1
    out = (await hospital.op(THRESHOLD, acc=hospital.acc_id, t=-1))["setLowBalanceThreshold"]
    # then refused, the threshold unchanged
    assert out["account"] is None
    assert_refused(out["userErrors"], "THRESHOLD_INVALID", "threshold", "en")
    assert await hospital.snapshot() == before
    assert before["account"]["lowBalanceThreshold"] == 1_000


# --- batches and idempotency keys ------------------------------------------------------


async def test_a_batch_of_1001_uploads_is_refused_whole(hospital: Hospital) -> None:
    """At most 1,000 uploads per batch; a larger one is refused before anything is drawn."""
    # given an account with one lot
    before = await hospital.snapshot()
    items = [{"studyInstanceUid": uid(n)} for n in range(1_001)]
    # when 1,001 uploads arrive in one batch
    out = (await hospital.gw(UPLOADS, inst=hospital.gateway.id, items=items))["recordExamUploads"]
    # then BATCH_TOO_LARGE on items, naming the limit, and nothing recorded
    assert (out["results"], out["accepted"]) == ([], 0)
    assert_refused(out["userErrors"], "BATCH_TOO_LARGE", "items", "zh-CN")
    assert "1000" in out["userErrors"][0]["messageEn"]
    assert await hospital.snapshot() == before


async def test_an_idempotency_key_reused_for_another_credit_is_refused(
    hospital: Hospital,
) -> None:
    """A key names one request: the same key with another credit is IDEMPOTENCY_KEY_REUSED."""
    # given a credit made under key po-1
    first = await hospital.op(CREDIT, acc=hospital.acc_id, q=10_000, mode="VOLUME", key="po-1")
    assert first["creditExamLot"]["userErrors"] == []
    before = await hospital.snapshot()
    # when the key comes with another quantity, or another mode
    other_quantity = await hospital.op(
        CREDIT, acc=hospital.acc_id, q=20_000, mode="VOLUME", key="po-1"
    )
    other_mode = await hospital.op(
        CREDIT, acc=hospital.acc_id, q=10_000, mode="ANNUAL", years=3, key="po-1"
    )
    # then both are refused on idempotencyKey and nothing more is bought
    for out in (other_quantity, other_mode):
        assert out["creditExamLot"]["lot"] is None
        assert_refused(
            out["creditExamLot"]["userErrors"], "IDEMPOTENCY_KEY_REUSED", "idempotencyKey", "en"
        )
    assert await hospital.snapshot() == before
    assert before["account"]["examFigures"]["bought"] == 20_000


async def test_an_idempotency_key_reused_for_another_void_is_refused(hospital: Hospital) -> None:
    """voidExam: the same key for another exam or another reason is IDEMPOTENCY_KEY_REUSED;
    the same request again replays the first answer."""
    # given exam 1 voided under key v-1, and exam 2 not voided
    exam1 = await hospital.upload(1)
    exam2 = await hospital.upload(2)
    first = (await hospital.op(VOID, exam=exam1, reason="test", key="v-1"))["voidExam"]
    assert first["userErrors"] == []
    before = await hospital.snapshot()
    # when the key comes with exam 2, or with another reason
    other_exam = (await hospital.op(VOID, exam=exam2, reason="test", key="v-1"))["voidExam"]
    other_reason = (await hospital.op(VOID, exam=exam1, reason="other", key="v-1"))["voidExam"]
    replay = (await hospital.op(VOID, exam=exam1, reason="test", key="v-1"))["voidExam"]
    # then both are refused, exam 2 is not voided, and the replay is the first answer
    for out in (other_exam, other_reason):
        assert out["exam"] is None
        assert_refused(out["userErrors"], "IDEMPOTENCY_KEY_REUSED", "idempotencyKey", "en")
    assert replay == first
    assert await hospital.snapshot() == before
    assert before["account"]["examFigures"]["used"] == 1


async def test_an_idempotency_key_reused_for_another_batch_is_refused(hospital: Hospital) -> None:
    """recordExamUploads: the same key with other items, or from the single-upload
    mutation, is IDEMPOTENCY_KEY_REUSED and draws nothing."""
    # given a batch recorded under key b-1
    items = [{"studyInstanceUid": uid(1)}, {"studyInstanceUid": uid(2)}]
    first = (await hospital.gw(UPLOADS, inst=hospital.gateway.id, items=items, key="b-1"))[
        "recordExamUploads"
    ]
    assert first["accepted"] == 2
    before = await hospital.snapshot()
    # when the key comes with other items, or on a single upload
    other = [{"studyInstanceUid": uid(3)}]
    batch = (await hospital.gw(UPLOADS, inst=hospital.gateway.id, items=other, key="b-1"))[
        "recordExamUploads"
    ]
    single = (await hospital.gw(UPLOAD, inst=hospital.gateway.id, uid=uid(3), key="b-1"))[
        "recordExamUpload"
    ]
    # then both are refused on idempotencyKey, study 3 not recorded
    assert batch["results"] == []
    assert_refused(batch["userErrors"], "IDEMPOTENCY_KEY_REUSED", "idempotencyKey", "zh-CN")
    assert single["status"] is None
    assert_refused(single["userErrors"], "IDEMPOTENCY_KEY_REUSED", "idempotencyKey", "zh-CN")
    assert await hospital.snapshot() == before


async def test_an_empty_or_overlong_idempotency_key_is_refused(hospital: Hospital) -> None:
    """A key has 1-200 characters: IDEMPOTENCY_KEY_INVALID otherwise, nothing written."""
    # given an account with one exam
    exam = await hospital.upload(1)
    before = await hospital.snapshot()
    for key in ("", "k" * 201):
        # when uploads, a credit and a void carry that key
        upload = (await hospital.gw(UPLOAD, inst=hospital.gateway.id, uid=uid(2), key=key))[
            "recordExamUpload"
        ]
        credit = (await hospital.op(CREDIT, acc=hospital.acc_id, q=10_000, mode="VOLUME", key=key))[
            "creditExamLot"
        ]
        void = (await hospital.op(VOID, exam=exam, reason="test", key=key))["voidExam"]
        # then each is refused on idempotencyKey
        assert_refused(upload["userErrors"], "IDEMPOTENCY_KEY_INVALID", "idempotencyKey", "zh-CN")
        assert_refused(credit["userErrors"], "IDEMPOTENCY_KEY_INVALID", "idempotencyKey", "en")
        assert_refused(void["userErrors"], "IDEMPOTENCY_KEY_INVALID", "idempotencyKey", "en")
    assert await hospital.snapshot() == before


# --- who may do what -------------------------------------------------------------------


async def test_forbidden_a_gateway_calling_operator_mutations(hospital: Hospital) -> None:
    """Gateways only report uploads; operator mutations are FORBIDDEN to them."""
    # given an account with one exam, and its gateway
    exam = await hospital.upload(1)
    before = await hospital.snapshot()
    # when the gateway tries the operator's mutations
    answers = [
        (await hospital.gw(CREATE_ACCOUNT, name="Mine now"))["createAccount"],
        (await hospital.gw(CREATE_INSTITUTION, acc=hospital.acc_id, name="Extra"))[
            "createInstitution"
        ],
        (await hospital.gw(CREDIT, acc=hospital.acc_id, q=10_000, mode="VOLUME"))["creditExamLot"],
        (await hospital.gw(VOID, exam=exam, reason="oops"))["voidExam"],
        (await hospital.gw(THRESHOLD, acc=hospital.acc_id, t=0))["setLowBalanceThreshold"],
        (await hospital.gw(SWEEP))["runExpirySweep"],
    ]
    # then each is FORBIDDEN and nothing changed
    for answer in answers:
        assert_refused(answer["userErrors"], "FORBIDDEN", None, "zh-CN")
    assert await hospital.snapshot() == before


async def test_forbidden_an_operator_reporting_uploads(hospital: Hospital) -> None:
    """Only an institution's gateway reports its uploads; an operator gets FORBIDDEN."""
    # given an account with one lot
    before = await hospital.snapshot()
    # when an operator reports uploads, singly and in a batch
    single = (await hospital.op(UPLOAD, inst=hospital.gateway.id, uid=uid(1)))["recordExamUpload"]
    batch = (
        await hospital.op(UPLOADS, inst=hospital.gateway.id, items=[{"studyInstanceUid": uid(1)}])
    )["recordExamUploads"]
    # then both are FORBIDDEN, nothing drawn
    assert single["status"] is None
    assert_refused(single["userErrors"], "FORBIDDEN", None, "en")
    assert batch["results"] == []
    assert_refused(batch["userErrors"], "FORBIDDEN", None, "en")
    assert await hospital.snapshot() == before


# --- paging ----------------------------------------------------------------------------


async def test_page_size_first_must_be_1_to_100(hospital: Hospital, api: Api) -> None:
    """Connections need `first` in 1..100: PAGE_SIZE on first otherwise; a bad cursor is
    CURSOR_INVALID on after. Both come as typed GraphQL errors."""
    # given an account with one lot
    auth = {"authorization": f"Bearer {hospital.token}", "accept-language": "en"}
    cases = [
        ({"first": 0}, "PAGE_SIZE", "first"),
        ({"first": 101}, "PAGE_SIZE", "first"),
        ({"first": 10, "after": "not-a-cursor"}, "CURSOR_INVALID", "after"),
    ]
    for variables, code, field in cases:
        # when account.lots is asked for such a page
        response = await api.raw(LOTS_PAGE, {"id": hospital.acc_id, **variables}, **auth)
        # then a typed error names the rule and the field, in both languages
        payload = response.json()
        assert response.status_code == 200
        assert payload["data"]["account"] is None
        [error] = payload["errors"]
        assert error["path"] == ["account", "lots"]
        ext = error["extensions"]
        assert (ext["code"], ext["field"]) == (code, field)
        assert ext["messageZh"]
        assert ext["messageEn"]
        assert error["message"] == ext["messageEn"]
    # and the limits themselves are fine
    for first in (1, 100):
        ok = await hospital.op(LOTS_PAGE, id=hospital.acc_id, first=first)
        assert ok["account"]["lots"]["totalCount"] == 1


# --- languages -------------------------------------------------------------------------


async def test_accept_language_chooses_the_message_language(hospital: Hospital) -> None:
    """Every refusal carries both messages; `message` follows Accept-Language (zh-CN unless
    the client prefers English)."""
    # given an account
    variables = {"acc": hospital.acc_id, "q": 15_000, "mode": "VOLUME"}
    answers = {}
    for lang in ("en", "en-US,en;q=0.9", "zh-CN", "zh-CN,zh;q=0.9,en;q=0.8", "fr"):
        # when the same bad credit is sent with that Accept-Language
        out = await hospital.op(CREDIT, lang=lang, **variables)
        [error] = out["creditExamLot"]["userErrors"]
        answers[lang] = error
    # then English for en, Chinese otherwise, both messages always
    for lang, error in answers.items():
        expected = "en" if lang.startswith("en") else "zh-CN"
        assert_refused([error], "R_EXAM_1_UNIT", "quantity", expected)
    zh, en = MESSAGES["R_EXAM_1_UNIT"]
    assert answers["en"]["message"] == en
    assert answers["zh-CN"]["message"] == zh


# --- recordExamUploads: the happy path -------------------------------------------------


async def test_record_exam_uploads_answers_each_item_in_order_and_a_replay_is_the_first_answer(
    hospital: Hospital, clock: ManualClock
) -> None:
    """R-EXAM-4 in a batch: one result per item, in order: new studies ACCEPTED, repeats
    (earlier or inside the batch) DUPLICATE, bad items REFUSED with their rule; counts add
    up. The same batch replayed under its idempotency key returns the first response
    (ACCEPTED, not DUPLICATE) and draws nothing more."""
    # given an account with one lot and study 1 already recorded
    await hospital.upload(1)
    two_hours_ago = (clock.now() - timedelta(hours=2)).isoformat()
    items = [
        {"studyInstanceUid": uid(2), "uploadedAt": two_hours_ago},
        {"studyInstanceUid": uid(1)},
        {"studyInstanceUid": "not-a-uid"},
        {"studyInstanceUid": uid(3)},
        {"studyInstanceUid": uid(2)},
        {"studyInstanceUid": uid(4), "uploadedAt": (clock.now() + timedelta(hours=1)).isoformat()},
    ]
    # when the gateway sends the batch under a key
    first = (await hospital.gw(UPLOADS, inst=hospital.gateway.id, items=items, key="batch-1"))[
        "recordExamUploads"
    ]
    # then one result per item, in order, with the counts
    results = first["results"]
    assert [(r["studyInstanceUid"], r["status"]) for r in results] == [
        (uid(2), "ACCEPTED"),
        (uid(1), "DUPLICATE"),
        ("not-a-uid", "REFUSED"),
        (uid(3), "ACCEPTED"),
        (uid(2), "DUPLICATE"),
        (uid(4), "REFUSED"),
    ]
    assert (first["accepted"], first["duplicates"], first["refused"]) == (2, 2, 2)
    assert first["userErrors"] == []
    assert results[0]["exam"]["id"] == results[4]["exam"]["id"]
    assert results[0]["exam"]["uploadedAt"].startswith(two_hours_ago[:19])
    assert [r["error"] for r in results if r["status"] != "REFUSED"] == [None] * 4
    assert_refused([results[2]["error"]], "R_EXAM_4_STUDY_UID", "studyInstanceUid", "zh-CN")
    assert_refused([results[5]["error"]], "R_EXAM_5_UPLOAD_TIME", "uploadedAt", "zh-CN")
    after_first = await hospital.snapshot()
    assert after_first["account"]["examFigures"]["used"] == 3
    # when the gateway retries the same batch under the same key, a minute later
    clock.advance(timedelta(minutes=1))
    replay = (await hospital.gw(UPLOADS, inst=hospital.gateway.id, items=items, key="batch-1"))[
        "recordExamUploads"
    ]
    # then it gets the first response, ACCEPTED and all, and nothing more is drawn
    assert replay == first
    assert await hospital.snapshot() == after_first
    # and the same batch without a key is answered as duplicates
    plain = (await hospital.gw(UPLOADS, inst=hospital.gateway.id, items=items))["recordExamUploads"]
    assert [r["status"] for r in plain["results"]] == [
        "DUPLICATE",
        "DUPLICATE",
        "REFUSED",
        "DUPLICATE",
        "DUPLICATE",
        "REFUSED",
    ]
    assert await hospital.snapshot() == after_first
