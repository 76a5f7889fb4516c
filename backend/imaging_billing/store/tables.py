"""SQLModel tables. Services use their Core `__table__` through the repositories.

Times are UTC (R-GEN-6) in timezone-aware columns. Quantities are whole exams.
Counters on `account` and `exam_lot` are caches of the ledger for the ingest hot
path; `services.reconcile` checks them against `ledger_entry` (R-GEN-7).
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, table_of


def _ts(nullable: bool = False, index: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable, index=index)


class Account(SQLModel, table=True):
    __tablename__ = "account"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_ts())
    # Cached from the ledger: exams uploaded while nothing was available (R-ARR-1).
    arrears_count: int = 0
    arrears_since: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    suspension_noticed: bool = False
    low_balance_threshold: int | None = None
    low_balance_noticed: bool = False
    # Quantity of the newest lot: the default low-balance threshold is 10 % of it (R-ARR-2).
    last_lot_quantity: int | None = None
    # Counts the write transactions that locked the account (store/accounts.lock_account):
    # an answer read at one revision is still right while the revision stands.
    # Filled in by the database only: rows written before 0014 have it too.
    revision: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )


class Institution(SQLModel, table=True):
    __tablename__ = "institution"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_ts())
    # The token's signing key sealed with the server secret (security.KeyBox); the token
    # itself is never stored.
    token_key: str = Field(max_length=128)
    # After a rotation the previous token keeps working until this instant.
    previous_token_key: str | None = Field(default=None, max_length=128)
    previous_valid_until: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    token_revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class Agreement(SQLModel, table=True):
    __tablename__ = "agreement"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    number: str = Field(max_length=100)
    signed_on: date
    channel_partner: str = Field(max_length=200)
    recorded_at: datetime = Field(sa_column=_ts())
    recorded_by: str = Field(max_length=200)


class ExamLot(SQLModel, table=True):
    __tablename__ = "exam_lot"
    __table_args__ = (sa.Index("ix_exam_lot_account_expiry", "account_id", "expires_at"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    mode: str = Field(max_length=10)
    quantity: int
    storage_years: int
    purchased_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    used: int = 0
    forfeited: int = 0
    swept_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    notified_30d: bool = False
    notified_7d: bool = False
    contract_ref: str | None = Field(default=None, max_length=200)
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id")
    created_by: str = Field(max_length=200)


class Exam(SQLModel, table=True):
    __tablename__ = "exam"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "study_uid", name="uq_exam_account_study"),
        # Arrears exams are settled oldest upload first (R-ARR-4).
        sa.Index("ix_exam_arrears", "account_id", "lot_id", "uploaded_at"),
        # Reconciliation reads an institution's exams by upload time.
        sa.Index("ix_exam_institution_upload", "institution_id", "uploaded_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    institution_id: int = Field(foreign_key="institution.id")
    study_uid: str = Field(max_length=64)
    uploaded_at: datetime = Field(sa_column=_ts())
    recorded_at: datetime = Field(sa_column=_ts())
    lot_id: int | None = Field(default=None, foreign_key="exam_lot.id")
    covered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    storage_ends_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    voided_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    void_reason: str | None = Field(default=None, max_length=500)


class LedgerEntry(SQLModel, table=True):
    """Append-only (R-GEN-7). quantity is signed, in exams, as seen by the lot:
    PURCHASE +n, CONSUMPTION -1, SETTLEMENT -1, EXPIRY -n, VOID +1 (or 0 for an
    arrears exam), ADJUSTMENT ±n; ARREARS +1 counts an uncovered exam (no lot)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (sa.Index("ix_ledger_account_time", "account_id", "occurred_at"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    type: str = Field(max_length=20)
    lot_id: int | None = Field(default=None, foreign_key="exam_lot.id", index=True)
    exam_id: int | None = Field(default=None, foreign_key="exam.id")
    quantity: int
    occurred_at: datetime = Field(sa_column=_ts())
    cause: str = Field(max_length=20)  # EXAM, ORDER, OPERATOR, SWEEP
    actor: str = Field(max_length=200)
    reason: str | None = Field(default=None, max_length=500)
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id")
    contract_ref: str | None = Field(default=None, max_length=200)


class Notice(SQLModel, table=True):
    __tablename__ = "notice"
    __table_args__ = (
        sa.Index("ix_notice_account_time", "account_id", "created_at"),
        # A notice that fires once per thing (a lot's or pack's expiry, a crossing) has a
        # key; the index makes a second write of it a no-op, on any number of instances.
        sa.Index("uq_notice_key_target", "key", "target", unique=True),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    kind: str = Field(max_length=30)
    target: str = Field(max_length=20)  # BUSINESS or MANAGEMENT (R-ARR-2)
    created_at: datetime = Field(sa_column=_ts())
    lot_id: int | None = Field(default=None, foreign_key="exam_lot.id")
    detail: str = Field(default="{}", max_length=2000)
    delivered_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    key: str | None = Field(default=None, max_length=120)


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "idempotency_record"
    __table_args__ = (sa.UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)
    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=100)  # who used the key: principal kind + id
    key: str = Field(max_length=200)
    operation: str = Field(max_length=60)
    request_hash: str = Field(max_length=64)
    response: str = Field(max_length=100_000)
    created_at: datetime = Field(sa_column=_ts())


class ApiToken(SQLModel, table=True):
    """Operator API tokens; only the SHA-256 of a token is kept."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    token_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=20)
    created_at: datetime = Field(sa_column=_ts())
    revoked_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


account = table_of(Account)
institution = table_of(Institution)
agreement = table_of(Agreement)
exam_lot = table_of(ExamLot)
exam = table_of(Exam)
ledger_entry = table_of(LedgerEntry)
notice = table_of(Notice)
idempotency_record = table_of(IdempotencyRecord)
api_token = table_of(ApiToken)
metadata = SQLModel.metadata

# Registers the commerce tables on the same metadata (migrations see one schema).
from . import access_tables as _access  # noqa: E402, F401
from . import budget_tables as _budgets  # noqa: E402, F401
from . import commerce_tables as _commerce  # noqa: E402, F401
from . import mail_tables as _mail  # noqa: E402, F401
from . import reconciliation_tables as _reconciliation  # noqa: E402, F401
from . import usage_tables as _usage  # noqa: E402, F401
from . import webhook_tables as _webhooks  # noqa: E402, F401
