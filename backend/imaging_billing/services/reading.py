"""Read-side use cases: figures, permissions and look-ups shown to people and gateways."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain import exams as rules
from ..domain.clock import SHANGHAI, local_date
from ..domain.errors import RuleViolation
from ..domain.usage import DailyUsage, RunOut, average_daily, daily_series, run_out
from ..store import accounts, daily_counts, exams, ledger, lots
from ..store.records import AccountRecord, ExamRecord, InstitutionRecord
from .principals import Principal, Role

# R-GEN-8: what a gateway (the institution principal) may read, object by object and
# field by field. Any other field of these objects, and every other object (lots,
# ledger, orders, notices, services, people, audit, other institutions' tokens), is
# for people. The objects themselves are only its own institution, its account, and
# that institution's exams, AI licences and reads (`may_read` below).
_READS: dict[str, str] = {
    "Query": "viewer node account exam uploadPermission",
    "Viewer": "role name email account institution",
    "SessionViewer": "role name email",  # a person who logged in on a signed request
    "UploadPermission": "allowed reason suspendsAt",  # R-ARR-5
    "Exam": "id studyInstanceUid uploadedAt recordedAt coveredAt storageEndsAt voidedAt"
    " voidReason inArrears viewable",  # R-ARR-5: may it still be viewed?
    "Account": "id name aiFigures aiPacks",  # its AI figures (R-AI-5)
    "AiFigures": "product remaining bought used expired licensedInstitutions",
    "AiPack": "id product quantity used purchasedAt expiresAt expired remaining forfeited",
    "AiRead": "id product studyInstanceUid idempotencyKey readAt coveredBy institutionId",
    "AiLicence": "id product grantedAt institutionId",  # R-AI-4: reads it may draw on
    # R-LIC-5: a partner asks whether a feature is enabled for its institution.
    "Institution": "id name account aiLicences licences features featureEnabled",
    "Licence": "id feature enabledAt institutionId",
    # The answer to its own reconciliation call (the runs are listed to people only).
    "ExamReconciliation": "id ranAt startsAt endsAt sent matched missingCount"
    " unexpectedCount missing unexpected voided voidedCount",
}
GATEWAY_READS: Mapping[str, frozenset[str]] = {
    name: frozenset(fields.split()) for name, fields in _READS.items()
}


def gateway_may_read(object_name: str, field: str | None = None) -> bool:
    """R-GEN-8: may a gateway read this field of this object (or, without a field, any
    object of this kind at all)?"""
    fields = GATEWAY_READS.get(object_name)
    return fields is not None and (field is None or field in fields)


def may_read(
    principal: Principal, kind: str, *, account_id: int, institution_id: int | None = None
) -> bool:
    """May the principal see this object (`kind` as GATEWAY_READS names it), of this
    account and, when it belongs to one, of this institution? Another account's objects
    are unknown to people; a gateway sees only its kinds, of its own institution."""
    if not principal.can_see_account(account_id):
        return False
    if principal.role is not Role.INSTITUTION:
        return True
    if not gateway_may_read(kind):
        return False
    return institution_id is None or institution_id == principal.institution_id


async def exam_figures(
    conn: AsyncConnection, account: AccountRecord, now: datetime
) -> rules.ExamFigures:
    """R-EXAM-6, right at `now` whether or not the expiry sweep has run."""
    rows = await lots.account_lots(conn, account.id)
    return rules.figures([lots.to_lot(row) for row in rows], account.arrears_count, now)


async def visible_account(
    conn: AsyncConnection, principal: Principal, account_id: int
) -> AccountRecord:
    row = await accounts.get_account(conn, account_id)
    if row is None or not principal.can_see_account(row.id):
        raise RuleViolation("ACCOUNT_NOT_FOUND", "accountId")
    return row


async def visible_institution(
    conn: AsyncConnection, principal: Principal, institution_id: int
) -> InstitutionRecord:
    row = await accounts.get_institution(conn, institution_id)
    if row is None or not may_read(
        principal, "Institution", account_id=row.account_id, institution_id=row.id
    ):
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    return row


@dataclass(frozen=True)
class Permission:
    institution: InstitutionRecord
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
) -> ExamRecord | None:
    """R-EXAM-4: the account's exam by its UID; a gateway sees only its own uploads.
    A UID no upload could have is refused as such, not answered "no such exam"."""
    institution = await visible_institution(conn, principal, institution_id)
    rules.validate_study_uid(study_uid)
    row = await exams.by_uid(conn, institution.account_id, study_uid)
    if row is None or not may_read(
        principal, "Exam", account_id=row.account_id, institution_id=row.institution_id
    ):
        return None
    return row


MAX_USAGE_DAYS = 366


async def daily_usage(
    conn: AsyncConnection, account_id: int, now: datetime, days: int
) -> list[DailyUsage]:
    """Exams recorded per Shanghai day over the last `days` days, today included, voided
    ones too: read from the daily counters, so the cost follows `days`, not the history."""
    if not 1 <= days <= MAX_USAGE_DAYS:
        raise RuleViolation("USAGE_DAYS", "days", {"limit": MAX_USAGE_DAYS})
    today = local_date(now)
    first = today - timedelta(days=days - 1)
    counts = await daily_counts.uploads_per_day(conn, account_id, first, today)
    return daily_series(counts, today, days)


FORECAST_DAYS = 30


async def run_out_estimate(conn: AsyncConnection, account: AccountRecord, now: datetime) -> RunOut:
    """R-GEN-9: the lots walked in draw order at the last 30 days' pace."""
    series = await daily_usage(conn, account.id, now, FORECAST_DAYS)
    rows = await lots.account_lots(conn, account.id)
    return run_out([lots.to_lot(row) for row in rows], average_daily(series), now)


MAX_LEDGER_DAYS = 366


@dataclass(frozen=True)
class LedgerDay:
    """One Asia/Shanghai day of the ledger: entries and signed quantity per type."""

    day: date
    by_type: dict[str, tuple[int, int]]  # type -> (entries, signed quantity)


async def ledger_days(
    conn: AsyncConnection,
    account_id: int,
    *,
    types: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
) -> list[LedgerDay]:
    """The ledger summed per Shanghai day, newest first (R-GEN-6, R-GEN-7); without a
    start, the last 30 days. At most a year of days per request."""
    until = until or now
    since = since or datetime.combine(local_date(until) - timedelta(days=29), time(), SHANGHAI)
    if until - since > timedelta(days=MAX_LEDGER_DAYS):
        raise RuleViolation("DAY_RANGE", "since", {"limit": MAX_LEDGER_DAYS})
    days: dict[date, dict[str, tuple[int, int]]] = {}
    for day, type_, count, total in await ledger.day_sums(
        conn, account_id, types=types, since=since, until=until
    ):
        days.setdefault(day, {})[type_] = (count, total)
    return [LedgerDay(day, by_type) for day, by_type in days.items()]
