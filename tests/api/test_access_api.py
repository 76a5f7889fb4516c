"""Access control through HTTP (issue: access control): people and their cookie sessions,
login throttling, CSRF, invitations, institution tokens, the audit trail and query cost.

Roles are those of `services/principals.py`: OPERATOR (bearer token), ACCOUNT_ADMIN and
ACCOUNT_VIEWER (cookie session), INSTITUTION (signed headers), ANONYMOUS (may only log in
or accept an invitation)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from imaging_billing.api.context import SESSION_COOKIE, Services
from imaging_billing.api.cost import CAPACITY
from imaging_billing.api.ids import encode
from imaging_billing.api.schema import schema
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.domain.catalog import ServiceKind
from imaging_billing.domain.errors import describe
from imaging_billing.services import access
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Role
from imaging_billing.services.steps import entitlements

from ..factories import create_account, create_institution, create_operator_token
from ..support import Api, Gateway

PASSWORD = "correct horse battery"

LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  viewer { role name email } userErrors { code field } } }"""
VIEWER = "{ viewer { role name email account { id name } } }"
ACCEPT = """mutation($t: String!, $p: String!) { acceptInvitation(token: $t, password: $p) {
  viewer { role email } userErrors { code field } } }"""
INVITE = """mutation($e: String!, $n: String!, $r: Role!, $a: ID) {
  inviteUser(email: $e, name: $n, role: $r, accountId: $a) {
    invitationToken expiresAt userErrors { code field } } }"""
ROTATE = """mutation($i: ID!) { rotateInstitutionToken(institutionId: $i) {
  token previousValidUntil userErrors { code } } }"""
REVOKE = """mutation($i: ID!) { revokeInstitutionToken(institutionId: $i) {
  revokedAt userErrors { code } } }"""
AUDIT = """query($first: Int!, $acc: ID, $p: String, $op: String, $since: DateTime,
               $until: DateTime) {
  auditLog(first: $first, accountId: $acc, principal: $p, operation: $op, since: $since,
           until: $until) {
    totalCount
    edges { node { occurredAt principal role accountId operation arguments result requestId
                   correlationId clientAddress } } } }"""
CREDIT = """mutation($acc: ID!) { creditExamLot(accountId: $acc, mode: VOLUME, quantity: 10000,
  contractRef: "C-1") { lot { id } userErrors { code } } }"""


