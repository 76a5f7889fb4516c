"""People, sessions, invitations, institution tokens and the audit log (GraphQL)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry import relay
from strawberry.scalars import JSON

from ..domain.errors import RuleViolation, describe
from ..services import access, institution_tokens
from ..services.access import SessionPolicy
from ..services.principals import Role
from ..store import access as access_store
from ..store import accounts, audit
from . import connections as conn_
from . import ids
from .connections import Connection
from .context import SESSION_COOKIE, Context, Info
from .errors import UserError, attempt

if TYPE_CHECKING:
    from .types import Account


@strawberry.type
class User(relay.Node):
    id: relay.NodeID[int]
    email: str
    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None = strawberry.field(
        default=None, description="Set while the user may not log in."
    )

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=Role(row.role),
            created_at=row.created_at,
            disabled_at=row.disabled_at,
        )


@strawberry.type(description="Append-only record of a mutation or login attempt.")
class AuditRecord(relay.Node):
    id: relay.NodeID[int]
    occurred_at: datetime
    principal: str
    role: str
    account_id: relay.GlobalID | None
    operation: str
    arguments: JSON = strawberry.field(description="As given, secrets redacted.")
    result: str = strawberry.field(description="`ok` or the error code.")
    request_id: str = strawberry.field(description="The server's id of the request.")
    correlation_id: str | None = strawberry.field(
        description="The client's own `X-Request-Id`, if it sent one (printable ASCII)."
    )
    client_address: str | None

    @classmethod
    def from_row(cls, row: Any) -> AuditRecord:
        import json

        return cls(
            id=row.id,
            occurred_at=row.occurred_at,
            principal=row.principal,
            role=row.role,
            account_id=ids.encode("Account", row.account_id) if row.account_id else None,
            operation=row.operation,
            arguments=json.loads(row.arguments) if row.arguments.startswith("{") else {},
            result=row.result,
            request_id=row.request_id,
            correlation_id=row.correlation_id,
            client_address=row.client_address,
        )

    @strawberry.field(
        description="The result in words, in the request's language; null when `ok` or unknown."
    )
    def result_message(self, info: Info) -> str | None:
        if self.result == "ok":
            return None
        return describe(self.result, english=info.context.lang == "en")


@strawberry.type
class SessionViewer:
    role: Role
    name: str
    email: str | None
    account_id: strawberry.Private[int | None]

    @strawberry.field
    async def account(self, info: Info) -> Annotated[Account, strawberry.lazy(".types")] | None:
        from .types import Account

        if self.account_id is None:
            return None
        async with info.context.db.read() as conn:
            row = await accounts.get_account(conn, self.account_id)
        return Account.from_row(row) if row is not None else None


@strawberry.type
class LoginPayload:
    viewer: SessionViewer | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class LogoutPayload:
    ok: bool


@strawberry.type
class InviteUserPayload:
    invitation_token: str | None = strawberry.field(
        default=None, description="Shown this once; only its digest is stored."
    )
    expires_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RotateInstitutionTokenPayload:
    token: str | None = strawberry.field(default=None, description="Shown this once.")
    previous_valid_until: datetime | None = strawberry.field(
        default=None, description="The old token keeps working until then (24 hours)."
    )
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeInstitutionTokenPayload:
    revoked_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _set_session(context: Context, token: str) -> None:
    context.response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SessionPolicy().absolute.total_seconds()),
        httponly=True,
        samesite="strict",
        secure=context.services.secure_cookies,
        path="/",
    )


def signed_in(c: Context, done: access.LoggedIn | None, errors: list[UserError]) -> LoginPayload:
    """The session cookie for a login or an accepted invitation, and who it is."""
    if done is None:
        return LoginPayload(user_errors=errors)
    _set_session(c, done.token)
    c.authenticated_as = done.principal
    p = done.principal
    return LoginPayload(
        viewer=SessionViewer(role=p.role, name=p.name, email=p.email, account_id=p.account_id)
    )


def _institution_pk(value: strawberry.ID) -> int:
    return ids.decode(value, "Institution", missing="INSTITUTION_NOT_FOUND", field="institutionId")


@strawberry.type
class AccessMutation:
    @strawberry.mutation(description="Sets an HttpOnly session cookie; throttled after failures.")
    async def login(self, info: Info, email: str, password: str) -> LoginPayload:
        c = info.context
        done, errors = await attempt(
            c.lang,
            access.login(
                c.db, email=email, password=password, client_address=c.client_address, now=c.now()
            ),
        )
        return signed_in(c, done, errors)

    @strawberry.mutation
    async def logout(self, info: Info) -> LogoutPayload:
        c = info.context
        if c.session_token:
            await access.logout(c.db, c.session_token, c.now())
        c.response.delete_cookie(SESSION_COOKIE, path="/")
        return LogoutPayload(ok=True)

    @strawberry.mutation(description="Set a password from an invitation; signs in.")
    async def accept_invitation(self, info: Info, token: str, password: str) -> LoginPayload:
        c = info.context
        done, errors = await attempt(
            c.lang,
            access.accept_invitation(
                c.db, token=token, password=password, client_address=c.client_address, now=c.now()
            ),
        )
        return signed_in(c, done, errors)

    @strawberry.mutation(
        description="Operators invite anyone (an account's first admin, operators); "
        "an account admin invites people of its own account."
    )
    async def invite_user(
        self,
        info: Info,
        email: str,
        name: str,
        role: Role,
        account_id: strawberry.ID | None = None,
    ) -> InviteUserPayload:
        c = info.context

        async def run() -> InviteUserPayload:
            account = (
                ids.decode(account_id, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId")
                if account_id is not None
                else None
            )
            row, token = await access.invite_user(
                c.db,
                c.principal,
                account_id=account,
                email=email,
                name=name,
                role=role,
                now=c.now(),
            )
            return InviteUserPayload(invitation_token=token, expires_at=row.expires_at)

        payload, errors = await attempt(c.lang, run())
        return payload or InviteUserPayload(user_errors=errors)

    @strawberry.mutation(description="A new token, shown once; the old one works 24 more hours.")
    async def rotate_institution_token(
        self, info: Info, institution_id: strawberry.ID
    ) -> RotateInstitutionTokenPayload:
        c = info.context

        async def run() -> RotateInstitutionTokenPayload:
            pk = _institution_pk(institution_id)
            rotated = await institution_tokens.rotate(
                c.db, c.principal, institution_id=pk, now=c.now(), keys=c.services.keys
            )
            c.services.auth.forget(pk)
            return RotateInstitutionTokenPayload(
                token=rotated.token, previous_valid_until=rotated.previous_valid_until
            )

        payload, errors = await attempt(c.lang, run())
        return payload or RotateInstitutionTokenPayload(user_errors=errors)

    @strawberry.mutation(description="The institution's tokens stop working at once.")
    async def revoke_institution_token(
        self, info: Info, institution_id: strawberry.ID
    ) -> RevokeInstitutionTokenPayload:
        c = info.context

        async def run() -> RevokeInstitutionTokenPayload:
            pk = _institution_pk(institution_id)
            row = await institution_tokens.revoke(c.db, c.principal, institution_id=pk, now=c.now())
            c.services.auth.forget(pk)
            return RevokeInstitutionTokenPayload(revoked_at=row.token_revoked_at)

        payload, errors = await attempt(c.lang, run())
        return payload or RevokeInstitutionTokenPayload(user_errors=errors)


MAX_SEARCH = 100  # a search is a few words; LIKE over long patterns costs per row


@strawberry.type
class AccessQuery:
    @strawberry.field(
        description="Operators: every record (or one account's); account admins: their "
        "account's. Newest first. `search`: words, each found (case-insensitive) in the "
        "operation, principal, result or arguments."
    )
    async def audit_log(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        account_id: strawberry.ID | None = None,
        principal: str | None = None,
        operation: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        search: str | None = None,
    ) -> Connection[AuditRecord]:
        me = info.context.principal
        if search is not None and len(search) > MAX_SEARCH:
            raise RuleViolation("SEARCH_TOO_LONG", "search", {"limit": MAX_SEARCH})
        scope = (
            ids.decode(account_id, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId")
            if account_id is not None
            else None
        )
        if not me.is_operator:
            if me.role is not Role.ACCOUNT_ADMIN or me.account_id is None:
                raise RuleViolation("FORBIDDEN")
            if scope is not None and scope != me.account_id:
                raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
            scope = me.account_id
        size = conn_.page_size(first)
        start = conn_.start_of(after)
        words = search.strip() if search else None
        async with info.context.db.read() as conn:
            rows = await audit.page_records(
                conn,
                account_id=scope,
                principal=principal,
                operation=operation,
                since=since,
                until=until,
                after_id=start.after_pk,
                offset=start.offset,
                limit=size + 1,
                search=words,
            )
            total = await audit.count_records(
                conn,
                account_id=scope,
                principal=principal,
                operation=operation,
                since=since,
                until=until,
                search=words,
            )
        return conn_.build(rows, size, total, AuditRecord.from_row)


@strawberry.type
class AccountAccessFields:
    @strawberry.field(description="People of this account (admins and operators).")
    async def users(self, info: Info, first: int, after: str | None = None) -> Connection[User]:
        me = info.context.principal
        if not (me.is_operator or me.role is Role.ACCOUNT_ADMIN):
            raise RuleViolation("FORBIDDEN")
        account_id: int = self.id  # type: ignore[attr-defined]
        size = conn_.page_size(first)
        async with info.context.db.read() as conn:
            rows = await access_store.page_users(
                conn, account_id, after_id=conn_.after_pk(after), limit=size + 1
            )
            total = await access_store.count_users(conn, account_id)
        return conn_.build(rows, size, total, User.from_row)
