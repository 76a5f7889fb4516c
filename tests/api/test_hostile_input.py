"""Hostile input through GraphQL (issue: access control; domain.md "What bad input gets").

Every text and number argument of a representative set of mutations gets generated abuse:
unicode (emoji, RTL, combining marks, zero-width), NUL and control characters, strings up
to 100,000 characters, SQL-ish text, whitespace only, empty; integers beyond 2^63,
negative, zero. Each answer must be one of:
- a typed refusal (`userErrors` with a code of domain/errors.py, nothing else returned);
- a GraphQL validation error, only for a number GraphQL's Int (32-bit) or Fen cannot hold;
- stored exactly: read back, it equals what was sent (trimmed of surrounding whitespace,
  the documented normalisation of names and reasons) and fits its column;
never a 5xx, never a masked "Unexpected error" (INTERNAL), and the server stays healthy.

Plus the request limits: depth, aliases, body size, page size, batch size, no suggestions.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.domain.errors import MESSAGES
from imaging_billing.domain.money import MAX_FEN

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway

PROPS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one database per test, shared by its examples
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

INT32 = range(-(2**31), 2**31)
NAME_LIMIT = 200  # every name column (store/tables.py, commerce_tables.py, access_tables.py)
REASON_LIMIT = 500

NASTY = [
    "",
    " ",
    "   \t\n\r ",
    "\u3000\u00a0",
    "\x00",
    "Main\x00site",
    "\x01\x02\x1b[31m\x7f",
    "line\nbreak",
    "'; DROP TABLE account; --",
    "Robert'); DROP TABLE app_user; --",
    '" OR "1"="1',
    "%s%s%n{0}{{7*7}}${jndi:ldap://x}",
    "<script>alert(1)</script>",
    "😀🏥💉",
    "👨‍👩‍👧‍👦🇨🇳",
    "مستشفى الملك فهد",
    "בית חולים",
    "\u202eevil.exe\u202c",
    "\u200b\u200c\u200d\ufeff",
    "e\u0301\u0301\u0301",
    "北京协和医院",
    "x" * (NAME_LIMIT + 1),
    "医" * 100_000,
]
hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.text(st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=12),
    st.integers(0, 100_000).map(lambda n: "y" * n),
)
NASTY_NUMBERS = [
    0,
    -1,
    1,
    9_999,
    10_000,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    MAX_FEN,
    MAX_FEN + 1,
    10**30,
]
hostile_int = st.one_of(
    st.sampled_from(NASTY_NUMBERS), st.integers(-(2**70), 2**70), st.integers(-10, 10**6)
)
small_or_nasty_int = st.one_of(st.sampled_from(NASTY_NUMBERS), st.integers(-5, 200))


# --- how to judge an answer --------------------------------------------------------------


def outcome(response: httpx.Response, name: str, *, may_be_invalid: bool = False) -> Any:
    """The payload when stored, None when refused; fails on anything else."""
    assert response.status_code == 200, (response.status_code, response.text[:500])
    assert "Unexpected error" not in response.text, response.text[:500]
    payload = response.json()
    errors = payload.get("errors") or []
    assert all((e.get("extensions") or {}).get("code") != "INTERNAL" for e in errors)
    if errors:
        # GraphQL validation: only a number out of Int / Fen range may end here
        assert may_be_invalid, response.text[:500]
        assert payload.get("data") is None
        return None
    value = payload["data"][name]
    if value.get("userErrors"):
        code = value["userErrors"][0]["code"]
        assert code in MESSAGES, code
        # nothing but the refusal (an upload's status says REFUSED)
        rest = {k: v for k, v in value.items() if k != "userErrors" and v != "REFUSED"}
        assert all(not v for v in rest.values()), value
        return None
    return value


def out_of_int(*numbers: int | None) -> bool:
    return any(n is not None and n not in INT32 for n in numbers)


def trimmed(text: str) -> str:
    return text.strip()


def assert_stored(stored: str | None, sent: str, limit: int = NAME_LIMIT) -> None:
    assert stored == trimmed(sent)
    assert len(stored) <= limit, f"{len(stored)} characters stored in a {limit}-character column"


async def healthy(api: Api, token: str) -> None:
    """The server still answers: /healthz and an authenticated query."""
    health = await api.client.get("/healthz")
    assert (health.status_code, health.text) == (200, "ok")
    assert (await api.operator(token, "{ viewer { role } }"))["viewer"]["role"] == "OPERATOR"


async def signed(
    api: Api, gateway: Gateway, query: str, variables: dict[str, Any]
) -> httpx.Response:
    body = json.dumps({"query": query, "variables": variables}).encode()
    return await api.client.post(
        "/graphql", content=body, headers=gateway.headers(body, api.clock.now())
    )


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "accept-language": "en"}


UNIQUE = itertools.count(1)  # suffixes unique across examples


# --- accounts, institutions, agreements ----------------------------------------------------

CREATE_ACCOUNT = """mutation($n: String!, $t: Int) { createAccount(name: $n,
  lowBalanceThreshold: $t) { account { id name lowBalanceThreshold } userErrors { code } } }"""
READ_NAME = (
    "query($id: ID!) { node(id: $id) { ... on Account { name } ... on Institution { name } } }"
)


@PROPS
@given(name=hostile_text, threshold=st.one_of(st.none(), hostile_int))
async def test_create_account_name_and_threshold(
    services: Services, api: Api, name: str, threshold: int | None
) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when an account is created with hostile input
    response = await api.raw(CREATE_ACCOUNT, {"n": name, "t": threshold}, **bearer(token))
    # then it is refused, or stored exactly
    stored = outcome(response, "createAccount", may_be_invalid=out_of_int(threshold))
    if stored is not None:
        read = await api.operator(token, READ_NAME, {"id": stored["account"]["id"]})
        assert_stored(read["node"]["name"], name)
        if threshold is not None:
            assert stored["account"]["lowBalanceThreshold"] == threshold
    await healthy(api, token)


CREATE_INSTITUTION = """mutation($a: ID!, $n: String!) { createInstitution(accountId: $a,
  name: $n) { institution { id name } token userErrors { code } } }"""


@PROPS
@given(name=hostile_text)
async def test_create_institution_name(services: Services, api: Api, name: str) -> None:
    # given an account
    token = await create_operator_token(services)
    account = str(encode("Account", await create_account(services)))
    # when an institution is created with a hostile name
    response = await api.raw(CREATE_INSTITUTION, {"a": account, "n": name}, **bearer(token))
    # then it is refused, or stored exactly
    stored = outcome(response, "createInstitution")
    if stored is not None:
        read = await api.operator(token, READ_NAME, {"id": stored["institution"]["id"]})
        assert_stored(read["node"]["name"], name)
    await healthy(api, token)


RECORD_AGREEMENT = """mutation($a: ID!, $n: String!, $d: Date!, $c: String!) {
  recordAgreement(accountId: $a, number: $n, signedOn: $d, channelPartner: $c) {
    agreement { number channelPartner signedOn } userErrors { code } } }"""
AGREEMENT = "query($a: ID!) { account(id: $a) { agreement { number channelPartner signedOn } } }"


@PROPS
@given(
    number=hostile_text,
    partner=hostile_text,
    signed_on=st.sampled_from(
        ["0001-01-01", "1970-01-01", "2026-02-28", "2026-03-02", "9999-12-31"]
    ),
)
async def test_record_agreement_fields(
    services: Services, api: Api, number: str, partner: str, signed_on: str
) -> None:
    """R-GEN-2: number (100), signing date (not in the future), channel partner (200)."""
    # given an account without an agreement
    token = await create_operator_token(services)
    account = str(encode("Account", await create_account(services, agreement=False)))
    variables = {"a": account, "n": number, "d": signed_on, "c": partner}
    # when the agreement is recorded
    response = await api.raw(RECORD_AGREEMENT, variables, **bearer(token))
    # then it is refused, or read back exactly
    stored = outcome(response, "recordAgreement")
    if stored is not None:
        agreement = (await api.operator(token, AGREEMENT, {"a": account}))["account"]["agreement"]
        assert_stored(agreement["number"], number, limit=100)
        assert_stored(agreement["channelPartner"], partner)
        assert agreement["signedOn"] == signed_on
        assert signed_on <= "2026-03-01"  # R-GEN-6: not after today in Shanghai
    await healthy(api, token)


# --- exam lots, uploads, voids ------------------------------------------------------------------

CREDIT = """mutation($a: ID!, $m: LotMode!, $q: Int!, $y: Int, $c: String) {
  creditExamLot(accountId: $a, mode: $m, quantity: $q, years: $y, contractRef: $c) {
    lot { id quantity storageYears contractRef } userErrors { code } } }"""
UPLOAD = """mutation($i: ID!, $u: String!) { recordExamUpload(institutionId: $i,
  studyInstanceUid: $u) { status exam { studyInstanceUid storageEndsAt } userErrors { code } } }"""


async def upload_still_works(api: Api, gateway: Gateway, uid: str) -> None:
    """The account is not broken: an upload gets an answer, not an internal error."""
    response = await signed(api, gateway, UPLOAD, {"i": gateway.id, "u": uid})
    stored = outcome(response, "recordExamUpload")
    assert stored is not None, response.text
    assert stored["status"] == "ACCEPTED"


@PROPS
@given(quantity=hostile_int, contract_ref=st.one_of(st.none(), hostile_text))
async def test_credit_exam_lot_quantity_and_contract_ref(
    services: Services, api: Api, quantity: int, contract_ref: str | None
) -> None:
    """R-EXAM-1: whole 10,000s; R-GEN-5: a contract reference of at most 200 characters."""
    # given a fresh account with a gateway
    token = await create_operator_token(services)
    account_pk = await create_account(services)
    gateway = await create_institution(services, account_pk)
    account = str(encode("Account", account_pk))
    variables = {"a": account, "m": "VOLUME", "q": quantity, "c": contract_ref}
    # when a lot is credited with hostile figures
    response = await api.raw(CREDIT, variables, **bearer(token))
    # then it is refused, or stored exactly, and uploads still work
    stored = outcome(response, "creditExamLot", may_be_invalid=out_of_int(quantity))
    if stored is not None:
        lot = stored["lot"]
        assert lot["quantity"] == quantity
        assert quantity >= 10_000
        assert quantity % 10_000 == 0
        if contract_ref is not None:
            assert_stored(lot["contractRef"], contract_ref)
        await upload_still_works(api, gateway, "1.2.3.4")
    await healthy(api, token)


@PROPS
@given(years=small_or_nasty_int)
@example(years=10_000)
async def test_credit_exam_lot_annual_years(services: Services, api: Api, years: int) -> None:
    """R-EXAM-1/5: an ANNUAL lot's storage years; exams it covers get a storage end.
    Regression (10,000 years): the covered upload once failed with an internal error."""
    # given a fresh account with a gateway
    token = await create_operator_token(services)
    account_pk = await create_account(services)
    gateway = await create_institution(services, account_pk)
    variables = {"a": str(encode("Account", account_pk)), "m": "ANNUAL", "q": 10_000, "y": years}
    # when an ANNUAL lot is credited with hostile years
    response = await api.raw(CREDIT, variables, **bearer(token))
    # then it is refused, or stored and an exam it covers gets its storage end
    stored = outcome(response, "creditExamLot", may_be_invalid=out_of_int(years))
    if stored is not None:
        assert stored["lot"]["storageYears"] == years >= 1
        await upload_still_works(api, gateway, "1.2.3.5")
    await healthy(api, token)


@PROPS
@given(uid=st.one_of(hostile_text, st.from_regex(r"\A[0-9][0-9.]{0,70}\Z")))
async def test_record_exam_upload_study_instance_uid(
    services: Services, api: Api, uid: str
) -> None:
    """R-EXAM-4: a DICOM UID of 1-64 digits and dots, or a typed refusal."""
    # given a gateway with a lot
    token = await create_operator_token(services)
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    # when it reports a hostile Study Instance UID
    response = await signed(api, gateway, UPLOAD, {"i": gateway.id, "u": uid})
    # then it is refused, or the exam is found again by exactly that UID
    stored = outcome(response, "recordExamUpload")
    if stored is not None:
        assert stored["exam"]["studyInstanceUid"] == uid
        found = await signed(
            api,
            gateway,
            "query($i: ID!, $u: String!) { exam(institutionId: $i, studyInstanceUid: $u) {"
            " studyInstanceUid } }",
            {"i": gateway.id, "u": uid},
        )
        assert found.json()["data"]["exam"] == {"studyInstanceUid": uid}
    await healthy(api, token)


VOID = """mutation($e: ID!, $r: String!) { voidExam(examId: $e, reason: $r) {
  exam { id voidReason voidedAt } userErrors { code } } }"""


@PROPS
@given(reason=hostile_text)
@example(reason="wrong\x00study")
async def test_void_exam_reason(services: Services, api: Api, reason: str) -> None:
    """R-GEN-5: a void carries a reason (at most 500 characters).
    Regression (PostgreSQL): a NUL in the reason once ended in an internal error."""
    # given an uploaded exam
    token = await create_operator_token(services)
    account = await create_account(services)
    gateway = await create_institution(services, account)
    uploaded = await signed(api, gateway, UPLOAD, {"i": gateway.id, "u": "1.2.9"})
    assert uploaded.status_code == 200
    exam = await signed(
        api,
        gateway,
        'query($i: ID!) { exam(institutionId: $i, studyInstanceUid: "1.2.9") { id } }',
        {"i": gateway.id},
    )
    exam_id = exam.json()["data"]["exam"]["id"]
    # when the operator voids it with a hostile reason
    response = await api.raw(VOID, {"e": exam_id, "r": reason}, **bearer(token))
    # then it is refused, or the reason is stored exactly
    stored = outcome(response, "voidExam")
    if stored is not None:
        read = await api.operator(
            token, "query($e: ID!) { node(id: $e) { ... on Exam { voidReason } } }", {"e": exam_id}
        )
        assert_stored(read["node"]["voidReason"], reason, limit=REASON_LIMIT)
    await healthy(api, token)


# --- prices and orders -----------------------------------------------------------------------

SET_PRICE = """mutation($p: String!, $f: Fen!) { setPrice(product: $p, unitPriceFen: $f) {
  price { id product unitPriceFen } userErrors { code } } }"""
PRICE_OF = """query($p: String) { priceHistory(first: 1, product: $p) {
  edges { node { product unitPriceFen } } } }"""


fen_in_range = st.one_of(
    st.sampled_from([0, -1, 1, 2**31, 2**49, MAX_FEN, -MAX_FEN]),
    st.integers(-MAX_FEN, MAX_FEN),
)


@PROPS
@given(product=st.one_of(st.just("EXAM_VOLUME"), hostile_text), fen=fen_in_range)
async def test_set_price_product_and_unit_price(
    services: Services, api: Api, product: str, fen: int
) -> None:
    """R-GEN-3: whole fen, 0..MAX_FEN; a known product."""
    # given an operator
    token = await create_operator_token(services)
    # when a price is set with hostile figures (Fen's own range: see the next test)
    response = await api.raw(SET_PRICE, {"p": product, "f": fen}, **bearer(token))
    # then it is refused, or read back exactly
    stored = outcome(response, "setPrice")
    if stored is not None:
        assert 0 <= fen <= MAX_FEN
        history = await api.operator(token, PRICE_OF, {"p": product})
        assert history["priceHistory"]["edges"][0]["node"] == {
            "product": product,
            "unitPriceFen": fen,
        }
    await healthy(api, token)


@pytest.mark.parametrize(
    "fen", [MAX_FEN + 1, -(MAX_FEN + 1), 2**53 + 1, 2**63, 2**64, 10**30, "12x"]
)
async def test_a_fen_beyond_its_range_is_a_validation_error_not_a_crash(
    services: Services, api: Api, fen: int | str
) -> None:
    """R-GEN-3: Fen holds at most MAX_FEN; beyond that the variable is invalid."""
    # given an operator
    token = await create_operator_token(services)
    # when a price beyond Fen's range is sent
    response = await api.raw(SET_PRICE, {"p": "EXAM_VOLUME", "f": fen}, **bearer(token))
    # then the variable is refused with the rule's code: no data, no internal error
    assert outcome(response, "setPrice", may_be_invalid=True) is None
    assert response.json()["errors"][0]["extensions"]["code"] == "R_GEN_3_AMOUNT"
    await healthy(api, token)


PLACE = """mutation($a: ID!, $l: [OrderLineInput!]!) { placeOrder(accountId: $a, lines: $l,
  acceptTerms: true) { order { id lines { product quantity years institutionName remark } }
  userErrors { code field } } }"""
PRICES = {
    "EXAM_VOLUME": 150,
    "EXAM_ANNUAL": 12,
    "SERVICE_DELIVERY": 800_000,
    "AI_PACK_GLAUCOMA": 200,
}


async def priced_account(services: Services, api: Api, token: str) -> str:
    for product, fen in PRICES.items():
        response = await api.raw(SET_PRICE, {"p": product, "f": fen}, **bearer(token))
        assert response.json()["data"]["setPrice"]["userErrors"] == []
    return str(encode("Account", await create_account(services)))


@PROPS
@given(
    product=st.one_of(st.sampled_from(sorted(PRICES)), hostile_text),
    quantity=hostile_int,
    years=st.one_of(st.none(), hostile_int),
)
async def test_place_order_line_product_quantity_years(
    services: Services, api: Api, product: str, quantity: int, years: int | None
) -> None:
    """R-ORD-2: units of R-EXAM-1 / R-AI-1, years of R-EXAM-1, known products."""
    # given a priced catalog and an account with an agreement
    token = await create_operator_token(services)
    account = await priced_account(services, api, token)
    line: dict[str, Any] = {"product": product, "quantity": quantity, "years": years}
    if product == "SERVICE_DELIVERY":
        line["institutionName"] = "Future site"
    # when an order is placed with hostile figures
    response = await api.raw(PLACE, {"a": account, "l": [line]}, **bearer(token))
    # then it is refused, or the line is kept exactly as ordered
    stored = outcome(response, "placeOrder", may_be_invalid=out_of_int(quantity, years))
    if stored is not None:
        (kept,) = stored["order"]["lines"]
        assert (kept["product"], kept["quantity"]) == (product, quantity)
        assert kept["years"] == (years if product == "EXAM_ANNUAL" else None)
    await healthy(api, token)


@PROPS
@given(name=hostile_text)
@example(name="x" * (NAME_LIMIT + 1))
async def test_place_order_service_institution_name(
    services: Services, api: Api, name: str
) -> None:
    """R-SVC-4: a service for an institution not yet on the platform names it.
    Regression: the name was once unchecked (201 characters into a 200-character column)."""
    # given a priced catalog
    token = await create_operator_token(services)
    account = await priced_account(services, api, token)
    line = {"product": "SERVICE_DELIVERY", "quantity": 1, "institutionName": name}
    # when a delivery service is ordered for a hostile institution name
    response = await api.raw(PLACE, {"a": account, "l": [line]}, **bearer(token))
    # then it is refused, or the name is kept exactly, within its column
    stored = outcome(response, "placeOrder")
    if stored is not None:
        (kept,) = stored["order"]["lines"]
        assert_stored(kept["institutionName"], name)
        assert len(kept["remark"]) <= REASON_LIMIT
    await healthy(api, token)


# --- people --------------------------------------------------------------------------------------

INVITE = """mutation($e: String!, $n: String!, $a: ID) { inviteUser(email: $e, name: $n,
  role: ACCOUNT_VIEWER, accountId: $a) { invitationToken userErrors { code } } }"""


async def invitation_row(services: Services, token: str) -> Any:
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with services.db.read() as conn:
        return (
            await conn.execute(
                sa.text("SELECT email, name FROM invitation WHERE token_hash = :h"), {"h": digest}
            )
        ).one()


@PROPS
@given(email=st.one_of(hostile_text, st.emails(), st.emails().map(lambda e: f" {e.upper()}\x00")))
@example(email="nul\x00@alpha.example.cn")
async def test_invite_user_email(services: Services, api: Api, email: str) -> None:
    """Regression (PostgreSQL): a NUL in an email once ended in an internal error."""
    # given an account
    token = await create_operator_token(services)
    account = str(encode("Account", await create_account(services)))
    # when a person is invited with a hostile email
    response = await api.raw(INVITE, {"e": email, "n": "Someone", "a": account}, **bearer(token))
    # then it is refused, or kept exactly (normalised to lower case)
    stored = outcome(response, "inviteUser")
    if stored is not None:
        row = await invitation_row(services, stored["invitationToken"])
        assert row.email == email.strip().lower()
        assert len(row.email) <= 254
    await healthy(api, token)


@PROPS
@given(name=hostile_text)
@example(name="z" * (NAME_LIMIT + 1))
async def test_invite_user_name(services: Services, api: Api, name: str) -> None:
    """Regression: invite_user once cut names to 200 characters silently."""
    # given an account
    token = await create_operator_token(services)
    account = str(encode("Account", await create_account(services)))
    # when a person is invited with a hostile name
    email = f"person{next(UNIQUE)}@alpha.example.cn"
    response = await api.raw(INVITE, {"e": email, "n": name, "a": account}, **bearer(token))
    # then it is refused, or kept exactly (an empty name falls back to the email)
    stored = outcome(response, "inviteUser")
    if stored is not None:
        row = await invitation_row(services, stored["invitationToken"])
        assert row.name == (trimmed(name) or email)
        assert len(row.name) <= NAME_LIMIT
    await healthy(api, token)


LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  viewer { role } userErrors { code } } }"""


