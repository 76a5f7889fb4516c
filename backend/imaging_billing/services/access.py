"""People and sessions: login, logout, invitations, operators (issue: access control).

Passwords are hashed with argon2id (argon2-cffi); session and invitation tokens are
random and kept only as SHA-256. Failed logins are throttled per email and per
client address, counted in the database so every API instance sees them; an attempt
is counted before its password is verified, so parallel attempts cannot outrun it.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import security
from ..domain.errors import RuleViolation
from ..domain.passwords import check_password
from ..domain.text import clean_text, encodable, storable
from ..store import access, accounts
from ..store.db import Database
from ..store.records import InvitationRecord, SessionUserRecord, UserRecord
from .principals import Principal, Role

HASHER = PasswordHasher()
# Verifying against this keeps an unknown email as slow as a wrong password.
_DUMMY_HASH = HASHER.hash("not a real password")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_ADDRESS = 20
INVITATION_TTL = timedelta(days=7)
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta = timedelta(hours=2)
    absolute: timedelta = timedelta(hours=12)


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not _EMAIL.fullmatch(email) or not storable(email):
        raise RuleViolation("EMAIL_INVALID", "email")
    return email


async def hash_password(password: str, email: str) -> str:
    # argon2 is deliberately slow: keep it off the event loop.
    return await asyncio.to_thread(HASHER.hash, check_password(password, email))


async def _verify(password_hash: str, password: str) -> bool:
    def run() -> bool:
        try:
            return HASHER.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(run)


def user_principal(row: UserRecord | SessionUserRecord) -> Principal:
    return Principal(
        Role(row.role),
        row.user_id if isinstance(row, SessionUserRecord) else row.id,
        row.name,
        account_id=row.account_id,
        kind="user",
        email=row.email,
    )


async def create_user(
    db: Database,
    *,
    email: str,
    name: str,
    role: Role,
    account_id: int | None,
    password: str,
    actor: str,
    now: datetime,
) -> UserRecord:
    """Operators are created from the CLI; everyone else through an invitation."""
    email = normal_email(email)
    name = clean_text(name, "name", code="NAME_REQUIRED", limit=200) if name.strip() else email
    password_hash = await hash_password(password, email)
    async with db.write() as conn:
        if await access.user_by_email(conn, email) is not None:
            raise RuleViolation("EMAIL_TAKEN", "email")
        user_id = await access.insert_user(
            conn,
            email=email,
            name=name,
            password_hash=password_hash,
            role=role.value,
            account_id=account_id,
            created_at=now,
            created_by=actor,
        )
        row = await access.get_user(conn, user_id)
    assert row is not None
    return row


@dataclass(frozen=True)
class LoggedIn:
    token: str
    principal: Principal


async def login(
    db: Database, *, email: str, password: str, client_address: str, now: datetime
) -> LoggedIn:
    email = email.strip().lower()[:254]
    if not storable(email) or not encodable(password.replace("\t", " ")):
        raise RuleViolation("LOGIN_FAILED", "password")
    row = await _count_attempt(db, email, client_address[:64], now)
    ok = await _verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    # A disabled person gets the wrong-password answer: whether an address belongs to a
    # disabled user is for the account's administrators to know, not for whoever types it.
    if row is None or not ok or row.disabled_at is not None:
        raise RuleViolation("LOGIN_FAILED", "password")  # the attempt stays counted
    return await open_session(db, row, client_address, now)


async def _count_attempt(
    db: Database, email: str, client_address: str, now: datetime
) -> UserRecord | None:
    """Count this attempt as a failure before its password is checked (a success clears
    it), in one transaction under the email's and the address's lock: of N parallel
    attempts only those within the limits get as far as argon2. The user row, or None."""
    async with db.write() as conn:
        await access.lock_login(conn, email=email, client_address=client_address)
        by_email, by_address = await access.count_failures(
            conn, email=email, client_address=client_address, since=now - FAILURE_WINDOW
        )
        if by_email >= MAX_FAILURES_PER_EMAIL or by_address >= MAX_FAILURES_PER_ADDRESS:
            raise RuleViolation("LOGIN_THROTTLED")
        await access.add_login_failure(conn, email=email, client_address=client_address, now=now)
        return await access.user_by_email(conn, email)


async def open_session(
    db: Database, row: UserRecord, client_address: str, now: datetime
) -> LoggedIn:
    token = security.new_token("ibs")
    policy = SessionPolicy()
    async with db.write() as conn:
        await access.clear_failures(conn, row.email)
        await access.insert_session(
            conn,
            token_hash=security.digest(token),
            user_id=row.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + policy.absolute,
            client_address=client_address[:64],
        )
    return LoggedIn(token, user_principal(row))


async def session_principal(
    db: Database, token: str, now: datetime, policy: SessionPolicy | None = None
) -> Principal | None:
    """The signed-in person, or None when the session is unknown, revoked or expired."""
    policy = policy or SessionPolicy()
    digest = security.digest(token)
    async with db.read() as conn:
        row = await access.session_with_user(conn, digest)
    if row is None or row.revoked_at is not None or row.disabled_at is not None:
        return None
    if now >= row.expires_at or now - row.last_seen_at >= policy.idle:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        async with db.write() as conn:
            await access.touch_session(conn, row.session_id, now)
    return user_principal(row)


async def session_holds(
    db: Database, token: str, now: datetime, policy: SessionPolicy | None = None
) -> bool:
    """Whether the session is still signed in, without counting this as its use: an open
    live console must not keep an idle session alive."""
    policy = policy or SessionPolicy()
    async with db.read() as conn:
        row = await access.session_with_user(conn, security.digest(token))
    return not (
        row is None
        or row.revoked_at is not None
        or row.disabled_at is not None
        or now >= row.expires_at
        or now - row.last_seen_at >= policy.idle
    )


async def logout(db: Database, token: str, now: datetime) -> None:
    async with db.write() as conn:
        await access.revoke_session(conn, security.digest(token), now)


def _grantable(principal: Principal, account_id: int | None, role: Role) -> None:
    """Operators invite anyone; an account admin invites people of its own account."""
    if role in (Role.INSTITUTION, Role.ANONYMOUS):
        raise RuleViolation("ROLE_NOT_ALLOWED", "role")
    if role is Role.OPERATOR:
        principal.require_operator()
        if account_id is not None:
            raise RuleViolation("ROLE_NOT_ALLOWED", "role")
        return
    if account_id is None:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    principal.require_account_admin(account_id)


def _refuse_taken(principal: Principal, holder: UserRecord | None) -> None:
    """EMAIL_TAKEN only where the inviter can see the holder anyway.

    Emails are unique platform-wide. Operators see every user, and an admin sees the
    members of their own account in `users`: telling them is no leak. An address held
    in another account is not refused: the invitation is made like any other, so the
    admin cannot tell it from a fresh address; it can never be accepted (acceptance
    answers INVITATION_INVALID, as for an expired token). The inviter holds the token,
    so accepting it themselves would tell them; that probe costs a real member in
    their own account for every free address, in the audit log. Closing it needs
    invitations delivered by e-mail, so that the inviter never sees the token.
    """
    if holder is not None and (principal.is_operator or holder.account_id == principal.account_id):
        raise RuleViolation("EMAIL_TAKEN", "email")


async def invite_user(
    db: Database,
    principal: Principal,
    *,
    account_id: int | None,
    email: str,
    name: str,
    role: Role,
    now: datetime,
) -> tuple[InvitationRecord, str]:
    """An invitation token, shown once; accepting it sets the password."""
    _grantable(principal, account_id, role)
    email = normal_email(email)
    name = clean_text(name, "name", code="NAME_REQUIRED", limit=200)
    token = security.new_token("ibv")
    async with db.write() as conn:
        if account_id is not None and await accounts.get_account(conn, account_id) is None:
            raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
        _refuse_taken(principal, await access.user_by_email(conn, email))
        invitation_id = await access.insert_invitation(
            conn,
            token_hash=security.digest(token),
            email=email,
            name=name,
            role=role.value,
            account_id=account_id,
            created_at=now,
            created_by=principal.actor,
            expires_at=now + INVITATION_TTL,
        )
        row = await access.invitation_by_hash(conn, security.digest(token))
    assert row is not None
    assert row.id == invitation_id
    return row, token


async def _live_invitation(
    conn: AsyncConnection, digest: str, now: datetime, *, lock: bool
) -> InvitationRecord:
    """A pending invitation for a still-free address, else INVITATION_INVALID."""
    found = await access.invitation_by_hash(conn, digest, lock=lock)
    if (
        found is None
        or found.accepted_at is not None
        or found.revoked_at is not None
        or now >= found.expires_at
        or await access.user_by_email(conn, found.email) is not None
    ):
        raise RuleViolation("INVITATION_INVALID", "token")
    return found


async def accept_invitation(
    db: Database, *, token: str, password: str, client_address: str, now: datetime
) -> LoggedIn:
    digest = security.digest(token)
    # The token is looked up before argon2 runs: a bogus token costs a read, not a hash.
    async with db.read() as conn:
        found = await _live_invitation(conn, digest, now, lock=False)
    password_hash = await hash_password(password, found.email)
    async with db.write() as conn:
        found = await _live_invitation(conn, digest, now, lock=True)  # accepted meanwhile?
        user_id = await access.insert_user(
            conn,
            email=found.email,
            name=found.name,
            password_hash=password_hash,
            role=found.role,
            account_id=found.account_id,
            created_at=now,
            created_by=found.created_by,
        )
        await access.mark_invitation_accepted(conn, found.id, now)
        row = await access.get_user(conn, user_id)
    assert row is not None
    return await open_session(db, row, client_address, now)
