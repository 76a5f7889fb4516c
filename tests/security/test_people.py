"""Issue 9 §5 (and §1's invitation item): people and least privilege.

Admins and operators can disable and enable a user (all their sessions end at once),
end a user's sessions, issue a one-time password reset, see and revoke pending
invitations; operators list and revoke operator API tokens. Admins act within their own
account only, never on themselves where that locks them out; viewers on no one.
Bogus invitation and reset tokens cost no argon2 hash. Passwords: 12+ characters, not
blank, not the email. Inviting an address held in another account answers like a fresh
address (no cross-account enumeration)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.services import access
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Role

from ..factories import create_operator_token
from ..support import Api
from . import people_support as support
from .people_support import (
    ACCEPT,
    INVITE,
    PASSWORD,
    VIEWER,
    Browser,
    CountingHasher,
    given_people,
)

# fixtures
browsers = support.browsers
hasher = support.hasher

NEW_PASSWORD = "a brand new password"
USERS = """query($a: ID!) { account(id: $a) { users(first: 20) {
  edges { node { id email disabledAt } } } } }"""
DISABLE = """mutation($u: ID!) { disableUser(userId: $u) { user { email disabledAt }
  userErrors { code field } } }"""
ENABLE = """mutation($u: ID!) { enableUser(userId: $u) { user { email disabledAt }
  userErrors { code field } } }"""
END_SESSIONS = """mutation($u: ID!) { endUserSessions(userId: $u) { endedSessions
  userErrors { code field } } }"""
ISSUE_RESET = """mutation($u: ID!) { issuePasswordReset(userId: $u) { resetToken expiresAt
  userErrors { code field } } }"""
RESET = """mutation($t: String!, $p: String!) { resetPassword(token: $t, password: $p) {
  viewer { role email } userErrors { code field messageEn messageZh } } }"""
INVITATIONS = """query($a: ID) { invitations(first: 20, accountId: $a) { totalCount
  edges { node { id email name role accountId createdBy expiresAt } } } }"""
REVOKE_INVITATION = """mutation($i: ID!) { revokeInvitation(invitationId: $i) {
  invitationId revokedAt userErrors { code field } } }"""
TOKENS = """{ operatorTokens(first: 20) { totalCount
  edges { node { id name createdAt lastUsedAt revokedAt } } } }"""
REVOKE_TOKEN = """mutation($i: ID!) { revokeOperatorToken(id: $i) {
  operatorToken { name revokedAt } userErrors { code field } } }"""
AUDIT = """query($op: String) { auditLog(first: 20, operation: $op) {
  edges { node { principal operation arguments result } } } }"""


def user_id(pk: int) -> str:
    return str(encode("User", pk))


async def pk_of(services: Services, email: str) -> int:
    async with services.db.read() as conn:
        from imaging_billing.store import access as store

        row = await store.user_by_email(conn, email)
    assert row is not None
    return int(row.id)


async def signed_in(browsers: Callable[..., Browser], email: str) -> Browser:
    browser = browsers()
    assert (await browser.login(email))["viewer"] is not None
    return browser


async def payload(browser: Browser, query: str, name: str, **variables: Any) -> Any:
    return (await browser.data(query, variables))[name]


def code_of(out: dict[str, Any]) -> str | None:
    errors = out["userErrors"]
    return str(errors[0]["code"]) if errors else None


async def create_operator_user(services: Services) -> str:
    email = "staff@platform.example.cn"
    await access.create_user(
        services.db,
        email=email,
        name="Platform staff",
        role=Role.OPERATOR,
        account_id=None,
        password=PASSWORD,
        actor="test",
        now=services.clock.now(),
    )
    return email


# --- §1: argon2 only for a live token -------------------------------------------------


async def test_bogus_invitation_tokens_cost_no_argon2_hash(
    services: Services,
    api: Api,
    browsers: Callable[..., Browser],
    clock: ManualClock,
    hasher: CountingHasher,
) -> None:
    # given an accepted invitation, an expired one and a live one
    token = await create_operator_token(services)
    account = str(encode("Account", (await given_people(services)).account))

    async def invite(email: str) -> str:
        variables = {"e": email, "n": "P", "r": "ACCOUNT_VIEWER", "a": account}
        out = (await api.operator(token, INVITE, variables))["inviteUser"]
        return str(out["invitationToken"])

    accepted, expired = await invite("a1@x.example.cn"), await invite("a2@x.example.cn")
    assert (await browsers().data(ACCEPT, {"t": accepted, "p": PASSWORD}))["acceptInvitation"][
        "viewer"
    ]
    clock.advance(timedelta(days=7))
    live = await invite("a3@x.example.cn")
    hasher.hashed.clear()
    # when bogus, accepted and expired tokens are sent, and a live one with a short password
    bogus = ["ibv_bogus", "", "x" * 5000, accepted, expired]
    for sent in bogus:
        out = (await browsers().data(ACCEPT, {"t": sent, "p": PASSWORD}))["acceptInvitation"]
        assert out["userErrors"] == [{"code": "INVITATION_INVALID", "field": "token"}]
    short = (await browsers().data(ACCEPT, {"t": live, "p": "short"}))["acceptInvitation"]
    # then no password was hashed for any of them
    assert short["userErrors"] == [{"code": "PASSWORD_TOO_SHORT", "field": "password"}]
    assert hasher.hashed == []
    # and the live invitation, accepted properly, is hashed once
    ok = (await browsers().data(ACCEPT, {"t": live, "p": PASSWORD}))["acceptInvitation"]
    assert ok["userErrors"] == []
    assert len(hasher.hashed) == 1


# --- passwords --------------------------------------------------------------------------


async def test_passwords_need_twelve_characters_not_blank_not_the_email(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given an invitation for an address of 22 characters
    token = await create_operator_token(services)
    account = str(encode("Account", (await given_people(services)).account))
    variables = {"e": "Nurse@Alpha.example.cn", "n": "N", "r": "ACCOUNT_VIEWER", "a": account}
    invited = (await api.operator(token, INVITE, variables))["inviteUser"]["invitationToken"]
    cases = {
        "eleven char": "PASSWORD_TOO_SHORT",
        " " * 12: "PASSWORD_BLANK",
        "\t" * 20: "PASSWORD_BLANK",
        "NURSE@alpha.EXAMPLE.cn": "PASSWORD_IS_EMAIL",
        "x" * 201: "PASSWORD_TOO_LONG",
        "twelve chars\x00": "PASSWORD_CHARACTERS",
    }
    messages = set()
    for password, code in cases.items():
        # when the invitee chooses a weak password
        out = await browsers().post(
            ACCEPT.replace(
                "userErrors { code field }", "userErrors { code field messageEn messageZh }"
            ),
            {"t": invited, "p": password},
        )
        accepted = out.json()["data"]["acceptInvitation"]
        # then it is refused with a code naming the problem, in both languages
        assert accepted["viewer"] is None
        error = accepted["userErrors"][0]
        assert (error["code"], error["field"]) == (code, "password")
        messages.add((error["messageEn"], error["messageZh"]))
    assert len(messages) == len(set(cases.values()))
    assert ("A password has at least 12 characters", "密码至少 12 个字符") in messages
    # and twelve characters are enough
    ok = await browsers().data(ACCEPT, {"t": invited, "p": "twelve chars"})
    assert ok["acceptInvitation"]["viewer"]["email"] == "nurse@alpha.example.cn"


# --- no cross-account enumeration ------------------------------------------------------


async def test_inviting_an_address_of_another_account_answers_like_a_fresh_one(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given two accounts; the admin of the first is signed in
    mine = await given_people(services, name="Alpha Hospital")
    theirs = await given_people(services, name="Bravo Hospital")
    admin = await signed_in(browsers, mine.admin)

    async def invite(email: str) -> dict[str, Any]:
        variables = {"e": email, "n": "Someone", "r": "ACCOUNT_VIEWER", "a": mine.account_id}
        out: dict[str, Any] = (await admin.data(INVITE, variables))["inviteUser"]
        return out

    # when she invites a member of the other account, and a fresh address
    foreign = await invite(theirs.viewer)
    fresh = await invite("fresh@alpha.example.cn")
    # then both answers have the same shape: a token, no refusal
    assert foreign["userErrors"] == fresh["userErrors"] == []
    assert foreign["invitationToken"]
    assert fresh["invitationToken"]
    # and the foreign address's invitation cannot be accepted (no second user, no takeover)
    taken = await browsers().data(ACCEPT, {"t": foreign["invitationToken"], "p": NEW_PASSWORD})
    assert taken["acceptInvitation"]["userErrors"] == [
        {"code": "INVITATION_INVALID", "field": "token"}
    ]
    assert (await browsers().login(theirs.viewer))["viewer"]["role"] == "ACCOUNT_VIEWER"
    assert (await browsers().login(theirs.viewer, NEW_PASSWORD))["viewer"] is None
    # when she invites a member of her own account (whom she sees in `users` anyway)
    own = await invite(mine.viewer)
    # then she is told it is taken
    assert own["userErrors"] == [{"code": "EMAIL_TAKEN", "field": "email"}]
    # and an operator, who sees every user, is told too
    token = await create_operator_token(services)
    variables = {"e": theirs.viewer, "n": "S", "r": "ACCOUNT_VIEWER", "a": mine.account_id}
    by_operator = (await api.operator(token, INVITE, variables))["inviteUser"]
    assert by_operator["userErrors"] == [{"code": "EMAIL_TAKEN", "field": "email"}]


# --- disable, enable, end sessions -----------------------------------------------------


async def test_disabling_a_user_ends_her_sessions_at_once_and_stops_logins(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given an admin, and a viewer signed in on two browsers
    people = await given_people(services)
    admin = await signed_in(browsers, people.admin)
    laptop, phone = (
        await signed_in(browsers, people.viewer),
        await signed_in(browsers, people.viewer),
    )
    viewer = user_id(await pk_of(services, people.viewer))
    # when the admin disables the viewer
    out = await payload(admin, DISABLE, "disableUser", u=viewer)
    # then she is disabled, and both her sessions end with the next request
    assert out["userErrors"] == []
    assert out["user"]["disabledAt"] is not None
    for browser in (laptop, phone):
        assert (await browser.post(VIEWER)).status_code == 401
    # and she cannot log in: the same answer as a wrong password (no enumeration)
    refused = await browsers().login(people.viewer)
    assert refused == {
        "viewer": None,
        "userErrors": [{"code": "LOGIN_FAILED", "field": "password"}],
    }
    # and the members list shows it
    users = (await admin.data(USERS, {"a": people.account_id}))["account"]["users"]["edges"]
    assert {u["node"]["email"]: bool(u["node"]["disabledAt"]) for u in users} == {
        people.admin: False,
        people.viewer: True,
    }
    # when the admin enables her again, she can log in
    enabled = await payload(admin, ENABLE, "enableUser", u=viewer)
    assert enabled["user"]["disabledAt"] is None
    assert (await browsers().login(people.viewer))["viewer"]["role"] == "ACCOUNT_VIEWER"
    # and both changes are in the audit log as the admin's, with their outcome
    audit = (await admin.data(AUDIT, {"op": None}))["auditLog"]["edges"]
    done = {(e["node"]["operation"], e["node"]["result"]) for e in audit}
    assert {("disableUser", "ok"), ("enableUser", "ok")} <= done


async def test_an_admin_acts_within_her_account_never_on_herself_viewers_not_at_all(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given two accounts, an operator who logs in, and the first account's admin and viewer
    mine = await given_people(services, name="Alpha Hospital")
    theirs = await given_people(services, name="Bravo Hospital")
    staff = await create_operator_user(services)
    admin = await signed_in(browsers, mine.admin)
    viewer = await signed_in(browsers, mine.viewer)
    me = user_id(await pk_of(services, mine.admin))
    other = user_id(await pk_of(services, theirs.viewer))
    operator = user_id(await pk_of(services, staff))
    unknown = user_id(987_654)
    for query, name in (
        (DISABLE, "disableUser"),
        (ENABLE, "enableUser"),
        (END_SESSIONS, "endUserSessions"),
        (ISSUE_RESET, "issuePasswordReset"),
    ):
        # when she acts on another account's user, an operator, or an unknown id
        answers = [await payload(admin, query, name, u=u) for u in (other, operator, unknown)]
        # then all three look alike: no such user
        for out in answers:
            assert out["userErrors"] == [{"code": "USER_NOT_FOUND", "field": "userId"}]
        # and a viewer may do none of it, even in her own account
        forbidden = await payload(viewer, query, name, u=me)
        assert code_of(forbidden) == "FORBIDDEN"
    # when the admin disables herself, she is refused
    self_disable = await payload(admin, DISABLE, "disableUser", u=me)
    assert self_disable["userErrors"] == [{"code": "NOT_ON_YOURSELF", "field": "userId"}]
    # and nobody was disabled by any of it
    assert (await browsers().login(theirs.viewer))["viewer"] is not None
    assert (await browsers().login(staff))["viewer"]["role"] == "OPERATOR"
    assert (await admin.data(VIEWER))["viewer"]["email"] == mine.admin


async def test_an_operator_disables_an_admin_of_any_account(
    services: Services, api: Api, browsers: Callable[..., Browser]
) -> None:
    # given an account's admin, signed in, and an operator token
    people = await given_people(services)
    admin = await signed_in(browsers, people.admin)
    token = await create_operator_token(services)
    target = user_id(await pk_of(services, people.admin))
    # when the operator disables her
    out = (await api.operator(token, DISABLE, {"u": target}))["disableUser"]
    # then her session ends and she cannot log in
    assert out["userErrors"] == []
    assert (await admin.post(VIEWER)).status_code == 401
    assert (await browsers().login(people.admin))["viewer"] is None


async def test_ending_a_users_sessions_signs_her_out_everywhere_without_disabling(
    services: Services, browsers: Callable[..., Browser]
) -> None:
    # given a viewer signed in on two browsers
    people = await given_people(services)
    admin = await signed_in(browsers, people.admin)
    laptop, phone = (
        await signed_in(browsers, people.viewer),
        await signed_in(browsers, people.viewer),
    )
    # when the admin ends her sessions
    out = await payload(
        admin, END_SESSIONS, "endUserSessions", u=user_id(await pk_of(services, people.viewer))
    )
    # then both ended, and she may log in again
    assert out == {"endedSessions": 2, "userErrors": []}
    for browser in (laptop, phone):
        assert (await browser.post(VIEWER)).status_code == 401
    assert (await browsers().login(people.viewer))["viewer"] is not None


# --- password reset -----------------------------------------------------------------------


async def test_a_password_reset_is_shown_once_works_once_and_ends_every_session(
    services: Services,
    browsers: Callable[..., Browser],
    clock: ManualClock,
    hasher: CountingHasher,
) -> None:
    # given a viewer signed in, and her admin
    people = await given_people(services)
    admin = await signed_in(browsers, people.admin)
    old_session = await signed_in(browsers, people.viewer)
    viewer = user_id(await pk_of(services, people.viewer))
    # when the admin issues a reset token for her
    issued = await payload(admin, ISSUE_RESET, "issuePasswordReset", u=viewer)
    assert issued["userErrors"] == []
    assert issued["resetToken"].startswith("ibr_")
    assert issued["expiresAt"].startswith((clock.now() + timedelta(hours=24)).isoformat()[:19])
    # and she sets a new password with it, anonymously
    hasher.hashed.clear()
    reset_browser = browsers()
    done = await payload(
        reset_browser, RESET, "resetPassword", t=issued["resetToken"], p=NEW_PASSWORD
    )
    # then she is signed in, her old session is over, the old password is dead
    assert done["viewer"] == {"role": "ACCOUNT_VIEWER", "email": people.viewer}
    assert len(hasher.hashed) == 1
    assert (await reset_browser.data(VIEWER))["viewer"]["email"] == people.viewer
    assert (await old_session.post(VIEWER)).status_code == 401
    assert (await browsers().login(people.viewer))["viewer"] is None
    assert (await browsers().login(people.viewer, NEW_PASSWORD))["viewer"] is not None
    # and the token works once only, with no hash spent on the second try
    again = await payload(browsers(), RESET, "resetPassword", t=issued["resetToken"], p=PASSWORD)
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [("RESET_INVALID", "token")]
    assert len(hasher.hashed) == 1
    # and the account's audit log has the reset, by her, never its secrets
    audit = (await admin.data(AUDIT, {"op": "resetPassword"}))["auditLog"]["edges"]
    assert [e["node"]["result"] for e in audit] == ["ok"]
    record = audit[0]["node"]
    assert record["principal"] == f"user:{await pk_of(services, people.viewer)}"
    assert record["arguments"] == {"token": "[redacted]", "password": "[redacted]"}


async def test_a_reset_expires_after_24_hours_and_a_newer_one_replaces_it(
    services: Services, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given a viewer and two resets issued one after the other
    people = await given_people(services)
    admin = await signed_in(browsers, people.admin)
    viewer = user_id(await pk_of(services, people.viewer))
    first = (await payload(admin, ISSUE_RESET, "issuePasswordReset", u=viewer))["resetToken"]
    second = (await payload(admin, ISSUE_RESET, "issuePasswordReset", u=viewer))["resetToken"]
    # when the first is used, it is refused: the newer one replaced it
    out = await payload(browsers(), RESET, "resetPassword", t=first, p=NEW_PASSWORD)
    assert code_of(out) == "RESET_INVALID"
    # and the second, at 24 hours, has expired
    clock.advance(timedelta(hours=24))
    out = await payload(browsers(), RESET, "resetPassword", t=second, p=NEW_PASSWORD)
    assert code_of(out) == "RESET_INVALID"
    admin = await signed_in(browsers, people.admin)
    # and a weak password through a live reset is refused by the password rules
    third = (await payload(admin, ISSUE_RESET, "issuePasswordReset", u=viewer))["resetToken"]
    weak = await payload(browsers(), RESET, "resetPassword", t=third, p=people.viewer.upper())
    assert code_of(weak) == "PASSWORD_IS_EMAIL"
    # when the viewer is disabled, her reset dies with her, and no new one can be issued
    await payload(admin, DISABLE, "disableUser", u=viewer)
    out = await payload(browsers(), RESET, "resetPassword", t=third, p=NEW_PASSWORD)
    assert code_of(out) == "RESET_INVALID"
    refused = await payload(admin, ISSUE_RESET, "issuePasswordReset", u=viewer)
    assert refused["userErrors"] == [{"code": "USER_DISABLED", "field": "userId"}]


# --- pending invitations ---------------------------------------------------------------


async def test_admins_see_and_revoke_their_accounts_pending_invitations(
    services: Services, api: Api, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given two accounts with pending invitations, one accepted, one expiring
    mine = await given_people(services, name="Alpha Hospital")
    theirs = await given_people(services, name="Bravo Hospital")

    async def invite(browser: Browser, account: str, email: str) -> str:
        variables = {"e": email, "n": "Invitee", "r": "ACCOUNT_VIEWER", "a": account}
        return str((await browser.data(INVITE, variables))["inviteUser"]["invitationToken"])

    old = await invite(await signed_in(browsers, mine.admin), mine.account_id, "old@alpha.cn")
    clock.advance(timedelta(days=6))
    admin = await signed_in(browsers, mine.admin)
    accepted = await invite(admin, mine.account_id, "joined@alpha.example.cn")
    await browsers().data(ACCEPT, {"t": accepted, "p": PASSWORD})
    pending = await invite(admin, mine.account_id, "pending@alpha.example.cn")
    bravo = await invite(await signed_in(browsers, theirs.admin), theirs.account_id, "p@bravo.cn")
    clock.advance(timedelta(days=1))  # `old` has expired now
    admin = await signed_in(browsers, mine.admin)
    other_admin = await signed_in(browsers, theirs.admin)
    # when the admin lists invitations
    listed = (await admin.data(INVITATIONS, {"a": None}))["invitations"]
    # then she sees only her account's pending one, no token
    assert listed["totalCount"] == 1
    node = listed["edges"][0]["node"]
    assert (node["email"], node["role"], node["accountId"]) == (
        "pending@alpha.example.cn",
        "ACCOUNT_VIEWER",
        mine.account_id,
    )
    # and asking for the other account looks like an unknown account
    other = await admin.post(INVITATIONS, {"a": theirs.account_id})
    assert other.json()["errors"][0]["extensions"]["code"] == "ACCOUNT_NOT_FOUND"
    # and an operator sees both accounts' (all, or one account's)
    token = await create_operator_token(services)
    assert (await api.operator(token, INVITATIONS, {"a": None}))["invitations"]["totalCount"] == 2
    by_account = await api.operator(token, INVITATIONS, {"a": theirs.account_id})
    assert by_account["invitations"]["edges"][0]["node"]["email"] == "p@bravo.cn"
    # and a viewer may not list them
    viewer = await signed_in(browsers, mine.viewer)
    assert (await viewer.post(INVITATIONS, {"a": None})).json()["errors"][0]["extensions"][
        "code"
    ] == "FORBIDDEN"
    # when the other account's admin tries to revoke it, it is unknown to her
    refused = await payload(other_admin, REVOKE_INVITATION, "revokeInvitation", i=node["id"])
    assert refused["userErrors"] == [{"code": "INVITATION_NOT_FOUND", "field": "invitationId"}]
    # when her own admin revokes it
    revoked = await payload(admin, REVOKE_INVITATION, "revokeInvitation", i=node["id"])
    # then it is gone from the list and its token no longer works
    assert revoked["userErrors"] == []
    assert revoked["revokedAt"] is not None
    assert (await admin.data(INVITATIONS, {"a": None}))["invitations"]["totalCount"] == 0
    out = await browsers().data(ACCEPT, {"t": pending, "p": PASSWORD})
    assert out["acceptInvitation"]["userErrors"][0]["code"] == "INVITATION_INVALID"
    # and revoking it twice says it is no longer pending
    twice = await payload(admin, REVOKE_INVITATION, "revokeInvitation", i=node["id"])
    assert twice["userErrors"][0]["code"] == "INVITATION_NOT_FOUND"
    assert old  # issued, expired, never listed
    assert bravo


# --- operator API tokens -----------------------------------------------------------------


async def test_operators_list_and_revoke_operator_tokens(
    services: Services, api: Api, browsers: Callable[..., Browser], clock: ManualClock
) -> None:
    # given two operator tokens, one of them used
    ops = await create_operator_token(services, name="ops")
    ci = await create_operator_token(services, name="ci pipeline")
    clock.advance(timedelta(minutes=5))
    listed = (await api.operator(ops, TOKENS))["operatorTokens"]
    # then the list names them with their last use, and never a secret
    nodes = {e["node"]["name"]: e["node"] for e in listed["edges"]}
    assert listed["totalCount"] == 2
    assert nodes["ops"]["lastUsedAt"].startswith(clock.now().isoformat()[:19])
    assert nodes["ci pipeline"]["lastUsedAt"] is None
    assert ops not in str(listed)
    assert ci not in str(listed)
    # when an operator revokes the CI token
    out = await api.operator(ops, REVOKE_TOKEN, {"i": nodes["ci pipeline"]["id"]})
    # then it stops working with the next request
    assert out["revokeOperatorToken"]["userErrors"] == []
    assert out["revokeOperatorToken"]["operatorToken"]["revokedAt"] is not None
    assert (await api.raw(TOKENS, authorization=f"Bearer {ci}")).status_code == 401
    # and an account admin can neither list nor revoke tokens
    people = await given_people(services)
    admin = await signed_in(browsers, people.admin)
    assert (await admin.post(TOKENS)).json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    refused = await payload(admin, REVOKE_TOKEN, "revokeOperatorToken", i=nodes["ops"]["id"])
    assert refused["userErrors"] == [{"code": "FORBIDDEN", "field": None}]
    assert (await api.operator(ops, TOKENS))["operatorTokens"]["totalCount"] == 2