@dataclass
class Browser:
    """A person's browser: its own cookie jar, JSON posts only (as the console sends)."""

    client: httpx.AsyncClient

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> httpx.Response:
        body = json.dumps({"query": query, "variables": variables or {}})
        hdrs = {"content-type": "application/json", **headers}
        return await self.client.post("/graphql", content=body, headers=hdrs)

    async def data(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.post(query, variables)
        payload = response.json()
        assert response.status_code == 200, payload
        assert "errors" not in payload, payload["errors"]
        data: dict[str, Any] = payload["data"]
        return data

    async def login(self, email: str, password: str = PASSWORD) -> dict[str, Any]:
        login: dict[str, Any] = (await self.data(LOGIN, {"e": email, "p": password}))["login"]
        return login

    @property
    def session(self) -> str | None:
        return self.client.cookies.get(SESSION_COOKIE)


@pytest.fixture
async def browsers(services: Services, tmp_path: Path) -> AsyncIterator[Callable[..., Browser]]:
    """Opens browsers on the same app and services; `address` is the client's IP."""
    settings = Settings(sweep_interval_seconds=0, console_dir=tmp_path / "no-console")
    app = create_app(settings, services)
    opened: list[httpx.AsyncClient] = []

    def open_browser(address: str = "127.0.0.1") -> Browser:
        transport = httpx.ASGITransport(app=app, client=(address, 50_000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(client)
        return Browser(client)

    yield open_browser
    for client in opened:
        await client.aclose()


@dataclass(frozen=True)
class People:
    account: int
    admin: str
    viewer: str

    @property
    def account_id(self) -> str:
        return str(encode("Account", self.account))


async def given_people(services: Services, *, name: str = "Alpha Hospital") -> People:
    """An account with an agreement, its administrator and a viewer, both with passwords."""
    account = await create_account(services, name=name)
    slug = name.split()[0].lower()
    emails = {}
    for role in (Role.ACCOUNT_ADMIN, Role.ACCOUNT_VIEWER):
        email = f"{role.value.lower()}@{slug}.example.cn"
        await access.create_user(
            services.db,
            email=email,
            name=f"{name} {role.value}",
            role=role,
            account_id=account,
            password=PASSWORD,
            actor="test",
            now=services.clock.now(),
        )
        emails[role] = email
    return People(account, emails[Role.ACCOUNT_ADMIN], emails[Role.ACCOUNT_VIEWER])


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


def user_error(data: dict[str, Any], field: str) -> str | None:
    errors = data[field]["userErrors"]
    return str(errors[0]["code"]) if errors else None


# --- login and sessions ---------------------------------------------------------------


async def test_login_sets_an_http_only_strict_session_cookie_and_viewer_works(
    services: Services, api: Api
) -> None:
    # given an account administrator with a password
    people = await given_people(services)
    # when she logs in through the login mutation on the client (which keeps cookies)
    response = await api.raw(LOGIN, {"e": people.admin, "p": PASSWORD})
    # then the answer names her and sets the session cookie: HttpOnly, SameSite=Strict
    assert response.status_code == 200
    login = response.json()["data"]["login"]
    assert login == {
        "viewer": {
            "role": "ACCOUNT_ADMIN",
            "name": "Alpha Hospital ACCOUNT_ADMIN",
            "email": people.admin,
        },
        "userErrors": [],
    }
    cookie = response.headers["set-cookie"]
    attributes = [part.strip().lower() for part in cookie.split(";")]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes
    assert "max-age=43200" in attributes  # the 12-hour absolute limit
    assert "secure" not in attributes  # tests run over http; `secure_cookies` turns it on
    # and the next request, with no other credential than the cookie, knows who she is
    me = await api.client.post(
        "/graphql",
        content=json.dumps({"query": VIEWER}),
        headers={"content-type": "application/json"},
    )
    assert me.status_code == 200, me.text
    viewer = me.json()["data"]["viewer"]
    assert viewer["role"] == "ACCOUNT_ADMIN"
    assert viewer["email"] == people.admin
    assert viewer["account"] == {"id": people.account_id, "name": "Alpha Hospital"}


async def test_wrong_password_and_unknown_email_are_the_same_login_failed(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given a person
    people = await given_people(services)
    browser = browsers()
    # when the password is wrong, or the email unknown
    wrong = await browser.login(people.admin, "not the password")
    unknown = await browser.login("nobody@alpha.example.cn", PASSWORD)
    # then both are LOGIN_FAILED, with no session
    assert wrong == {"viewer": None, "userErrors": [{"code": "LOGIN_FAILED", "field": "password"}]}
    assert unknown == wrong
    assert browser.session is None
    assert (await browser.post(VIEWER)).status_code == 401


async def test_five_failures_for_one_email_throttle_it_even_with_the_right_password(
    services: Services, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given five wrong passwords for one email, from five different addresses
    people = await given_people(services)
    for n in range(5):
        failed = await browsers(f"10.0.0.{n + 1}").login(people.admin, f"wrong password {n}")
        assert failed["userErrors"][0]["code"] == "LOGIN_FAILED"
    # when the right password comes, from yet another address
    throttled = await browsers("10.0.1.1").login(people.admin)
    # then it is refused: the email is throttled, whatever the address
    assert throttled == {"viewer": None, "userErrors": [{"code": "LOGIN_THROTTLED", "field": None}]}
    # and another person is not affected
    assert (await browsers("10.0.1.1").login(people.viewer))["viewer"]["role"] == "ACCOUNT_VIEWER"
    # then the window is 15 minutes: still throttled just before, free just after
    clock.advance(timedelta(minutes=15) - timedelta(seconds=1))
    assert (await browsers().login(people.admin))["userErrors"][0]["code"] == "LOGIN_THROTTLED"
    clock.advance(timedelta(seconds=2))
    assert (await browsers().login(people.admin))["viewer"]["role"] == "ACCOUNT_ADMIN"


async def test_twenty_failures_from_one_address_throttle_it_across_emails(
    services: Services, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given twenty failed logins from one address, each for a different email (4 per email)
    people = await given_people(services)
    attacker = "203.0.113.7"
    for n in range(20):
        failed = await browsers(attacker).login(f"user{n % 5}@nowhere.example.cn", "guess guess")
        assert failed["userErrors"][0]["code"] == "LOGIN_FAILED"
    # when a real person logs in with the right password from that address
    from_there = await browsers(attacker).login(people.admin)
    # then the address is throttled, while the same person elsewhere gets in
    assert from_there["userErrors"] == [{"code": "LOGIN_THROTTLED", "field": None}]
    assert (await browsers("198.51.100.1").login(people.admin))["viewer"] is not None
    # and after 15 minutes the address may try again
    clock.advance(timedelta(minutes=15, seconds=1))
    assert (await browsers(attacker).login(people.admin))["viewer"] is not None


async def test_a_session_ends_after_two_idle_hours(
    services: Services, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given a signed-in administrator
    people = await given_people(services)
    browser = browsers()
    await browser.login(people.admin)
    # when she comes back after 1 h 59 min, the session still works (and is refreshed)
    clock.advance(timedelta(hours=1, minutes=59))
    assert (await browser.data(VIEWER))["viewer"]["email"] == people.admin
    # and 1 h 59 min after that too
    clock.advance(timedelta(hours=1, minutes=59))
    assert (await browser.data(VIEWER))["viewer"]["email"] == people.admin
    # then after two hours without a request it has ended
    clock.advance(timedelta(hours=2))
    expired = await browser.post(VIEWER)
    assert expired.status_code == 401
    assert error_code(expired) == "UNAUTHENTICATED"
    assert "data" not in expired.json()


async def test_a_session_ends_after_twelve_hours_even_when_used_every_hour(
    services: Services, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given a signed-in viewer who works all day
    people = await given_people(services)
    browser = browsers()
    await browser.login(people.viewer)
    # when she makes a request every hour for 11 hours 59 minutes
    for _ in range(11):
        clock.advance(timedelta(hours=1))
        assert (await browser.data(VIEWER))["viewer"]["role"] == "ACCOUNT_VIEWER"
    clock.advance(timedelta(minutes=59))
    assert (await browser.data(VIEWER))["viewer"]["role"] == "ACCOUNT_VIEWER"
    # then at 12 hours the session is over regardless
    clock.advance(timedelta(minutes=1))
    response = await browser.post(VIEWER)
    assert response.status_code == 401
    assert error_code(response) == "UNAUTHENTICATED"


async def test_logout_revokes_the_session_so_the_old_cookie_is_refused(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given a signed-in administrator whose cookie someone copied
    people = await given_people(services)
    browser = browsers()
    await browser.login(people.admin)
    stolen = browser.session
    assert stolen is not None
    # when she logs out
    out = await browser.data("mutation { logout { ok } }")
    # then her browser's cookie is cleared and the copied cookie no longer works
    assert out == {"logout": {"ok": True}}
    assert browser.session is None
    replay = browsers()
    replay.client.cookies.set(SESSION_COOKIE, stolen)
    response = await replay.post(VIEWER)
    assert response.status_code == 401
    assert error_code(response) == "UNAUTHENTICATED"


# --- CSRF and anonymous callers ---------------------------------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
)
async def test_csrf_a_cookie_post_that_is_not_json_is_refused(
    services: Services, browsers: Callable[..., Browser], content_type: str
) -> None:
    # given a signed-in administrator and a forged cross-site form posting a mutation
    people = await given_people(services)
    browser = browsers()
    await browser.login(people.admin)
    body = json.dumps({"query": "mutation { logout { ok } }"})
    # when the browser sends it with a "simple" content type (no CORS preflight)
    response = await browser.client.post(
        "/graphql", content=body, headers={"content-type": content_type}
    )
    # then it is refused before anything runs, and the session is still alive
    assert response.status_code == 415
    assert error_code(response) == "CSRF"
    assert "data" not in response.json()
    assert (await browser.data(VIEWER))["viewer"]["email"] == people.admin


async def test_csrf_get_runs_queries_but_never_mutations(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given a signed-in administrator
    people = await given_people(services)
    browser = browsers()
    await browser.login(people.admin)
    # when a query comes by GET with a `query` parameter, it works
    read = await browser.client.get("/graphql", params={"query": "{ viewer { email } }"})
    assert read.status_code == 200, read.text
    assert read.json()["data"] == {"viewer": {"email": people.admin}}
    # then a mutation by GET is refused and does nothing
    write = await browser.client.get("/graphql", params={"query": "mutation { logout { ok } }"})
    assert write.status_code in (400, 405), write.text
    assert "data" not in write.text
    assert (await browser.data(VIEWER))["viewer"]["email"] == people.admin


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer { role } }",
        "{ catalog { code } }",
        "{ __schema { queryType { name } } }",
        "mutation { logout { ok } }",
        'mutation { createAccount(name: "Sneaky") { account { id } } }',
        'mutation { login(email: "a@b.cn", password: "x") { viewer { role } } logout { ok } }',
    ],
)
async def test_anonymous_may_only_log_in_or_accept_an_invitation(
    browsers: Callable[..., Browser], query: str
) -> None:
    # given a caller with no credential at all
    browser = browsers()
    # when it asks anything but login / acceptInvitation
    response = await browser.post(query)
    # then it gets the authentication error and no data
    assert response.status_code == 401
    assert error_code(response) == "UNAUTHENTICATED"
    assert "data" not in response.json()
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_anonymous_login_and_accept_invitation_are_reachable(
    browsers: Callable[..., Browser],
) -> None:
    # given a caller with no credential
    browser = browsers()
    # when it logs in wrongly and accepts a bogus invitation
    login = await browser.data(LOGIN, {"e": "x@y.cn", "p": "wrong wrong"})
    accept = await browser.data(ACCEPT, {"t": "ibv_bogus", "p": PASSWORD})
    # then both are answered with typed refusals, not an authentication error
    assert login["login"]["userErrors"][0]["code"] == "LOGIN_FAILED"
    assert accept["acceptInvitation"]["userErrors"][0]["code"] == "INVITATION_INVALID"


# --- invitations ------------------------------------------------------------------------


async def test_an_operator_invites_the_first_admin_who_accepts_and_is_signed_in(
    services: Services, api: Api, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given a new account and an operator
    account = await create_account(services, name="Gamma Hospital")
    token = await create_operator_token(services)
    account_id = str(encode("Account", account))
    # when the operator invites its first administrator
    invited = (
        await api.operator(
            token,
            INVITE,
            {
                "e": "Head@Gamma.example.cn",
                "n": "Head of IT",
                "r": "ACCOUNT_ADMIN",
                "a": account_id,
            },
        )
    )["inviteUser"]
    # then the token is shown once, valid for 7 days
    assert invited["userErrors"] == []
    assert invited["invitationToken"].startswith("ibv_")
    assert invited["expiresAt"].startswith((clock.now() + timedelta(days=7)).isoformat()[:19])
    # when the invitee accepts with a password of her choice
    browser = browsers()
    accepted = await browser.data(ACCEPT, {"t": invited["invitationToken"], "p": PASSWORD})
    # then she is signed in as the account's administrator (email normalised)
    assert accepted["acceptInvitation"] == {
        "viewer": {"role": "ACCOUNT_ADMIN", "email": "head@gamma.example.cn"},
        "userErrors": [],
    }
    assert browser.session is not None
    me = (await browser.data(VIEWER))["viewer"]
    assert me["account"] == {"id": account_id, "name": "Gamma Hospital"}
    # and the password works for a later login
    assert (await browsers().login("head@gamma.example.cn"))["viewer"]["role"] == "ACCOUNT_ADMIN"


async def test_an_admin_invites_viewers_into_her_own_account_only(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given two accounts and the administrator of the first
    mine = await given_people(services, name="Alpha Hospital")
    theirs = await given_people(services, name="Bravo Hospital")
    admin = browsers()
    await admin.login(mine.admin)

    async def invite(role: str, account_id: str | None, email: str) -> dict[str, Any]:
        variables = {"e": email, "n": "New person", "r": role, "a": account_id}
        out: dict[str, Any] = (await admin.data(INVITE, variables))["inviteUser"]
        return out

    # when she invites a viewer into her account
    own = await invite("ACCOUNT_VIEWER", mine.account_id, "v2@alpha.example.cn")
    # then she gets a token
    assert own["userErrors"] == []
    assert own["invitationToken"]
    # when she tries the other account, or to make an operator
    other = await invite("ACCOUNT_VIEWER", theirs.account_id, "v3@alpha.example.cn")
    operator = await invite("OPERATOR", None, "op@alpha.example.cn")
    operator_in_account = await invite("OPERATOR", mine.account_id, "op2@alpha.example.cn")
    institution = await invite("INSTITUTION", mine.account_id, "gw@alpha.example.cn")
    unknown = await invite("ACCOUNT_VIEWER", str(encode("Account", 987_654)), "v4@alpha.cn")
    # then the other account looks exactly like an unknown one
    assert other["userErrors"][0]["code"] == "ACCOUNT_NOT_FOUND"
    assert other == unknown
    assert other["invitationToken"] is None
    # and the roles are not hers to grant
    for refused in (operator, operator_in_account, institution):
        assert refused["invitationToken"] is None
        assert refused["userErrors"][0]["code"] in ("ROLE_NOT_ALLOWED", "FORBIDDEN")
    # and the viewer she invited lands in her account
    viewer = browsers()
    await viewer.data(ACCEPT, {"t": own["invitationToken"], "p": PASSWORD})
    assert (await viewer.data(VIEWER))["viewer"]["account"]["id"] == mine.account_id


async def test_an_invitation_is_single_use_and_expires_after_seven_days(
    services: Services, api: Api, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given two invitations issued now
    account = str(encode("Account", await create_account(services)))
    token = await create_operator_token(services)
    tokens = []
    for n in (1, 2):
        variables = {"e": f"p{n}@x.example.cn", "n": "P", "r": "ACCOUNT_VIEWER", "a": account}
        tokens.append(
            (await api.operator(token, INVITE, variables))["inviteUser"]["invitationToken"]
        )
    # when the first is accepted just before seven days, and then again
    clock.advance(timedelta(days=7) - timedelta(milliseconds=1))
    first = await browsers().data(ACCEPT, {"t": tokens[0], "p": PASSWORD})
    again = await browsers().data(ACCEPT, {"t": tokens[0], "p": "another password"})
    # then it works once only
    assert first["acceptInvitation"]["userErrors"] == []
    assert again["acceptInvitation"] == {
        "viewer": None,
        "userErrors": [{"code": "INVITATION_INVALID", "field": "token"}],
    }
    # and the second, at exactly seven days, has expired
    clock.advance(timedelta(milliseconds=1))
    late = await browsers().data(ACCEPT, {"t": tokens[1], "p": PASSWORD})
    assert late["acceptInvitation"]["userErrors"][0]["code"] == "INVITATION_INVALID"
    assert (await browsers().login("p2@x.example.cn"))["userErrors"][0]["code"] == "LOGIN_FAILED"


async def test_a_viewer_reads_but_every_change_is_forbidden(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given a viewer of an account with an institution
    people = await given_people(services)
    gateway = await create_institution(services, people.account)
    viewer = browsers()
    await viewer.login(people.viewer)
    # when she reads, she sees her account
    assert (await viewer.data(VIEWER))["viewer"]["account"]["id"] == people.account_id
    # then each change she tries is FORBIDDEN
    lines = [{"product": "EXAM_VOLUME", "quantity": 10_000}]
    attempts = {
        "placeOrder": (
            "mutation($a: ID!, $l: [OrderLineInput!]!) { placeOrder(accountId: $a, lines: $l,"
            " acceptTerms: true) { order { id } userErrors { code } } }",
            {"a": people.account_id, "l": lines},
        ),
        "confirmServiceAcceptance": (
            "mutation($s: ID!) { confirmServiceAcceptance(serviceId: $s) {"
            " service { id } userErrors { code } } }",
            {"s": str(encode("Service", await _open_service(services, people.account, gateway)))},
        ),
        "rotateInstitutionToken": (ROTATE, {"i": gateway.id}),
        "revokeInstitutionToken": (REVOKE, {"i": gateway.id}),
        "inviteUser": (
            INVITE,
            {"e": "x@alpha.example.cn", "n": "X", "r": "ACCOUNT_VIEWER", "a": people.account_id},
        ),
    }
    for field, (query, variables) in attempts.items():
        out = await viewer.data(query, variables)
        assert user_error(out, field) == "FORBIDDEN", (field, out)


async def _open_service(services: Services, account: int, gateway: Gateway) -> int:
    async with services.db.write() as conn:
        return await entitlements.open_service(
            conn,
            account_id=account,
            institution_id=gateway.institution_pk,
            institution_name=None,
            kind=ServiceKind.DELIVERY,
            variant=None,
            years=None,
            starts_on=None,
            now=services.clock.now(),
            order_id=None,
        )


# --- secrets at rest ----------------------------------------------------------------------


async def test_secrets_are_stored_only_as_argon2_sha256_or_sealed(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given a person signed in and an institution with its token
    people = await given_people(services)
    gateway = await create_institution(services, people.account)
    browser = browsers()
    await browser.login(people.admin)
    session = browser.session
    assert session is not None
    # when the tables are read directly
    async with services.db.read() as conn:
        hashes = (await conn.execute(sa.text("SELECT password_hash FROM app_user"))).all()
        institution = (
            await conn.execute(
                sa.text("SELECT token_key FROM institution WHERE id = :i"),
                {"i": gateway.institution_pk},
            )
        ).one()
        sessions = (await conn.execute(sa.text("SELECT * FROM user_session"))).all()
    # then passwords are argon2id hashes, never the password
    assert len(hashes) == 2
    for (password_hash,) in hashes:
        assert password_hash.startswith("$argon2id$")
        assert PASSWORD not in password_hash
    # and the institution's signing key only sealed (neither the token nor its SHA-256),
    # the session token only as SHA-256
    key = hashlib.sha256(gateway.token.encode()).hexdigest()
    assert institution.token_key.startswith("s1.")
    assert gateway.token not in institution.token_key
    assert key not in institution.token_key
    assert services.keys.open(institution.token_key) == key
    digests = [row.token_hash for row in sessions]
    assert hashlib.sha256(session.encode()).hexdigest() in digests
    assert all(session not in str(tuple(row)) for row in sessions)


# --- institution tokens ------------------------------------------------------------------


async def _signed_viewer(api: Api, gateway: Gateway) -> int:
    body = json.dumps({"query": "{ viewer { role } }"}).encode()
    headers = gateway.headers(body, api.clock.now())
    return (await api.client.post("/graphql", content=body, headers=headers)).status_code


async def test_rotation_gives_a_new_token_and_the_old_one_signs_for_24_more_hours(
    services: Services, api: Api, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given an administrator and her institution's gateway
    people = await given_people(services)
    gateway = await create_institution(services, people.account)
    admin = browsers()
    await admin.login(people.admin)
    # when she rotates the token
    rotated = (await admin.data(ROTATE, {"i": gateway.id}))["rotateInstitutionToken"]
    # then a new token is shown and both sign for now
    assert rotated["userErrors"] == []
    new = Gateway(gateway.institution_pk, rotated["token"])
    assert new.token != gateway.token
    assert rotated["previousValidUntil"].startswith(
        (clock.now() + timedelta(hours=24)).isoformat()[:19]
    )
    assert await _signed_viewer(api, new) == 200
    assert await _signed_viewer(api, gateway) == 200
    # and just before 24 hours the old one still signs
    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert await _signed_viewer(api, gateway) == 200
    # then at 24 hours only the new one does
    clock.advance(timedelta(seconds=1))
    assert await _signed_viewer(api, gateway) == 401
    assert await _signed_viewer(api, new) == 200


async def test_revocation_stops_the_new_and_the_old_token_at_once(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given an institution whose token was just rotated (both tokens valid)
    account = await create_account(services)
    gateway = await create_institution(services, account)
    operator = await create_operator_token(services)
    rotated = await api.operator(operator, ROTATE, {"i": gateway.id})
    new = Gateway(gateway.institution_pk, rotated["rotateInstitutionToken"]["token"])
    assert await _signed_viewer(api, gateway) == 200
    # when the operator revokes
    revoked = (await api.operator(operator, REVOKE, {"i": gateway.id}))["revokeInstitutionToken"]
    # then neither token signs any more, at once
    assert revoked["userErrors"] == []
    assert revoked["revokedAt"].startswith(clock.now().isoformat()[:19])
    assert await _signed_viewer(api, gateway) == 401
    assert await _signed_viewer(api, new) == 401
    # and a later rotation issues a working token, without reviving the revoked ones
    again = await api.operator(operator, ROTATE, {"i": gateway.id})
    fresh = Gateway(gateway.institution_pk, again["rotateInstitutionToken"]["token"])
    assert await _signed_viewer(api, fresh) == 200
    assert await _signed_viewer(api, new) == 401


async def test_an_institution_cannot_rotate_or_revoke_its_own_token(
    services: Services, api: Api
) -> None:
    # given a gateway
    gateway = await create_institution(services, await create_account(services))
    # when it asks to rotate or revoke its own token
    rotate = await api.gateway(gateway, ROTATE, {"i": gateway.id})
    revoke = await api.gateway(gateway, REVOKE, {"i": gateway.id})
    # then both are FORBIDDEN and its token still works
    assert user_error(rotate, "rotateInstitutionToken") == "FORBIDDEN"
    assert user_error(revoke, "revokeInstitutionToken") == "FORBIDDEN"
    assert await _signed_viewer(api, gateway) == 200


# --- the audit trail -----------------------------------------------------------------------


def literal(value: str) -> str:
    """A GraphQL string literal (JSON escaping is valid GraphQL escaping)."""
    return json.dumps(value)


def literal_login(email: str, password: str) -> str:
    return (
        f"mutation {{ login(email: {literal(email)}, password: {literal(password)}) {{"
        " viewer { role } userErrors { code } } }"
    )


def literal_credit(account_id: str) -> str:
    return (
        f"mutation {{ creditExamLot(accountId: {literal(account_id)}, mode: VOLUME,"
        ' quantity: 10000, contractRef: "C-1") { lot { id } userErrors { code } } }'
    )


async def test_every_mutation_and_login_attempt_leaves_an_audit_record(
    services: Services, api: Api, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given an administrator, an operator and an account
    people = await given_people(services)
    operator = await create_operator_token(services)
    # when a login fails, another succeeds, and the operator creates an institution
    browser = browsers("192.0.2.10")
    await browser.data(literal_login(people.admin, "a wrong password"))
    clock.advance(timedelta(seconds=1))
    await browser.data(literal_login(people.admin, PASSWORD))
    clock.advance(timedelta(seconds=1))
    created = await api.raw(
        f"mutation {{ createInstitution(accountId: {literal(people.account_id)},"
        ' name: "East wing") { token institution { id } userErrors { code } } }',
        authorization=f"Bearer {operator}",
        **{"x-request-id": "req-create-east-wing"},
    )
    institution_token = created.json()["data"]["createInstitution"]["token"]
    assert institution_token
    # then the operator reads three records, newest first, each complete
    log = (await api.operator(operator, AUDIT, {"first": 10}))["auditLog"]
    assert log["totalCount"] == 3
    create, success, failure = (edge["node"] for edge in log["edges"])
    assert failure["operation"] == success["operation"] == "login"
    assert failure["principal"] == "anonymous:0"
    assert failure["role"] == "ANONYMOUS"
    assert failure["result"] == "LOGIN_FAILED"
    assert failure["clientAddress"] == "192.0.2.10"
    assert success["result"] == "ok"
    assert success["role"] == "ACCOUNT_ADMIN"
    assert success["principal"].startswith("user:")
    assert success["accountId"] == people.account_id
    assert success["occurredAt"] > failure["occurredAt"]
    for login in (failure, success):
        assert login["arguments"] == {"email": people.admin, "password": "[redacted]"}
        assert login["requestId"]
    assert create["operation"] == "createInstitution"
    assert create["role"] == "OPERATOR"
    assert create["principal"].startswith("token:")
    assert create["accountId"] == people.account_id
    assert create["arguments"] == {"accountId": people.account_id, "name": "East wing"}
    assert create["result"] == "ok"
    assert create["requestId"] == created.headers["x-request-id"]
    assert create["correlationId"] == "req-create-east-wing"
    assert create["clientAddress"] == "127.0.0.1"
    # and no secret reached the log
    everything = json.dumps(log)
    assert PASSWORD not in everything
    assert "a wrong password" not in everything
    assert institution_token not in everything


async def test_secrets_sent_as_variables_are_redacted_in_the_audit_log(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    """Regression: the audit once recorded raw variables ($p in clear) (graphql-core 3.3
    get_argument_values wants VariableValues)."""
    # given a person and an operator
    people = await given_people(services)
    operator = await create_operator_token(services)
    # when the console logs in with variables (as every GraphQL client does)
    await browsers().login(people.admin, "a wrong password")
    # then the record holds the arguments by name, the password redacted
    log = (await api.operator(operator, AUDIT, {"first": 5, "op": "login"}))["auditLog"]
    (record,) = (edge["node"] for edge in log["edges"])
    assert "a wrong password" not in json.dumps(record)
    assert record["arguments"] == {"email": people.admin, "password": "[redacted]"}


async def test_an_operator_change_named_by_variables_is_on_the_accounts_record(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given an account with its administrator
    people = await given_people(services)
    operator = await create_operator_token(services)
    # when the operator credits a lot, naming the account through a variable
    await api.operator(operator, CREDIT, {"acc": people.account_id})
    # then the record concerns that account, and its administrator sees it
    log = (await api.operator(operator, AUDIT, {"first": 5, "op": "creditExamLot"}))["auditLog"]
    (record,) = (edge["node"] for edge in log["edges"])
    assert record["accountId"] == people.account_id
    assert record["arguments"]["accountId"] == people.account_id
    admin = browsers()
    await admin.login(people.admin)
    mine = (await admin.data(AUDIT, {"first": 5, "op": "creditExamLot"}))["auditLog"]
    assert mine["totalCount"] == 1


async def test_a_refused_mutation_is_audited_with_its_error_code(
    services: Services, browsers: Callable[..., Browser], api: Api
) -> None:
    # given a viewer
    people = await given_people(services)
    operator = await create_operator_token(services)
    viewer = browsers()
    await viewer.login(people.viewer)
    # when she tries to credit a lot (operators only)
    out = await viewer.data(literal_credit(people.account_id))
    assert user_error(out, "creditExamLot") == "FORBIDDEN"
    # then the refusal is on record with her name and the code
    found = await api.operator(operator, AUDIT, {"first": 5, "op": "creditExamLot"})
    (record,) = (edge["node"] for edge in found["auditLog"]["edges"])
    assert record["role"] == "ACCOUNT_VIEWER"
    assert record["principal"].startswith("user:")
    assert record["result"] == "FORBIDDEN"
    assert record["accountId"] == people.account_id


async def test_operators_filter_the_audit_log(
    services: Services, api: Api, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given activity on two accounts over three hours
    alpha = await given_people(services, name="Alpha Hospital")
    bravo = await given_people(services, name="Bravo Hospital")
    operator = await create_operator_token(services)
    start = clock.now()
    await api.operator(operator, literal_credit(alpha.account_id))
    clock.advance(timedelta(hours=1))
    await api.operator(operator, literal_credit(bravo.account_id))
    clock.advance(timedelta(hours=1))
    await browsers().data(literal_login(bravo.admin, PASSWORD))

    async def count(**filters: Any) -> int:
        found = await api.operator(operator, AUDIT, {"first": 10, **filters})
        total: int = found["auditLog"]["totalCount"]
        assert total == len(found["auditLog"]["edges"])
        return total

    # then each filter narrows the log
    assert await count() == 3
    assert await count(acc=alpha.account_id) == 1
    assert await count(acc=bravo.account_id) == 2
    assert await count(op="creditExamLot") == 2
    assert await count(op="login") == 1
    hour = timedelta(hours=1)
    assert await count(since=(start + hour).isoformat()) == 2
    assert await count(until=(start + hour).isoformat()) == 1
    assert await count(since=(start + hour).isoformat(), until=(start + 2 * hour).isoformat()) == 1
    newest = (await api.operator(operator, AUDIT, {"first": 1}))["auditLog"]["edges"][0]
    assert newest["node"]["operation"] == "login"
    assert await count(p=newest["node"]["principal"]) == 1
    assert await count(p="user:999999") == 0


async def test_an_admin_sees_only_her_accounts_audit_records(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given operator actions on two accounts and the first account's administrator
    alpha = await given_people(services, name="Alpha Hospital")
    bravo = await given_people(services, name="Bravo Hospital")
    operator = await create_operator_token(services)
    await api.operator(operator, literal_credit(alpha.account_id))
    await api.operator(operator, literal_credit(bravo.account_id))
    admin = browsers()
    await admin.data(literal_login(alpha.admin, PASSWORD))
    await browsers().data(literal_login(bravo.admin, PASSWORD))
    # when she reads the audit log
    log = (await admin.data(AUDIT, {"first": 50}))["auditLog"]
    # then she sees her login and the operator's credit on her account, nothing of Bravo's
    operations = sorted((e["node"]["operation"], e["node"]["role"]) for e in log["edges"])
    assert operations == [("creditExamLot", "OPERATOR"), ("login", "ACCOUNT_ADMIN")]
    assert {e["node"]["accountId"] for e in log["edges"]} == {alpha.account_id}
    assert bravo.account_id not in json.dumps(log)
    # and asking for Bravo's records is as if Bravo did not exist
    other = await admin.post(AUDIT, {"first": 5, "acc": bravo.account_id})
    assert other.json()["data"] is None
    assert error_code(other) == "ACCOUNT_NOT_FOUND"


async def test_viewers_and_gateways_may_not_read_the_audit_log(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given a viewer and a gateway of the same account
    people = await given_people(services)
    gateway = await create_institution(services, people.account)
    viewer = browsers()
    await viewer.login(people.viewer)
    # when each asks for the audit log
    seen = await viewer.post(AUDIT, {"first": 5})
    body = json.dumps({"query": AUDIT, "variables": {"first": 5}}).encode()
    signed = await api.client.post(
        "/graphql", content=body, headers=gateway.headers(body, api.clock.now())
    )
    # then both are FORBIDDEN with no data
    for response in (seen, signed):
        assert response.json()["data"] is None
        assert error_code(response) == "FORBIDDEN"


def test_no_mutation_can_change_or_delete_audit_records() -> None:
    """The audit log is append-only: the schema has no mutation touching it."""
    mutation = schema._schema.mutation_type
    assert mutation is not None
    names = list(mutation.fields)
    assert "login" in names  # the schema is the real one
    assert [name for name in names if "audit" in name.lower()] == []


# --- query cost --------------------------------------------------------------------------


async def test_every_response_carries_its_cost_and_budget(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given an operator and an administrator
    people = await given_people(services)
    operator = await create_operator_token(services)
    admin = browsers()
    await admin.login(people.admin)
    # when each makes a query and a mutation
    responses = [
        await api.raw(VIEWER, authorization=f"Bearer {operator}"),
        await api.raw(literal_credit(people.account_id), authorization=f"Bearer {operator}"),
        await admin.post(VIEWER),
        await admin.post("{ catalog { code unitPriceFen } }"),
    ]
    # then every response says what it cost and what is left
    for response in responses:
        assert response.status_code == 200
        cost = response.json()["extensions"]["cost"]
        assert cost["requestedQueryCost"] >= 1
        status = cost["throttleStatus"]
        assert status["maximumAvailable"] == CAPACITY
        assert 0 <= status["currentlyAvailable"] <= status["maximumAvailable"]
        assert status["restoreRate"] > 0
    # viewer 1 + (role, name, email) 3 + account (1 + id, name 2) = 7
    assert responses[0].json()["extensions"]["cost"]["requestedQueryCost"] == 7


async def test_a_query_costing_more_than_5000_is_refused_with_throttled(
    services: Services, api: Api
) -> None:
    # given an operator and a query of nested connections, 100 × 100 nodes
    await create_account(services)
    operator = await create_operator_token(services)
    heavy = """{ accounts(first: 100) { edges { node { id
      institutions(first: 100) { edges { node { id name } } } } } } }"""
    # when it is sent
    response = await api.raw(heavy, authorization=f"Bearer {operator}")
    # then it is refused before running, with no data
    payload = response.json()
    assert payload.get("data") is None
    assert payload["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert payload["extensions"]["cost"]["requestedQueryCost"] > 5_000
    # and a modest query right after still runs
    light = await api.operator(operator, "{ accounts(first: 5) { totalCount } }")
    assert light["accounts"]["totalCount"] == 1


async def test_an_audit_result_is_also_given_in_words_in_the_callers_language(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given one failed login and one that succeeded
    people = await given_people(services)
    operator = await create_operator_token(services)
    await browsers().login(people.admin, "a wrong password")
    query = """query { auditLog(first: 5, operation: "login") {
      edges { node { result resultMessage } } } }"""
    # when an operator reads the log in English, then in Chinese
    english = (await api.operator(operator, query, lang="en"))["auditLog"]["edges"]
    chinese = (await api.operator(operator, query, lang="zh-CN"))["auditLog"]["edges"]
    # then the refusal's code comes with its message in each language
    assert [e["node"]["result"] for e in english] == ["LOGIN_FAILED"]
    assert english[0]["node"]["resultMessage"] == describe("LOGIN_FAILED", english=True)
    assert chinese[0]["node"]["resultMessage"] == describe("LOGIN_FAILED", english=False)
    assert english[0]["node"]["resultMessage"] != chinese[0]["node"]["resultMessage"]
    # and a success or an unknown code has none
    assert describe("ok", english=True) is None
    assert describe("THROTTLED", english=False) is not None
    assert "{" not in (describe("VARIABLES_LIST_TOO_LONG", english=True) or "{")


# --- a person's language ---------------------------------------------------------------

SET_LANGUAGE = """mutation($l: Language!) { setMyLanguage(language: $l) {
  language userErrors { code } } }"""


async def test_a_person_keeps_the_language_they_chose_and_only_their_own(
    services: Services, browsers: Callable[..., Browser], api: Api
) -> None:
    # given an admin and a viewer of one account, signed in; neither has chosen yet
    people = await given_people(services)
    admin, viewer = browsers(), browsers()
    await admin.login(people.admin)
    await viewer.login(people.viewer)
    assert (await admin.data("{ viewer { language } }"))["viewer"]["language"] is None
    # when the admin chooses English (a viewer may choose too: it changes nothing else)
    chosen = (await admin.data(SET_LANGUAGE, {"l": "EN"}))["setMyLanguage"]
    await viewer.data(SET_LANGUAGE, {"l": "ZH_CN"})
    # then it is hers, and the viewer's is his own
    assert chosen == {"language": "EN", "userErrors": []}
    assert (await admin.data("{ viewer { language } }"))["viewer"]["language"] == "EN"
    assert (await viewer.data("{ viewer { language } }"))["viewer"]["language"] == "ZH_CN"
    # and an operator's API token has no language to set: a person's choice, not a program's
    token = await create_operator_token(services)
    refused = await api.operator(token, SET_LANGUAGE, {"l": "EN"})
    assert refused["setMyLanguage"] == {"language": None, "userErrors": [{"code": "FORBIDDEN"}]}
    # and a value that is not a language is refused by the schema
    response = await admin.post(SET_LANGUAGE, {"l": "fr"})
    assert "errors" in response.json()
