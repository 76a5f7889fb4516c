"""Demo data loaded on the first start of `make run`."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from .domain.exams import LotMode, lot_terms
from .domain.ledger import Cause
from .services import accounts as account_cases
from .services import settlement
from .services.ingest import UploadItem, record_uploads
from .store import accounts
from .store.db import Database


async def is_empty(db: Database) -> bool:
    async with db.read() as conn:
        return await accounts.count_accounts(conn) == 0 and not await _has_tokens(conn)


async def _has_tokens(conn: Any) -> bool:
    result = await conn.exec_driver_sql("SELECT COUNT(*) FROM api_token")
    return bool(result.scalar_one())


async def load(db: Database, now: datetime) -> dict[str, str]:
    """One hospital with an agreement, a lot and some uploads; returns the credentials."""
    async with db.write() as conn:
        operator_token = await account_cases.create_operator_token(
            conn, name="demo operator", now=now
        )
        account_id = await account_cases.create_account(
            conn, name="示例人民医院 Demo Hospital", now=now
        )
        await account_cases.record_agreement(
            conn,
            account_id=account_id,
            number="HZ-2026-0001",
            signed_on=(now - timedelta(days=30)).date() if now.date() > date.min else now.date(),
            channel_partner="示例渠道 Demo Channel",
            actor="system:demo",
            now=now,
        )
        issued = await account_cases.create_institution(
            conn, account_id=account_id, name="示例人民医院本部 Main Site", now=now
        )
        await settlement.credit_exam_lot(
            conn,
            account_id=account_id,
            terms=lot_terms(LotMode.VOLUME, 10_000, None),
            now=now,
            actor="system:demo",
            cause=Cause.OPERATOR,
            contract_ref="DEMO-CONTRACT-1",
        )
        items = [
            UploadItem(issued.institution_id, f"1.2.826.0.1.3680043.2.1125.{n}")
            for n in range(1, 121)
        ]
        await record_uploads(conn, account_id, items, now)
    from .api.ids import encode

    return {
        "operatorToken": operator_token,
        "accountId": str(encode("Account", account_id)),
        "institutionId": str(encode("Institution", issued.institution_id)),
        "institutionToken": issued.token,
    }


def save(path: Path, credentials: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(credentials, indent=2, ensure_ascii=False))
    path.chmod(0o600)