@PROPS
@given(email=hostile_text, password=hostile_text)
@example(email="nul\x00@alpha.example.cn", password="whatever password")
async def test_login_email_and_password(
    services: Services, api: Api, email: str, password: str
) -> None:
    """Regression (PostgreSQL): a NUL in an email once ended in an internal error."""
    # given anyone, anonymous
    token = await create_operator_token(services)
    # when they log in with hostile credentials
    response = await api.raw(LOGIN, {"e": email, "p": password})
    # then they get a typed refusal: failed, or throttled after 20 tries from one address
    assert outcome(response, "login") is None
    code = response.json()["data"]["login"]["userErrors"][0]["code"]
    assert code in ("LOGIN_FAILED", "LOGIN_THROTTLED")
    await healthy(api, token)
    # the throttle must not lock the next example out of the code path under test
    api.clock.advance(timedelta(minutes=16))


# --- request limits -----------------------------------------------------------------------------


def nested(depth: int) -> str:
    """A query `depth` fields deep: account → institutions → edges → node → account → ..."""
    cycle = [
        ("institutions(first: 1)", "totalCount"),
        ("edges", "cursor"),
        ("node", "id"),
        ("account", "id"),
    ]
    chain = [("account(id: $id)", "id")] + [cycle[n % 4] for n in range(depth - 2)]
    leaf = chain[-1][1]
    opening = " { ".join(name for name, _ in chain)
    return f"query($id: ID!) {{ {opening} {{ {leaf} }}" + " }" * len(chain)


