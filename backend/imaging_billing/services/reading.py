"""Read-side use cases: figures, permissions and look-ups shown to people and gateways."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import exams as rules
from ..domain.errors import RuleViolation
from ..store import accounts, exams, lots
from .principals import Principal


async def exam_figures(conn: AsyncConnection, account: Any, now: datetime) -> rules.ExamFigures:
    """R-EXAM-6, right at `now` whether or not the expiry sweep has run."""
    rows = await lots.account_lots(conn, account.id)
    return rules.figures([lots.to_lot(row) for row in rows], account.arrears_count, now)


async def visible_account(conn: AsyncConnection, principal: Principal, account_id: int) -> Row[Any]:
    row = await accounts.get_account(conn, account_id)
    if row is None or not principal.can_see_account(row.id):
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    return row


async def visible_institution(
    conn: AsyncConnection, principal: Principal, institution_id: int
) -> Row[Any]:
    row = await accounts.get_institution(conn, institution_id)
    if row is None or not principal.can_see_account(row.account_id):
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    return row


@dataclass(frozen=True)
class Permission:
    institution: Row[Any]
    permission: rules.UploadPermission


async def upload_permission(
    conn: AsyncConnection, principal: Principal, institution_id: int, now: datetime
) -> Permission:
    """R-ARR-5: one indexed read of the account row."""
    institution = await visible_institution(conn, principal, institution_id)
    account = await accounts.get_account(conn, institution.account_id)
    assert account is not None
    return Permission(institution, rules.upload_permission(account.arrears_since, now))


async def find_exam(
    conn: AsyncConnection, principal: Principal, institution_id: int, study_uid: str
) -> Row[Any] | None:
    institution = await visible_institution(conn, principal, institution_id)
    return await exams.by_uid(conn, institution.account_id, study_uid)
