"""Exam reconciliation (检查数据对账): a gateway's studies of a window against the ledger.

The gateway calls it (signed, for its own institution); the run is recorded whatever it
finds, so an operator sees when the two last agreed. Nothing in the ledger changes: the
gateway re-reports what is missing, and an operator decides about what is unexpected.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..domain import reconciliation as rules
from ..domain.errors import RuleViolation
from ..store import reconciliations
from ..store.db import Database
from ..store.records import ExamReconciliationRecord
from .principals import Principal
from .queries.accounts import visible_institution
from .reader import Reader

MAX_RUNS_LISTED = 100


async def reconcile_exams(
    db: Database,
    principal: Principal,
    *,
    institution_id: int,
    starts_at: datetime,
    ends_at: datetime,
    study_uids: Sequence[str],
    now: datetime,
) -> ExamReconciliationRecord:
    if principal.institution_id is None:
        raise RuleViolation("FORBIDDEN")
    if principal.institution_id != institution_id or principal.account_id is None:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    window = rules.check_window(starts_at, ends_at)
    sent = rules.check_studies(study_uids)
    account_id = principal.account_id
    async with db.write() as conn:
        known = await reconciliations.known_uids(conn, account_id, sent)
        in_window = await reconciliations.uids_in_window(conn, institution_id, window)
        voided = {uid for uid, is_voided in known.items() if is_voided}
        differences = rules.compare(sent, known, in_window, voided)
        return await reconciliations.add_run(
            conn,
            account_id=account_id,
            institution_id=institution_id,
            window=window,
            differences=differences,
            now=now,
        )


async def runs(reader: Reader, institution_id: int, limit: int) -> list[ExamReconciliationRecord]:
    """An institution's latest runs: operators and the account's admins; to anyone else
    the institution looks unknown."""
    row = await visible_institution(reader, institution_id)
    reader.principal.require_account_admin(row.account_id, missing="INSTITUTION_NOT_FOUND")
    limit = max(1, min(limit, MAX_RUNS_LISTED))
    return await reader.run(reconciliations.runs_of_institution, institution_id, limit)
