"""Tables of the commerce side: prices, orders, payments, AI, licences, services.

Money is whole fen (BigInteger). Like tables.py, counters on `ai_pack` are caches
of `ai_ledger_entry`, checked by reconciliation.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, table_of


def _ts(nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable)


def _fen() -> sa.Column[int]:
    return sa.Column(sa.BigInteger(), nullable=False)


class Price(SQLModel, table=True):
    """A unit price in fen from `effective_from` on; the newest effective one applies."""

    __tablename__ = "price"
    __table_args__ = (sa.Index("ix_price_product_from", "product", "effective_from"),)
    id: int | None = Field(default=None, primary_key=True)
    product: str = Field(max_length=60)
    unit_price_fen: int = Field(sa_column=_fen())
    effective_from: datetime = Field(sa_column=_ts())
    set_by: str = Field(max_length=200)
    created_at: datetime = Field(sa_column=_ts())


class Order(SQLModel, table=True):
    __tablename__ = "purchase_order"
    __table_args__ = (
        sa.Index("ix_order_account_placed", "account_id", "placed_at"),
        sa.UniqueConstraint("number", name="uq_purchase_order_number"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # What people see and write on a transfer: IB + Shanghai day + sequence (domain/payee.py).
    number: str = Field(max_length=20)
    account_id: int = Field(foreign_key="account.id")
    channel: str = Field(max_length=10)  # ONLINE / OFFLINE
    state: str = Field(max_length=20)
    total_fen: int = Field(sa_column=_fen())
    placed_at: datetime = Field(sa_column=_ts())
    placed_by: str = Field(max_length=200)
    terms_accepted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    contract_ref: str | None = Field(default=None, max_length=200)
    paid_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    fulfilled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    cancelled_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class OrderNumberDay(SQLModel, table=True):
    """The last order number given out on one Asia/Shanghai day: the row is taken and
    bumped in the transaction that creates the order, so numbers neither repeat nor skip."""

    __tablename__ = "order_number_day"
    day: str = Field(max_length=8, primary_key=True)  # YYYYMMDD
    last: int


class Setting(SQLModel, table=True):
    """Operator-set values the console shows everyone (the payee); history is in the audit log."""

    __tablename__ = "setting"
    key: str = Field(max_length=60, primary_key=True)
    value: str = Field(sa_column=sa.Column(sa.Text(), nullable=False))  # JSON
    updated_at: datetime = Field(sa_column=_ts())
    updated_by: str = Field(max_length=200)


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    product: str = Field(max_length=60)
    quantity: int = Field(sa_column=sa.Column(sa.BigInteger(), nullable=False))
    years: int | None = None
    institution_id: int | None = Field(default=None, foreign_key="institution.id")
    institution_name: str | None = Field(default=None, max_length=200)
    variant: str | None = Field(default=None, max_length=10)
    starts_on: date | None = None
    remark: str | None = Field(default=None, max_length=500)
    unit_price_fen: int = Field(sa_column=_fen())
    amount_fen: int = Field(sa_column=_fen())


class Payment(SQLModel, table=True):
    __tablename__ = "payment"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="purchase_order.id", index=True)
    # The provider's payment id or the bank transfer reference; one payment each.
    reference: str = Field(max_length=200, unique=True)
    method: str = Field(max_length=20)  # CALLBACK / TRANSFER / OFFLINE
    amount_fen: int = Field(sa_column=_fen())
    received_at: datetime = Field(sa_column=_ts())
    recorded_by: str = Field(max_length=200)


class AiPack(SQLModel, table=True):
    """R-AI-1: per-read credits, used within one year."""

    __tablename__ = "ai_pack"
    __table_args__ = (sa.Index("ix_ai_pack_account_expiry", "account_id", "expires_at"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    product: str = Field(max_length=20)
    quantity: int
    used: int = 0
    forfeited: int = 0
    purchased_at: datetime = Field(sa_column=_ts())
    expires_at: datetime = Field(sa_column=_ts())
    swept_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id")


class AiRead(SQLModel, table=True):
    """One AI-assisted read, drawn from a pack or covered by a licence (R-AI-1/4)."""

    __tablename__ = "ai_read"
    __table_args__ = (sa.UniqueConstraint("account_id", "idempotency_key", name="uq_ai_read_key"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    institution_id: int = Field(foreign_key="institution.id")
    product: str = Field(max_length=20)
    study_uid: str = Field(max_length=64)
    idempotency_key: str = Field(max_length=200)
    pack_id: int | None = Field(default=None, foreign_key="ai_pack.id")
    licence_id: int | None = Field(default=None, foreign_key="ai_licence.id")
    read_at: datetime = Field(sa_column=_ts())


class AiLedgerEntry(SQLModel, table=True):
    """Append-only (R-GEN-7): PURCHASE +n, CONSUMPTION -1, EXPIRY -n, ADJUSTMENT ±n."""

    __tablename__ = "ai_ledger_entry"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    type: str = Field(max_length=20)
    pack_id: int = Field(foreign_key="ai_pack.id", index=True)
    read_id: int | None = Field(default=None, foreign_key="ai_read.id")
    quantity: int
    occurred_at: datetime = Field(sa_column=_ts())
    actor: str = Field(max_length=200)
    reason: str | None = Field(default=None, max_length=500)


class AiLicence(SQLModel, table=True):
    """R-AI-4: perpetual, unlimited, recorded from an offline purchase."""

    __tablename__ = "ai_licence"
    __table_args__ = (
        sa.UniqueConstraint("institution_id", "product", name="uq_ai_licence_institution"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    institution_id: int = Field(foreign_key="institution.id")
    product: str = Field(max_length=20)
    granted_at: datetime = Field(sa_column=_ts())
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id")
    # Cached: the reads it covered, written with them (the figures never count the
    # history; `reconcile_ai` checks it against the reads).
    reads: int = Field(
        default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0")
    )


class Licence(SQLModel, table=True):
    """R-LIC-1..3: a feature enabled for one institution, perpetual."""

    __tablename__ = "licence"
    __table_args__ = (
        sa.UniqueConstraint("institution_id", "feature", name="uq_licence_institution_feature"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    institution_id: int = Field(foreign_key="institution.id")
    feature: str = Field(max_length=40)
    enabled_at: datetime = Field(sa_column=_ts())
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id")


class ServiceContract(SQLModel, table=True):
    """R-SVC-1..4: one purchased service for one institution."""

    __tablename__ = "service_contract"
    __table_args__ = (sa.Index("ix_service_account", "account_id", "purchased_at"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    institution_id: int | None = Field(default=None, foreign_key="institution.id")
    institution_name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    variant: str | None = Field(default=None, max_length=10)
    remark: str = Field(max_length=500)
    years: int | None = None
    purchased_at: datetime = Field(sa_column=_ts())
    use_by: datetime = Field(sa_column=_ts())
    starts_on: date | None = None
    ends_on: date | None = None
    started_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    order_id: int | None = Field(default=None, foreign_key="purchase_order.id")
    # The state last told in a `service.state_changed` event (the state itself is
    # derived, so the sweep compares the two to tell what time alone changed). NULL on
    # services bought before this was kept: they are never told about.
    announced_state: str | None = Field(default=None, max_length=20)


price = table_of(Price)
purchase_order = table_of(Order)
order_line = table_of(OrderLine)
order_number_day = table_of(OrderNumberDay)
setting = table_of(Setting)
payment = table_of(Payment)
ai_pack = table_of(AiPack)
ai_read = table_of(AiRead)
ai_ledger_entry = table_of(AiLedgerEntry)
ai_licence = table_of(AiLicence)
licence = table_of(Licence)
service_contract = table_of(ServiceContract)
