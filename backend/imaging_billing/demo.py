"""Demo data loaded on the first start of `make run`."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncConnection

from . import security
from .domain.exams import LotMode, lot_terms
from .domain.ledger import Cause
from .services import access
from .services.principals import Role
from .services.steps.accounts import add_account, add_agreement, add_institution, add_operator_token
from .services.steps.lots import credit_lot
from .services.steps.uploads import UploadItem, record_uploads
from .store import accounts, prices, settings
from .store.db import Database

# A plausible list price in fen (R-GEN-3): ¥1.50 per exam stored 15 years, and so on.
DEMO_PRICES: dict[str, int] = {
    "EXAM_VOLUME": 150,
    "EXAM_ANNUAL": 12,
    "AI_PACK_GLAUCOMA": 200,
    "AI_LICENCE_GLAUCOMA": 20_000_000,
    "AI_LICENCE_PNEUMONIA": 30_000_000,
    "AI_LICENCE_COLORECTAL": 30_000_000,
    "LICENCE_BASE_SUITE": 5_000_000,
    "LICENCE_THREE_D_RECONSTRUCTION": 3_000_000,
    "LICENCE_MPR": 1_500_000,
    "LICENCE_FUSION": 2_000_000,
    "LICENCE_REMOTE_DIAGNOSIS": 2_000_000,
    "LICENCE_REMOTE_CONSULTATION": 1_500_000,
    "LICENCE_REMOTE_ROUNDS": 1_000_000,
    "LICENCE_REMOTE_TEACHING": 1_000_000,
    "LICENCE_DATA_STATISTICS": 800_000,
    "LICENCE_IMAGE_QUALITY_CONTROL": 1_200_000,
    "LICENCE_LOG_AUDIT": 500_000,
    "LICENCE_MOBILE": 800_000,
    "LICENCE_API_ACCESS": 1_000_000,
    "LICENCE_GLAUCOMA_AI_SERVICE_PACK": 1_500_000,
    "SERVICE_DELIVERY": 800_000,
    "SERVICE_MAINTENANCE": 2_000_000,
    "SERVICE_CUSTOM_DEV": 5_000_000,
}


DEMO_PAYEE = {
    "name": "示例云影像科技有限公司",
    "bank": "示例银行上海张江支行",
    "accountNumber": "6222020012345678901",
}


async def is_empty(db: Database) -> bool:
    async with db.read() as conn:
        return await accounts.count_accounts(conn) == 0 and not await _has_tokens(conn)


async def _has_tokens(conn: AsyncConnection) -> bool:
    result = await conn.exec_driver_sql("SELECT COUNT(*) FROM api_token")
    return bool(result.scalar_one())


async def load(db: Database, now: datetime, keys: security.KeyBox) -> dict[str, str]:
    """One hospital with an agreement, a lot and some uploads; returns the credentials."""
    async with db.write() as conn:
        operator_token = await add_operator_token(conn, name="demo operator", now=now)
        for product, fen in DEMO_PRICES.items():
            await prices.insert_price(
                conn,
                product=product,
                unit_price_fen=fen,
                effective_from=now,
                set_by="system:demo",
                created_at=now,
            )
        # The pay step names whom to pay; a real deployment's operator sets its own.
        await settings.put_setting(conn, "payee", DEMO_PAYEE, now=now, actor="system:demo")
        account_id = await add_account(conn, name="示例人民医院 Demo Hospital", now=now)
        await add_agreement(
            conn,
            account_id=account_id,
            number="HZ-2026-0001",
            signed_on=(now - timedelta(days=30)).date(),
            channel_partner="示例渠道 Demo Channel",
            actor="system:demo",
            now=now,
        )
        issued = await add_institution(
            conn, account_id=account_id, name="示例人民医院本部 Main Site", now=now, keys=keys
        )
        await credit_lot(
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

    passwords = {role: security.new_token("demo")[:20] for role in ("operator", "admin")}
    await access.create_user(
        db,
        email="operator@demo.local",
        name="运营演示 Demo Operator",
        role=Role.OPERATOR,
        account_id=None,
        password=passwords["operator"],
        actor="system:demo",
        now=now,
    )
    await access.create_user(
        db,
        email="admin@demo.local",
        name="医院管理员 Demo Admin",
        role=Role.ACCOUNT_ADMIN,
        account_id=account_id,
        password=passwords["admin"],
        actor="system:demo",
        now=now,
    )
    return {
        "operatorEmail": "operator@demo.local",
        "operatorPassword": passwords["operator"],
        "adminEmail": "admin@demo.local",
        "adminPassword": passwords["admin"],
        "operatorToken": operator_token,
        "accountId": str(encode("Account", account_id)),
        "institutionId": str(encode("Institution", issued.institution_id)),
        "institutionToken": issued.token,
    }


def save(path: Path, credentials: dict[str, str]) -> None:
    """Readable by the operator alone, from the moment the file exists."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(json.dumps(credentials, indent=2, ensure_ascii=False))
    path.chmod(0o600)
