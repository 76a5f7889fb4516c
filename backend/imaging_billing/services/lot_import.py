"""Offline lot purchases in bulk (the operator's CSV): every row is checked before any is
written, then all are credited in one transaction, or none.

Each row is what `credit_exam_lot` (services/lots.py) takes: the account, the mode
(R-EXAM-1), the quantity, storage years for ANNUAL lots and the contract reference; it is
credited through the same step (settling arrears first, R-ARR-4) with the same ledger
entries, so an imported lot is indistinguishable from one recorded in the console.
"""

from __future__ import annotations

import csv
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from ..domain.errors import RuleViolation
from ..domain.exams import LotMode, LotTerms, lot_terms
from ..domain.ledger import Cause
from ..store import accounts, audit
from ..store.db import Database
from .checks import check_text
from .principals import Principal
from .steps.lots import credit_lot

COLUMNS = ("account_id", "mode", "quantity", "years", "contract_ref")
REQUIRED = ("account_id", "mode", "quantity")
MAX_ROWS = 10_000


@dataclass(frozen=True)
class LotRow:
    row: int  # the file's line number, header = 1
    account_id: int
    terms: LotTerms
    contract_ref: str | None


@dataclass(frozen=True)
class Refusal:
    row: int
    code: str
    field: str | None
    message: str


@dataclass(frozen=True)
class Imported:
    credited: list[tuple[int, int]]  # (row, lot id)
    settled: int  # arrears exams the new lots covered


def read_rows(lines: Iterable[str]) -> tuple[list[LotRow], list[Refusal]]:
    """Parse and check every row against the rules (no database)."""
    reader = csv.DictReader(lines)
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        rule = RuleViolation("IMPORT_COLUMNS", None, params={"names": ", ".join(missing)})
        return [], [Refusal(1, rule.code, None, rule.message_en)]
    rows: list[LotRow] = []
    refused: list[Refusal] = []
    for number, record in enumerate(reader, start=2):
        if number - 1 > MAX_ROWS:
            rule = RuleViolation("BATCH_TOO_LARGE", None, params={"limit": MAX_ROWS})
            refused.append(Refusal(number, rule.code, None, rule.message_en))
            break
        try:
            rows.append(_row(number, record))
        except RuleViolation as rule:
            refused.append(Refusal(number, rule.code, rule.field, rule.message_en))
    return rows, refused


def _row(number: int, record: dict[str, str | None]) -> LotRow:
    def cell(name: str) -> str:
        return (record.get(name) or "").strip()

    def integer(name: str) -> int | None:
        text = cell(name)
        if not text:
            return None
        if not text.isascii() or not text.isdigit():
            raise RuleViolation("IMPORT_VALUE", name, params={"name": name})
        return int(text)

    account_id = integer("account_id")
    if account_id is None:
        raise RuleViolation("IMPORT_VALUE", "account_id", params={"name": "account_id"})
    try:
        mode = LotMode(cell("mode").upper())
    except ValueError as error:
        raise RuleViolation("IMPORT_VALUE", "mode", params={"name": "mode"}) from error
    terms = lot_terms(mode, integer("quantity") or 0, integer("years"))
    contract = cell("contract_ref")
    contract_ref = (
        check_text(contract, "contract_ref", code="R_GEN_5_CONTRACT_REQUIRED") if contract else None
    )
    return LotRow(number, account_id, terms, contract_ref)


async def import_lots(
    db: Database,
    principal: Principal,
    rows: list[LotRow],
    now: datetime,
    progress: Callable[[int], None] = lambda done: None,
) -> Imported | list[Refusal]:
    """Credit every row in one transaction; the refusals instead if any row is refused
    (an unknown account), and then nothing is written."""
    principal.require_operator()
    async with db.write() as conn:
        refused = [
            Refusal(row.row, "ACCOUNT_NOT_FOUND", "account_id", "No such account")
            for row in rows
            if await accounts.get_account(conn, row.account_id) is None
        ]
        if refused:
            return refused
        credited: list[tuple[int, int]] = []
        settled = 0
        # Accounts in id order, as the group commit locks them: no deadlock with uploads.
        for done, row in enumerate(sorted(rows, key=lambda r: (r.account_id, r.row)), start=1):
            credit = await credit_lot(
                conn,
                account_id=row.account_id,
                terms=row.terms,
                now=now,
                actor=principal.actor,
                cause=Cause.OPERATOR,
                contract_ref=row.contract_ref,
            )
            credited.append((row.row, credit.lot_id))
            settled += credit.settled
            progress(done)
        # Each lot in the audit log as the console's creditExamLot would put it there.
        await audit.append(conn, [_audited(principal, row, now) for row in rows])
    return Imported(sorted(credited), settled)


def _audited(principal: Principal, row: LotRow, now: datetime) -> dict[str, object]:
    arguments = {
        "accountId": row.account_id,
        "mode": row.terms.mode.value,
        "quantity": row.terms.quantity,
        "years": row.terms.storage_years,
        "contractRef": row.contract_ref,
        "via": f"import-lots row {row.row}",
    }
    return {
        "occurred_at": now,
        "principal": principal.actor,
        "role": principal.role.value,
        "account_id": row.account_id,
        "operation": "creditExamLot",
        "arguments": json.dumps(arguments),
        "result": "ok",
        "request_id": f"cli-{secrets.token_hex(6)}",
        "client_address": None,
    }
