"""What the repositories return: one frozen record per row, typed.

A table's record has its columns as attributes, named and ordered as the table's
columns are (tests/store/test_records.py holds them to it); a query of a computed or
joined shape has a record of its own, named and ordered as its select. Records are
built positionally by `store.fetch`, which checks a result's column names against the
record's fields once per statement. Records are final: a type checker then knows one
is never falsy (`row and Type.from_row(row)` keeps its type).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import final

# --- accounts -------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class AccountRecord:
    id: int
    name: str
    created_at: datetime
    arrears_count: int
    arrears_since: datetime | None
    suspension_noticed: bool
    low_balance_threshold: int | None
    low_balance_noticed: bool
    last_lot_quantity: int | None
    revision: int


@final
@dataclass(frozen=True, slots=True)
class InstitutionRecord:
    id: int
    account_id: int
    name: str
    created_at: datetime
    token_key: str
    previous_token_key: str | None
    previous_valid_until: datetime | None
    token_revoked_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class InstitutionKeysRecord:
    """An institution's stored (sealed, or legacy plain) signing keys."""

    id: int
    token_key: str
    previous_token_key: str | None


@final
@dataclass(frozen=True, slots=True)
class AgreementRecord:
    id: int
    account_id: int
    number: str
    signed_on: date
    channel_partner: str
    recorded_at: datetime
    recorded_by: str


# --- exams, lots, ledger, notices -----------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class LotRecord:
    id: int
    account_id: int
    mode: str
    quantity: int
    storage_years: int
    purchased_at: datetime
    expires_at: datetime
    used: int
    forfeited: int
    swept_at: datetime | None
    notified_30d: bool
    notified_7d: bool
    contract_ref: str | None
    order_id: int | None
    created_by: str


@final
@dataclass(frozen=True, slots=True)
class ExamRecord:
    id: int
    account_id: int
    institution_id: int
    study_uid: str
    uploaded_at: datetime
    recorded_at: datetime
    lot_id: int | None
    covered_at: datetime | None
    storage_ends_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None


@final
@dataclass(frozen=True, slots=True)
class ArrearsExamRecord:
    """An exam waiting for credit (R-ARR-4): what settling it needs."""

    id: int
    uploaded_at: datetime


@final
@dataclass(frozen=True, slots=True)
class LedgerEntryRecord:
    id: int
    account_id: int
    type: str
    lot_id: int | None
    exam_id: int | None
    quantity: int
    occurred_at: datetime
    cause: str
    actor: str
    reason: str | None
    order_id: int | None
    contract_ref: str | None


@final
@dataclass(frozen=True, slots=True)
class LedgerExportRecord:
    """A ledger entry with its exam's Study Instance UID, for the CSV export."""

    id: int
    account_id: int
    type: str
    lot_id: int | None
    exam_id: int | None
    quantity: int
    occurred_at: datetime
    cause: str
    actor: str
    reason: str | None
    order_id: int | None
    contract_ref: str | None
    study_uid: str | None


@final
@dataclass(frozen=True, slots=True)
class NoticeRecord:
    id: int
    account_id: int
    kind: str
    target: str
    created_at: datetime
    lot_id: int | None
    detail: str
    delivered_at: datetime | None
    key: str | None


@final
@dataclass(frozen=True, slots=True)
class IdempotencyKeyRecord:
    id: int
    scope: str
    key: str
    operation: str
    request_hash: str
    response: str
    created_at: datetime


# --- people ---------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    email: str
    name: str
    password_hash: str
    role: str
    account_id: int | None
    created_at: datetime
    created_by: str
    disabled_at: datetime | None
    language: str | None


@final
@dataclass(frozen=True, slots=True)
class SessionUserRecord:
    """A session with the state of its user: what authenticating a request reads."""

    session_id: int
    last_seen_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    user_id: int
    email: str
    name: str
    role: str
    account_id: int | None
    disabled_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class InvitationRecord:
    id: int
    token_hash: str
    email: str
    name: str
    role: str
    account_id: int | None
    created_at: datetime
    created_by: str
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class ResetUserRecord:
    """A password reset with its user's email and state."""

    id: int
    user_id: int
    expires_at: datetime
    used_at: datetime | None
    email: str
    disabled_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    id: int
    name: str
    token_hash: str
    role: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class AuditEntryRecord:
    """One row of the audit log (the table `audit_record`)."""

    id: int
    occurred_at: datetime
    principal: str
    role: str
    account_id: int | None
    operation: str
    arguments: str
    result: str
    request_id: str
    client_address: str | None
    correlation_id: str | None


