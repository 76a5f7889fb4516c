"""Logging in and out, invitations and institution tokens (R-GEN-8)."""

from __future__ import annotations

from datetime import datetime

import strawberry

from ...services import access, institution_tokens
from ...services.access import SessionPolicy
from ...services.principals import Role
from .. import ids
from ..context import SESSION_COOKIE, Context, Info
from ..errors import UserError, attempt
from .types import SessionViewer


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
            # Its live sockets in this process close now, not at their next recheck.
            await c.services.session_sockets.ended(c.session_token)
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
