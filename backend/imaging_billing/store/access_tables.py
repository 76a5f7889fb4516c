"""Tables of access control: people, sessions, invitations, password resets, login
failures, the audit log.

Secrets (passwords, session and invitation tokens) are kept only as hashes.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, table_of


def _ts(nullable: bool = False, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)  # stored lower-case
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=200)  # argon2id
    role: str = Field(max_length=20)
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(max_length=200)
    disabled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # The console language the person last chose (zh-CN / en): their notice mails' language.
    language: str | None = Field(default=None, max_length=10)


class Session(SQLModel, table=True):
    __tablename__ = "user_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(sa_column=_ts())
    last_seen_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())  # absolute limit
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    client_address: str | None = Field(default=None, max_length=64)


class Invitation(SQLModel, table=True):
    __tablename__ = "invitation"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    email: str = Field(max_length=254)
    name: str = Field(max_length=200)
    role: str = Field(max_length=20)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(max_length=200)
    expires_at: datetime = Field(sa_column=_ts())
    accepted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class PasswordReset(SQLModel, table=True):
    """A one-time password reset issued by an administrator (there is no e-mail yet)."""

    __tablename__ = "password_reset"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(sa_column=_ts())
    created_by: str = Field(max_length=200)
    expires_at: datetime = Field(sa_column=_ts())
    used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class LoginFailure(SQLModel, table=True):
    """Recent failed logins, for throttling per user and per client address.

    A login attempt is written here before its password is verified (and removed when it
    succeeds), so parallel attempts count each other."""

    __tablename__ = "login_failure"
    __table_args__ = (
        sa.Index("ix_login_failure_email", "email", "occurred_at"),
        sa.Index("ix_login_failure_address", "client_address", "occurred_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    client_address: str = Field(max_length=64)
    occurred_at: datetime = Field(sa_column=_ts())


class AuditRecord(SQLModel, table=True):
    """Append-only: every mutation and login attempt. No API changes or deletes one."""

    __tablename__ = "audit_record"
    __table_args__ = (
        sa.Index("ix_audit_account_time", "account_id", "occurred_at"),
        sa.Index("ix_audit_time", "occurred_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    occurred_at: datetime = Field(sa_column=_ts())
    principal: str = Field(max_length=200)
    role: str = Field(max_length=20)
    account_id: int | None = Field(default=None, index=False)
    operation: str = Field(max_length=100)
    arguments: str = Field(max_length=20_000)  # JSON, secrets redacted
    result: str = Field(max_length=100)  # "ok" or the error code
    request_id: str = Field(max_length=64)
    client_address: str | None = Field(default=None, max_length=64)
    # The client's own X-Request-Id, if it sent one: kept beside the server's request_id.
    correlation_id: str | None = Field(default=None, max_length=64)


user = table_of(User)
session = table_of(Session)
invitation = table_of(Invitation)
login_failure = table_of(LoginFailure)
password_reset = table_of(PasswordReset)
audit_record = table_of(AuditRecord)
