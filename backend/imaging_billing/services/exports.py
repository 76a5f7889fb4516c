"""Downloads for spreadsheet tools: the ledger as CSV, read in keyset batches.

A hospital's ledger runs to tens of thousands of entries; paging through the GraphQL
API spends the caller's query budget (1,060 rows took 32 requests, 21 refused). The
export reads one batch at a time on the server and hands each on as CSV text, so
neither side holds the whole ledger (R-GEN-7: the rows are the ledger's own).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from ..domain.clock import SHANGHAI
from ..domain.errors import RuleViolation
from ..domain.ledger import Cause, LedgerType
from ..store import ledger
from ..store.db import Database
from ..store.records import LedgerExportRecord
from .principals import Principal, Role
from .reading import visible_account

EXPORT_BATCH = 500
BOM = "\ufeff"

# Column titles and the words for codes, in the two languages of the console.
HEADERS = {
    "zh-CN": (
        "流水号",
        "发生时间（北京时间 UTC+8）",
        "类型",
        "数量",
        "检查 Study UID",
        "批次号",
        "原因",
        "操作者",
        "说明",
        "合同编号",
    ),
    "en": (
        "Entry",
        "Time (China Standard Time, UTC+8)",
        "Type",
        "Quantity",
        "Study Instance UID",
        "Lot",
        "Cause",
        "Actor",
        "Reason",
        "Contract reference",
    ),
}
TYPE_WORDS = {
    "zh-CN": {
        "PURCHASE": "购买",
        "CONSUMPTION": "消耗",
        "ARREARS": "欠费",
        "SETTLEMENT": "欠费结清",
        "EXPIRY": "过期作废",
        "VOID": "作废检查",
        "ADJUSTMENT": "调整",
    },
    "en": {
        "PURCHASE": "Purchase",
        "CONSUMPTION": "Consumption",
        "ARREARS": "Arrears",
        "SETTLEMENT": "Settlement",
        "EXPIRY": "Expiry",
        "VOID": "Void",
        "ADJUSTMENT": "Adjustment",
    },
}
CAUSE_WORDS = {
    "zh-CN": {"EXAM": "检查上传", "ORDER": "订单", "OPERATOR": "运营人员", "SWEEP": "到期清理"},
    "en": {
        "EXAM": "Exam upload",
        "ORDER": "Order",
        "OPERATOR": "Operator",
        "SWEEP": "Expiry sweep",
    },
}
assert set(TYPE_WORDS["en"]) == {t.value for t in LedgerType}
assert set(CAUSE_WORDS["en"]) == {c.value for c in Cause}


@dataclass(frozen=True)
class LedgerExport:
    account_id: int
    types: Sequence[str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    lang: str = "zh-CN"


def csv_cell(value: object) -> str:
    """RFC 4180 quoting; text a spreadsheet would run as a formula is prefixed with '."""
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    if any(c in text for c in '",\r\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def csv_line(cells: Sequence[object]) -> str:
    return ",".join(csv_cell(c) for c in cells) + "\r\n"


def shanghai_time(moment: datetime) -> str:
    """R-GEN-6: shown in Asia/Shanghai; the header names the zone."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


def entry_cells(row: LedgerExportRecord, lang: str) -> tuple[object, ...]:
    return (
        row.id,
        shanghai_time(row.occurred_at),
        TYPE_WORDS[lang].get(row.type, row.type),
        row.quantity,
        row.study_uid,
        row.lot_id,
        CAUSE_WORDS[lang].get(row.cause, row.cause),
        row.actor,
        row.reason,
        row.contract_ref,
    )


async def open_ledger_export(
    db: Database, principal: Principal, export: LedgerExport
) -> AsyncIterator[str]:
    """Authorise first (refusals happen before a byte is sent), then the CSV text:
    a BOM and the header, then one chunk per keyset batch, newest entry first.

    Scoped like the `ledger` field: people of the account and operators; another
    account's ledger is unknown (ACCOUNT_NOT_FOUND); a gateway never reads the
    ledger (R-GEN-8)."""
    if principal.role is Role.INSTITUTION:
        raise RuleViolation("FORBIDDEN")
    async with db.read() as conn:
        await visible_account(conn, principal, export.account_id)
    return _ledger_chunks(db, export)


async def _ledger_chunks(db: Database, export: LedgerExport) -> AsyncIterator[str]:
    yield BOM + csv_line(HEADERS[export.lang])
    before: int | None = None
    while True:
        # A short read transaction per batch: nothing is held while the client reads.
        async with db.read() as conn:
            rows = await ledger.export_batch(
                conn,
                export.account_id,
                before_id=before,
                limit=EXPORT_BATCH,
                types=export.types,
                since=export.since,
                until=export.until,
            )
        if not rows:
            return
        yield "".join(csv_line(entry_cells(row, export.lang)) for row in rows)
        if len(rows) < EXPORT_BATCH:
            return
        before = rows[-1].id
