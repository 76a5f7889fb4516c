"""Exam reconciliation (检查数据对账): a gateway's list of the studies it stored in a
window of upload time, against the exams the ledger holds for its institution.

Studies the ledger lacks are the gateway's to report again (R-EXAM-4 makes that safe);
studies the ledger holds that the gateway did not list are only flagged for an
operator: the gateway's list may be the wrong one, so nothing is voided here.

**Decision** (voided exams): a study the gateway still stores but an operator voided is
a difference too — the platform stores what nobody pays for — yet not the gateway's to
re-report (a report of it is a duplicate, R-EXAM-4, and the operator's void stands): it is
listed as `voided`, for an operator to settle with the hospital.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from .clock import require_aware
from .errors import RuleViolation
from .exams import validate_study_uid

# One call's list: large enough for a busy hospital's day, small enough to answer in one
# request; a gateway with more splits the window (the client does).
MAX_RECONCILE_STUDIES = 10_000


@dataclass(frozen=True)
class Window:
    """Upload time from `starts_at` (included) to `ends_at` (excluded)."""

    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Differences:
    sent: int
    matched: int
    missing: list[str]  # sent by the gateway, unknown to the ledger: to report again
    unexpected: list[str]  # in the ledger's window, not sent: for an operator to look at
    voided: list[str] = field(default_factory=list)  # sent, held voided: for an operator


def check_window(starts_at: datetime, ends_at: datetime) -> Window:
    starts_at = require_aware(starts_at, "startsAt")
    ends_at = require_aware(ends_at, "endsAt")
    if ends_at <= starts_at:
        raise RuleViolation("RECONCILE_WINDOW", "endsAt")
    return Window(starts_at, ends_at)


def check_studies(uids: Sequence[str]) -> list[str]:
    """The gateway's studies, each once, in the order sent; at most MAX_RECONCILE_STUDIES."""
    if len(uids) > MAX_RECONCILE_STUDIES:
        raise RuleViolation(
            "BATCH_TOO_LARGE", "studyInstanceUids", {"limit": MAX_RECONCILE_STUDIES}
        )
    return list(dict.fromkeys(validate_study_uid(u, "studyInstanceUids") for u in uids))


def compare(
    sent: Sequence[str],
    known: Collection[str],
    in_window: Collection[str],
    voided: Collection[str] = (),
) -> Differences:
    """`known`: the sent studies the ledger holds, at any upload time (a study reported
    late, at the server's clock, is still known), voided ones included; `voided`: those
    of them an operator voided; `in_window`: the ledger's studies of the institution
    uploaded inside the window, voided ones left out."""
    listed = set(sent)
    missing = [uid for uid in sent if uid not in known]
    held_voided = [uid for uid in sent if uid in known and uid in voided]
    unexpected = sorted(uid for uid in in_window if uid not in listed)
    matched = len(sent) - len(missing) - len(held_voided)
    return Differences(len(sent), matched, missing, unexpected, held_voided)