async def test_depth_beyond_10_is_refused(services: Services, api: Api) -> None:
    """Depth counts the levels below the root field (graphql-depth-limit, Strawberry)."""
    # given an operator and an account
    token = await create_operator_token(services)
    account = str(encode("Account", await create_account(services)))
    # when a query of depth 10 (11 fields deep) and one of depth 11 are sent
    ok = await api.raw(nested(11), {"id": account}, **bearer(token))
    deep = await api.raw(nested(12), {"id": account}, **bearer(token))
    # then the first runs and the second is refused before running
    assert "errors" not in ok.json(), ok.text
    assert deep.json().get("data") is None
    assert "depth" in deep.json()["errors"][0]["message"]


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{n}: viewer {{ role }}" for n in range(count)) + " }"


async def test_more_than_30_aliases_are_refused(services: Services, api: Api) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when 30 and 31 aliases are asked for
    ok = await api.raw(aliased(30), **bearer(token))
    many = await api.raw(aliased(31), **bearer(token))
    # then 30 run and 31 are refused
    assert len(ok.json()["data"]) == 30
    assert many.json().get("data") is None
    assert "aliases" in many.json()["errors"][0]["message"].lower()


async def test_a_3_mb_body_is_refused_with_413(services: Services, api: Api) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when a 3 MB body is posted
    padding = "x" * (3 * 1024 * 1024)
    body = json.dumps({"query": "{ viewer { role } }", "variables": {"pad": padding}})
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json", **bearer(token)}
    )
    # then it is refused as too large, and the server still answers
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    await healthy(api, token)


