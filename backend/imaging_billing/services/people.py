"""Controls over people: disable and enable users, end their sessions, password resets,
pending invitations and operator API tokens.

Scope: operators act on anyone; an account admin acts only on their own account's
people and invitations (another account's look unknown), never on themselves where
that would lock them out; viewers and gateways on no one. Every use case here is a
mutation, so the audit trail records each one with its outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from .. import security
from ..domain.errors import RuleViolation
from ..domain.mail import Language
from ..store import access, people
from ..store.db import Database
from ..store.records import ApiTokenRecord, InvitationRecord, ResetUserRecord, UserRecord
from .access import LoggedIn, hash_password, open_session
from .principals import Principal, Role
from .reader import Reader
from .steps.accounts import add_operator_token

RESET_TTL = timedelta(hours=24)


def _require_manager(principal: Principal) -> None:
    if not (
        principal.is_operator or (principal.role is Role.ACCOUNT_ADMIN and principal.account_id)
    ):
        raise RuleViolation("FORBIDDEN")


async def _target(conn: AsyncConnection, principal: Principal, user_id: int) -> UserRecord:
    """The user, locked; another account's users (and operators, for an admin) are unknown."""
    _require_manager(principal)
    row = await people.lock_user(conn, user_id)
    if row is None or not (principal.is_operator or row.account_id == principal.account_id):
        raise RuleViolation("USER_NOT_FOUND", "userId")
    return row


def _is_self(principal: Principal, row: UserRecord) -> bool:
    return principal.kind == "user" and principal.id == row.id


async def disable_user(
    db: Database, principal: Principal, *, user_id: int, now: datetime
) -> UserRecord:
    """The user cannot log in, and every session they have ends at once; an unused
    password reset dies with them."""
    async with db.write() as conn:
        row = await _target(conn, principal, user_id)
        if _is_self(principal, row):
            raise RuleViolation("NOT_ON_YOURSELF", "userId")
        if row.disabled_at is None:
            await people.set_disabled(conn, row.id, now)
        await people.end_sessions(conn, row.id, now)
        await people.use_resets(conn, row.id, now)
        disabled = await access.get_user(conn, row.id)
    assert disabled is not None
    return disabled


async def enable_user(
    db: Database, principal: Principal, *, user_id: int, now: datetime
) -> UserRecord:
    async with db.write() as conn:
        row = await _target(conn, principal, user_id)
        if row.disabled_at is not None:
            await people.set_disabled(conn, row.id, None)
        enabled = await access.get_user(conn, row.id)
    assert enabled is not None
    return enabled


async def end_user_sessions(
    db: Database, principal: Principal, *, user_id: int, now: datetime
) -> int:
    """Signs the user out everywhere (a lost laptop) without disabling them; how many
    sessions ended. On oneself it ends one's own session too."""
    async with db.write() as conn:
        row = await _target(conn, principal, user_id)
        return await people.end_sessions(conn, row.id, now)


@dataclass(frozen=True)
class IssuedReset:
    token: str  # shown once, only its digest is stored
    expires_at: datetime


async def issue_password_reset(
    db: Database, principal: Principal, *, user_id: int, now: datetime
) -> IssuedReset:
    """A one-time reset token for a user (there is no e-mail yet: the admin hands it
    over); it replaces any earlier unused one."""
    token = security.new_token("ibr")
    async with db.write() as conn:
        row = await _target(conn, principal, user_id)
        if row.disabled_at is not None:
            raise RuleViolation("USER_DISABLED", "userId")
        await people.use_resets(conn, row.id, now)
        await people.insert_reset(
            conn,
            token_hash=security.digest(token),
            user_id=row.id,
            created_at=now,
            created_by=principal.actor,
            expires_at=now + RESET_TTL,
        )
    return IssuedReset(token, now + RESET_TTL)


async def _live_reset(
    conn: AsyncConnection, digest: str, now: datetime, *, lock: bool
) -> ResetUserRecord:
    found = await people.reset_by_hash(conn, digest, lock=lock)
    if (
        found is None
        or found.used_at is not None
        or now >= found.expires_at
        or found.disabled_at is not None
    ):
        raise RuleViolation("RESET_INVALID", "token")
    return found


async def reset_password(
    db: Database, *, token: str, password: str, client_address: str, now: datetime
) -> LoggedIn:
    """Sets the password, ends every session of the user, and signs this one in.
    The token is looked up before argon2 runs, so a bogus one costs no hash."""
    digest = security.digest(token)
    async with db.read() as conn:
        found = await _live_reset(conn, digest, now, lock=False)
    password_hash = await hash_password(password, found.email)
    async with db.write() as conn:
        found = await _live_reset(conn, digest, now, lock=True)  # used meanwhile?
        await people.set_password(conn, found.user_id, password_hash)
        await people.use_resets(conn, found.user_id, now)
        await people.end_sessions(conn, found.user_id, now)
        await access.clear_failures(conn, found.email)
        row = await access.get_user(conn, found.user_id)
    assert row is not None
    return await open_session(db, row, client_address, now)


# --- pending invitations --------------------------------------------------------------


def invitation_scope(principal: Principal, account_id: int | None) -> tuple[int | None, bool]:
    """(account, everyone): operators see all or one account's; an admin their own."""
    if principal.is_operator:
        return account_id, account_id is None
    _require_manager(principal)
    if account_id is not None and account_id != principal.account_id:
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    return principal.account_id, False


async def revoke_invitation(
    db: Database, principal: Principal, *, invitation_id: int, now: datetime
) -> InvitationRecord:
    """The invitation's token stops working at once."""
    _require_manager(principal)
    async with db.write() as conn:
        row = await people.lock_invitation(conn, invitation_id)
        if (
            row is None
            or not (principal.is_operator or row.account_id == principal.account_id)
            or row.accepted_at is not None
            or row.revoked_at is not None
            or now >= row.expires_at
        ):
            raise RuleViolation("INVITATION_NOT_FOUND", "invitationId")
        await people.revoke_invitation(conn, row.id, now)
        revoked = await people.lock_invitation(conn, row.id)
    assert revoked is not None
    return revoked


# --- operator API tokens --------------------------------------------------------------


async def create_operator_token(db: Database, *, name: str, now: datetime) -> str:
    """A new operator API token, shown once. The CLI's: whoever runs it holds the server."""
    async with db.write() as conn:
        return await add_operator_token(conn, name=name, now=now)


async def revoke_operator_token(
    db: Database, principal: Principal, *, token_id: int, now: datetime
) -> ApiTokenRecord:
    """The token stops working with the next request (nothing caches operator tokens)."""
    principal.require_operator()
    async with db.write() as conn:
        row = await people.lock_token(conn, token_id)
        if row is None:
            raise RuleViolation("OPERATOR_TOKEN_NOT_FOUND", "id")
        if row.revoked_at is None:
            await people.revoke_token(conn, row.id, now)
        token = await people.lock_token(conn, row.id)
    assert token is not None
    return token


async def set_my_language(db: Database, principal: Principal, language: Language) -> Language:
    """The console language a person chose; their notice mails are written in it. Only
    people have one: tokens and gateways are refused."""
    if principal.kind != "user":
        raise RuleViolation("FORBIDDEN")
    async with db.write() as conn:
        await people.set_language(conn, principal.id, language.value)
    return language


async def my_language(reader: Reader, principal: Principal) -> Language | None:
    """The language the person chose, None before they chose (or for a non-person)."""
    if principal.kind != "user":
        return None
    stored = await reader.run(people.language_of, principal.id)
    return Language(stored) if stored in {lang.value for lang in Language} else None
