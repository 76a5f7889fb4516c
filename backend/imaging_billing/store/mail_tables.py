"""The e-mail outbox: one row per notice and recipient.

Written in the transaction of the notice (services/steps/mail.py), like the webhook
deliveries, and sent afterwards by the mail worker (services/mail_worker.py). The pair
(key, recipient) is unique, so a notice is mailed once to each person whoever writes it.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from .types import UTCDateTime, table_of


def _ts(nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(UTCDateTime(), nullable=nullable)


class MailDelivery(SQLModel, table=True):
    """A notice to one person, as it will be sent (subject and body written when the
    notice is, with the figures of that instant). While a send is under way
    `next_attempt_at` is pushed out by a lease, so a crashed worker's mail is taken again."""

    __tablename__ = "mail_delivery"
    __table_args__ = (
        sa.UniqueConstraint("key", "recipient", name="uq_mail_delivery_key_recipient"),
        sa.Index("ix_mail_delivery_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=100)
    recipient: str = Field(max_length=254)
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    notice_id: int | None = Field(default=None, foreign_key="notice.id", index=True)
    account_id: int | None = Field(default=None, foreign_key="account.id")
    target: str = Field(max_length=20)
    subject: str = Field(max_length=1000)
    body: str = Field(max_length=20_000)
    status: str = Field(max_length=20)  # PENDING, DELIVERED, FAILED
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    created_at: datetime = Field(sa_column=_ts())
    last_attempt_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


mail_delivery = table_of(MailDelivery)