async def test_first_101_is_refused_with_page_size(services: Services, api: Api) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when a page of 100 and one of 101 are asked for
    ok = await api.raw("{ accounts(first: 100) { totalCount } }", **bearer(token))
    big = await api.raw("{ accounts(first: 101) { totalCount } }", **bearer(token))
    # then 100 is fine and 101 is PAGE_SIZE
    assert ok.json()["data"] == {"accounts": {"totalCount": 0}}
    assert big.json()["data"] is None
    assert big.json()["errors"][0]["extensions"]["code"] == "PAGE_SIZE"
    assert big.json()["errors"][0]["extensions"]["field"] == "first"


UPLOADS = """mutation($i: ID!, $items: [ExamUploadInput!]!) { recordExamUploads(
  institutionId: $i, items: $items) { accepted refused userErrors { code field } } }"""
AI_READS = """mutation($i: ID!, $items: [AiReadInput!]!) { recordAiReads(institutionId: $i,
  items: $items) { accepted refused userErrors { code field } } }"""


async def test_a_batch_of_1001_items_is_refused_with_batch_too_large(
    services: Services, api: Api
) -> None:
    # given a gateway with a lot
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    uploads = [{"studyInstanceUid": f"1.2.{n}"} for n in range(1_001)]
    reads = [
        {"product": "GLAUCOMA", "studyInstanceUid": f"1.2.{n}", "idempotencyKey": f"k{n}"}
        for n in range(1_001)
    ]
    # when it reports 1,001 uploads, and 1,001 AI reads
    too_many = await signed(api, gateway, UPLOADS, {"i": gateway.id, "items": uploads})
    too_many_reads = await signed(api, gateway, AI_READS, {"i": gateway.id, "items": reads})
    # then both are refused whole, and 1,000 uploads are taken
    for response, name in ((too_many, "recordExamUploads"), (too_many_reads, "recordAiReads")):
        payload = response.json()["data"][name]
        assert payload["userErrors"] == [{"code": "BATCH_TOO_LARGE", "field": "items"}]
        assert payload["accepted"] == 0
    ok = await signed(api, gateway, UPLOADS, {"i": gateway.id, "items": uploads[:1_000]})
    assert ok.json()["data"]["recordExamUploads"]["accepted"] == 1_000


