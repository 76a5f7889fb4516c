"""Controls over people (GraphQL): disable and enable users, end their sessions,
password resets, pending invitations, operator API tokens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import strawberry
from strawberry import relay

from ...services import people
from ...services.principals import Role
from ...services.queries import access as reads
from ...services.records import ApiTokenRecord, InvitationRecord
from .. import connections as conn_
from .. import ids
from ..connections import Connection
from ..context import Info
from ..enums import Language
from ..errors import UserError, attempt
from .mutations import LoginPayload, signed_in
from .types import User

P = TypeVar("P")


@strawberry.type(description="An invitation not yet accepted, revoked or expired.")
class Invitation(relay.Node):
    id: relay.NodeID[int]
    email: str
    name: str
    role: Role
    account_id: relay.GlobalID | None
    created_at: datetime
    created_by: str
    expires_at: datetime

    @classmethod
    def from_row(cls, row: InvitationRecord) -> Invitation:
        return cls(
            id=row.id,
            email=row.email,
            name=row.name,
            role=Role(row.role),
            account_id=ids.encode("Account", row.account_id) if row.account_id else None,
            created_at=row.created_at,
            created_by=row.created_by,
            expires_at=row.expires_at,
        )


@strawberry.type(description="An operator API token; the secret itself is never shown again.")
class OperatorToken(relay.Node):
    id: relay.NodeID[int]
    name: str
    created_at: datetime
    last_used_at: datetime | None = strawberry.field(description="To the minute.")
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiTokenRecord) -> OperatorToken:
        return cls(
            id=row.id,
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type
class UserPayload:
    user: User | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class EndUserSessionsPayload:
    ended_sessions: int | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class IssuePasswordResetPayload:
    reset_token: str | None = strawberry.field(
        default=None, description="Shown this once; only its digest is stored."
    )
    expires_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeInvitationPayload:
    invitation_id: strawberry.ID | None = None
    revoked_at: datetime | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RevokeOperatorTokenPayload:
    operator_token: OperatorToken | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _user_pk(value: strawberry.ID) -> int:
    return ids.decode(value, "User", missing="USER_NOT_FOUND", field="userId")


async def _payload(
    info: Info, run: Callable[[], Awaitable[P]], refused: Callable[[list[UserError]], P]
) -> P:
    done, errors = await attempt(info.context.lang, run())
    return done if done is not None else refused(errors)


@strawberry.type
class SetMyLanguagePayload:
    language: Language | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class PeopleMutation:
    @strawberry.mutation(
        description="The console language the signed-in person chose; their notice e-mails "
        "are written in it (before any choice: zh-CN with English below). People only."
    )
    async def set_my_language(self, info: Info, language: Language) -> SetMyLanguagePayload:
        c = info.context

        async def run() -> SetMyLanguagePayload:
            chosen = await people.set_my_language(c.db, c.principal, language)
            return SetMyLanguagePayload(language=chosen)

        return await _payload(info, run, lambda e: SetMyLanguagePayload(user_errors=e))

    @strawberry.mutation(
        description="The user can no longer log in; all their sessions end at once. "
        "Admins: people of their own account, not themselves."
    )
    async def disable_user(self, info: Info, user_id: strawberry.ID) -> UserPayload:
        c = info.context

        async def run() -> UserPayload:
            row = await people.disable_user(
                c.db, c.principal, user_id=_user_pk(user_id), now=c.now()
            )
            # Their live sockets in this process close now (api/session_sockets.py).
            await c.services.session_sockets.person_signed_out(row.id)
            return UserPayload(user=User.from_row(row))

        return await _payload(info, run, lambda e: UserPayload(user_errors=e))

    @strawberry.mutation(description="A disabled user may log in again.")
    async def enable_user(self, info: Info, user_id: strawberry.ID) -> UserPayload:
        c = info.context

        async def run() -> UserPayload:
            row = await people.enable_user(
                c.db, c.principal, user_id=_user_pk(user_id), now=c.now()
            )
            return UserPayload(user=User.from_row(row))

        return await _payload(info, run, lambda e: UserPayload(user_errors=e))

    @strawberry.mutation(description="Signs the user out everywhere without disabling them.")
    async def end_user_sessions(self, info: Info, user_id: strawberry.ID) -> EndUserSessionsPayload:
        c = info.context

        async def run() -> EndUserSessionsPayload:
            person = _user_pk(user_id)
            ended = await people.end_user_sessions(c.db, c.principal, user_id=person, now=c.now())
            await c.services.session_sockets.person_signed_out(person)
            return EndUserSessionsPayload(ended_sessions=ended)

        return await _payload(info, run, lambda e: EndUserSessionsPayload(user_errors=e))

    @strawberry.mutation(
        description="A one-time password reset token for the user, valid 24 hours; "
        "an earlier unused one stops working."
    )
    async def issue_password_reset(
        self, info: Info, user_id: strawberry.ID
    ) -> IssuePasswordResetPayload:
        c = info.context

        async def run() -> IssuePasswordResetPayload:
            issued = await people.issue_password_reset(
                c.db, c.principal, user_id=_user_pk(user_id), now=c.now()
            )
            return IssuePasswordResetPayload(reset_token=issued.token, expires_at=issued.expires_at)

        return await _payload(info, run, lambda e: IssuePasswordResetPayload(user_errors=e))

    @strawberry.mutation(
        description="Set a new password with a reset token; ends the user's other sessions "
        "and signs in."
    )
    async def reset_password(self, info: Info, token: str, password: str) -> LoginPayload:
        c = info.context
        done, errors = await attempt(
            c.lang,
            people.reset_password(
                c.db, token=token, password=password, client_address=c.client_address, now=c.now()
            ),
        )
        if done is not None:  # the other sessions ended: their sockets here close now
            await c.services.session_sockets.person_signed_out(done.principal.id)
        return signed_in(c, done, errors)

    @strawberry.mutation(description="The invitation's token stops working at once.")
    async def revoke_invitation(
        self, info: Info, invitation_id: strawberry.ID
    ) -> RevokeInvitationPayload:
        c = info.context

        async def run() -> RevokeInvitationPayload:
            pk = ids.decode(
                invitation_id, "Invitation", missing="INVITATION_NOT_FOUND", field="invitationId"
            )
            row = await people.revoke_invitation(c.db, c.principal, invitation_id=pk, now=c.now())
            return RevokeInvitationPayload(
                invitation_id=strawberry.ID(str(ids.encode("Invitation", row.id))),
                revoked_at=row.revoked_at,
            )

        return await _payload(info, run, lambda e: RevokeInvitationPayload(user_errors=e))

    @strawberry.mutation(description="Operators: the API token stops working at once.")
    async def revoke_operator_token(
        self, info: Info, id: strawberry.ID
    ) -> RevokeOperatorTokenPayload:
        c = info.context

        async def run() -> RevokeOperatorTokenPayload:
            pk = ids.decode(id, "OperatorToken", missing="OPERATOR_TOKEN_NOT_FOUND", field="id")
            row = await people.revoke_operator_token(c.db, c.principal, token_id=pk, now=c.now())
            return RevokeOperatorTokenPayload(operator_token=OperatorToken.from_row(row))

        return await _payload(info, run, lambda e: RevokeOperatorTokenPayload(user_errors=e))


@strawberry.type
class PeopleQuery:
    @strawberry.field(
        description="Pending invitations. Operators: all, or one account's; account "
        "admins: their account's."
    )
    async def invitations(
        self,
        info: Info,
        first: int,
        after: str | None = None,
        account_id: strawberry.ID | None = None,
    ) -> Connection[Invitation]:
        c = info.context
        named = (
            ids.decode(account_id, "Account", missing="ACCOUNT_NOT_FOUND", field="accountId")
            if account_id is not None
            else None
        )
        size = conn_.page_size(first)
        page = await reads.invitations_page(
            c.reader, named, now=c.now(), after_id=conn_.after_pk(after), limit=size + 1
        )
        return conn_.build(page.rows, size, page.total, Invitation.from_row)

    @strawberry.field(description="Operators: every operator API token, revoked ones too.")
    async def operator_tokens(
        self, info: Info, first: int, after: str | None = None
    ) -> Connection[OperatorToken]:
        c = info.context
        size = conn_.page_size(first)
        page = await reads.operator_tokens_page(
            c.reader, after_id=conn_.after_pk(after), limit=size + 1
        )
        return conn_.build(page.rows, size, page.total, OperatorToken.from_row)
