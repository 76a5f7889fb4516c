"""Repositories hand out frozen records (store/records.py) built positionally
(store/fetch.py): each table's record must be its columns, in order, with their
types and nullability, and a statement whose columns drift from its record fails
instead of filling one attribute with another's value."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from imaging_billing.services import records as service_records
from imaging_billing.store import accounts, exams, records
from imaging_billing.store.access_tables import audit_record, invitation, user
from imaging_billing.store.commerce_tables import (
    ai_licence,
    ai_pack,
    ai_read,
    licence,
    order_line,
    payment,
    price,
    purchase_order,
    service_contract,
)
from imaging_billing.store.db import Database
from imaging_billing.store.fetch import ShapeMismatch, fetch_all, fetch_one
from imaging_billing.store.tables import (
    account,
    agreement,
    api_token,
    exam,
    exam_lot,
    idempotency_record,
    institution,
    ledger_entry,
    notice,
)
from imaging_billing.store.webhook_tables import (
    webhook_attempt,
    webhook_delivery,
    webhook_endpoint,
    webhook_event,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

TABLE_RECORDS: list[tuple[type, sa.Table]] = [
    (records.AccountRecord, account),
    (records.InstitutionRecord, institution),
    (records.AgreementRecord, agreement),
    (records.LotRecord, exam_lot),
    (records.ExamRecord, exam),
    (records.LedgerEntryRecord, ledger_entry),
    (records.NoticeRecord, notice),
    (records.WebhookEndpointRecord, webhook_endpoint),
    (records.WebhookEventRecord, webhook_event),
    (records.WebhookDeliveryRecord, webhook_delivery),
    (records.WebhookAttemptRecord, webhook_attempt),
    (records.IdempotencyKeyRecord, idempotency_record),
    (records.UserRecord, user),
    (records.InvitationRecord, invitation),
    (records.ApiTokenRecord, api_token),
    (records.AuditEntryRecord, audit_record),
    (records.PriceRecord, price),
    (records.OrderRecord, purchase_order),
    (records.OrderLineRecord, order_line),
    (records.PaymentRecord, payment),
    (records.AiPackRecord, ai_pack),
    (records.AiReadRecord, ai_read),
    (records.AiLicenceRecord, ai_licence),
    (records.LicenceRecord, licence),
    (records.ServiceContractRecord, service_contract),
]


def _shape(cls: type) -> list[tuple[str, type, bool]]:
    """(name, Python type, nullable) of each field, from the record's annotations."""
    hints = typing.get_type_hints(cls)
    shape = []
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        nullable = type(None) in args
        (python_type,) = [a for a in args if a is not type(None)]
        shape.append((field.name, python_type, nullable))
    return shape


def _python_type(column: sa.Column[object]) -> type:
    # Decorated types (SQLModel's AutoString, UTCDateTime) answer for their impl.
    return getattr(column.type, "impl", column.type).python_type


@pytest.mark.parametrize(("record", "table"), TABLE_RECORDS, ids=[t.name for _, t in TABLE_RECORDS])
def test_a_table_record_is_its_columns_in_order(record: type, table: sa.Table) -> None:
    # Given the table's columns, when they are compared with the record's fields,
    # then names, order, Python types and nullability all agree.
    columns = [(c.key, _python_type(c), bool(c.nullable)) for c in table.columns]
    assert _shape(record) == columns


def test_the_ledger_export_record_is_an_entry_and_its_study_uid() -> None:
    entry = _shape(records.LedgerEntryRecord)
    assert _shape(records.LedgerExportRecord) == [*entry, ("study_uid", str, True)]


def test_services_name_every_record_of_the_store() -> None:
    # api/ reads records through services/records.py only: none may be missing there.
    defined = {
        name
        for name, value in vars(records).items()
        if isinstance(value, type) and dataclasses.is_dataclass(value)
    }
    assert defined == set(service_records.__all__)
    assert all(getattr(service_records, name) is getattr(records, name) for name in defined)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


async def test_records_come_back_filled_and_frozen(db: Database) -> None:
    # Given an account with an institution and one exam,
    async with db.write() as conn:
        account_id = await accounts.insert_account(conn, name="Ward 7", now=NOW)
        institution_id = await accounts.insert_institution(
            conn, account_id=account_id, name="Clinic", token_key="k", now=NOW
        )
        inserted = await exams.insert_exams(
            conn,
            [
                {
                    "account_id": account_id,
                    "institution_id": institution_id,
                    "study_uid": "1.2.3",
                    "uploaded_at": NOW,
                    "recorded_at": NOW,
                    "lot_id": None,
                    "covered_at": None,
                    "storage_ends_at": None,
                }
            ],
        )
    # when they are read back,
    async with db.read() as conn:
        found = await accounts.get_account(conn, account_id)
        exam_row = await exams.get_exam(conn, inserted[0].id)
    # then each is its record, every attribute in its place,
    assert found == records.AccountRecord(
        id=account_id,
        name="Ward 7",
        created_at=NOW,
        arrears_count=0,
        arrears_since=None,
        suspension_noticed=False,
        low_balance_threshold=None,
        low_balance_noticed=False,
        last_lot_quantity=None,
        revision=0,  # no transaction has locked it yet
    )
    assert exam_row == inserted[0]
    assert (exam_row.study_uid, exam_row.institution_id, exam_row.uploaded_at) == (
        "1.2.3",
        institution_id,
        NOW,
    )
    # and nobody can change one.
    assert found is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.name = "changed"  # type: ignore[misc]


async def test_a_statement_whose_columns_drift_from_its_record_is_refused(db: Database) -> None:
    # Given an account, when a statement selects a record's columns in another order
    # (or too few), then building the records fails instead of swapping attributes.
    async with db.write() as conn:
        await accounts.insert_account(conn, name="Ward 7", now=NOW)
    swapped = sa.select(institution.c.token_key, institution.c.id, institution.c.previous_token_key)
    short = sa.select(account.c.id, account.c.name)
    async with db.read() as conn:
        with pytest.raises(ShapeMismatch, match="InstitutionKeysRecord"):
            await fetch_all(conn, records.InstitutionKeysRecord, swapped)
        with pytest.raises(ShapeMismatch, match="AccountRecord"):
            await fetch_one(conn, records.AccountRecord, short)