@pytest.mark.parametrize(
    "query",
    [
        "{ viewr { role } }",
        "{ viewer { rol } }",
        '{ account(id: "x") { institutons(first: 1) { totalCount } } }',
        'mutation { creatAccount(name: "x") { account { id } } }',
    ],
)
async def test_errors_never_suggest_field_names(services: Services, api: Api, query: str) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when a misspelled field is sent
    response = await api.raw(query, **bearer(token))
    # then it is an error without any suggestion of what exists
    assert response.json()["errors"], response.text
    assert response.json().get("data") is None
    assert "did you mean" not in response.text.lower()


@pytest.mark.parametrize(
    "query",
    [
        "{ accounts(frist: 5) { totalCount } }",
        "{ accounts(first: 5, orderBy: ARREAR) { totalCount } }",
        "{ viewer { ... on Viewr { role } } }",
    ],
)
async def test_errors_never_suggest_arguments_enum_values_or_types(
    services: Services, api: Api, query: str
) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when a misspelled argument, enum value or type is sent
    response = await api.raw(query, **bearer(token))
    # then it is an error without any suggestion of what exists
    assert response.json()["errors"], response.text
    assert "did you mean" not in response.text.lower()


async def test_a_lone_surrogate_in_a_name_is_refused_not_an_internal_error(
    services: Services, api: Api
) -> None:
    """Regression: a lone UTF-16 surrogate (valid JSON) once failed when written."""
    # given an operator
    token = await create_operator_token(services)
    # when an account name holds a lone surrogate (valid JSON, not valid Unicode text)
    query = (
        "mutation($n: String!) { createAccount(name: $n) { account { id } userErrors { code } } }"
    )
    body = json.dumps({"query": query, "variables": {"n": "Bad \ud800 name"}})
    assert "\\ud800" in body  # json.dumps escapes it: the request itself is valid JSON
    response = await api.client.post(
        "/graphql", content=body, headers={"content-type": "application/json", **bearer(token)}
    )
    # then it is a typed refusal
    assert outcome(response, "createAccount") is None
    await healthy(api, token)