# --- commerce -------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class PriceRecord:
    id: int
    product: str
    unit_price_fen: int
    effective_from: datetime
    set_by: str
    created_at: datetime


@final
@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: int
    number: str
    account_id: int
    channel: str
    state: str
    total_fen: int
    placed_at: datetime
    placed_by: str
    terms_accepted_at: datetime | None
    contract_ref: str | None
    paid_at: datetime | None
    fulfilled_at: datetime | None
    cancelled_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class OrderLineRecord:
    id: int
    order_id: int
    product: str
    quantity: int
    years: int | None
    institution_id: int | None
    institution_name: str | None
    variant: str | None
    starts_on: date | None
    remark: str | None
    unit_price_fen: int
    amount_fen: int


@final
@dataclass(frozen=True, slots=True)
class PaymentRecord:
    id: int
    order_id: int
    reference: str
    method: str
    amount_fen: int
    received_at: datetime
    recorded_by: str


@final
@dataclass(frozen=True, slots=True)
class AiPackRecord:
    id: int
    account_id: int
    product: str
    quantity: int
    used: int
    forfeited: int
    purchased_at: datetime
    expires_at: datetime
    swept_at: datetime | None
    order_id: int | None


@final
@dataclass(frozen=True, slots=True)
class AiReadRecord:
    id: int
    account_id: int
    institution_id: int
    product: str
    study_uid: str
    idempotency_key: str
    pack_id: int | None
    licence_id: int | None
    read_at: datetime


@final
@dataclass(frozen=True, slots=True)
class AiLicenceRecord:
    id: int
    account_id: int
    institution_id: int
    product: str
    granted_at: datetime
    order_id: int | None
    reads: int


@final
@dataclass(frozen=True, slots=True)
class LicenceRecord:
    id: int
    account_id: int
    institution_id: int
    feature: str
    enabled_at: datetime
    order_id: int | None


@final
@dataclass(frozen=True, slots=True)
class ServiceContractRecord:
    id: int
    account_id: int
    institution_id: int | None
    institution_name: str
    kind: str
    variant: str | None
    remark: str
    years: int | None
    purchased_at: datetime
    use_by: datetime
    starts_on: date | None
    ends_on: date | None
    started_at: datetime | None
    accepted_at: datetime | None
    order_id: int | None
    announced_state: str | None


# --- webhooks -------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class WebhookEndpointRecord:
    id: int
    target: str
    account_id: int | None
    url: str
    description: str
    event_types: str
    enabled: bool
    secret: str
    previous_secret: str | None
    previous_valid_until: datetime | None
    created_at: datetime
    created_by: str
    deleted_at: datetime | None
    failing_since: datetime | None
    disabled_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class WebhookEventRecord:
    id: int
    key: str
    type: str
    target: str
    account_id: int | None
    notice_id: int | None
    occurred_at: datetime
    payload: str


@final
@dataclass(frozen=True, slots=True)
class WebhookDeliveryRecord:
    id: int
    event_id: int
    endpoint_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    delivered_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class WebhookAttemptRecord:
    id: int
    delivery_id: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    next_retry_at: datetime | None


@final
@dataclass(frozen=True, slots=True)
class DueDeliveryRecord:
    """A delivery the worker claimed, with what it needs to send it."""

    id: int
    attempts: int
    endpoint_id: int
    url: str
    secret: str
    previous_secret: str | None
    previous_valid_until: datetime | None
    event_key: str
    payload: str
    notice_id: int | None
    account_id: int | None
    target: str


@final
@dataclass(frozen=True, slots=True)
class WebhookDeliveryRowRecord:
    """A delivery as listed: its row with its event's type, key and body."""

    id: int
    event_id: int
    endpoint_id: int
    status: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    delivered_at: datetime | None
    event_type: str
    event_key: str
    payload: str


@final
@dataclass(frozen=True, slots=True)
class MailRecipientRecord:
    """Someone a notice is mailed to, and the language they chose (None: not yet)."""

    id: int
    email: str
    language: str | None


@final
@dataclass(frozen=True, slots=True)
class DueMailRecord:
    """A mail the worker claimed, with what it needs to send it."""

    id: int
    attempts: int
    key: str
    recipient: str
    subject: str
    body: str
    created_at: datetime
    notice_id: int | None


# --- exam reconciliation ----------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class ExamReconciliationRecord:
    id: int
    account_id: int
    institution_id: int
    ran_at: datetime
    starts_at: datetime
    ends_at: datetime
    sent: int
    matched: int
    missing_count: int
    unexpected_count: int
    missing: str
    unexpected: str
    voided: str