# --- date-times: naive, and at the edges of what Python can hold ------------------------------

NAIVE = "2030-01-01T00:00:00"
YEAR_1_EAST = "0001-01-01T00:00:00+05:00"  # before 0001-01-01 in UTC
YEAR_9999_WEST = "9999-12-31T23:59:59-05:00"  # after 9999-12-31 in UTC
SET_PRICE_AT = """mutation($t: DateTime) { setPrice(product: "EXAM_VOLUME", unitPriceFen: 150,
  effectiveFrom: $t) { price { id } userErrors { code } } }"""
AUDIT_SINCE = "query($t: DateTime) { auditLog(first: 5, since: $t) { totalCount } }"
LEDGER_SINCE = """query($a: ID!, $t: DateTime) { account(id: $a) {
  ledger(first: 5, since: $t) { totalCount } } }"""
UPLOAD_AT = """mutation($i: ID!, $t: DateTime) { recordExamUpload(institutionId: $i,
  studyInstanceUid: "1.2.3", uploadedAt: $t) { status userErrors { code } } }"""


def _case(query: str, value: str, name: str) -> Any:
    return pytest.param(query, value, id=name)


@pytest.mark.parametrize(
    ("query", "value"),
    [
        pytest.param(UPLOAD_AT, NAIVE.replace("2030", "2026"), id="uploadedAt-naive"),
        _case(UPLOAD_AT, YEAR_1_EAST, "uploadedAt-year-1"),
        _case(UPLOAD_AT, YEAR_9999_WEST, "uploadedAt-year-9999"),
        _case(SET_PRICE_AT, NAIVE, "effectiveFrom-naive"),
        _case(SET_PRICE_AT, YEAR_9999_WEST, "effectiveFrom-year-9999"),
        _case(AUDIT_SINCE, NAIVE, "auditLog.since-naive"),
        _case(AUDIT_SINCE, YEAR_1_EAST, "auditLog.since-year-1"),
        _case(LEDGER_SINCE, NAIVE, "ledger.since-naive"),
        _case(LEDGER_SINCE, YEAR_1_EAST, "ledger.since-year-1"),
    ],
)
async def test_date_time_arguments_get_a_typed_answer(
    services: Services, api: Api, query: str, value: str
) -> None:
    """R-GEN-6: times carry a zone; anything else is a typed refusal, never a crash.
    Regression: naive and out-of-calendar instants once ended in internal errors."""
    # given an account with a gateway, and an operator
    token = await create_operator_token(services)
    account = await create_account(services)
    gateway = await create_institution(services, account)
    variables = {"t": value, "a": str(encode("Account", account)), "i": gateway.id}
    wanted = {k: v for k, v in variables.items() if f"${k}" in query}
    # when the date-time is sent (uploads by the gateway, the rest by the operator)
    if "recordExamUpload" in query:
        response = await signed(api, gateway, query, wanted)
    else:
        response = await api.raw(query, wanted, **bearer(token))
    # then the answer is typed: a refusal code, never INTERNAL
    assert response.status_code == 200
    assert "Unexpected error" not in response.text, response.text
    payload = response.json()
    codes = [(e.get("extensions") or {}).get("code") for e in payload.get("errors") or []]
    for value_ in (payload.get("data") or {}).values():
        if isinstance(value_, dict):
            codes += [e["code"] for e in value_.get("userErrors") or []]
    assert codes, response.text
    assert all(code in MESSAGES for code in codes), codes
    await healthy(api, token)
