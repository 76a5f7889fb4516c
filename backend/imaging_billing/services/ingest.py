"""A gateway reports uploads of its own institution (R-EXAM-4, R-ARR-1/3): the hot path.

The way of an upload: `record_exam_uploads` checks the caller and the batch, then
hands the request to the group commit (`group_commit.py`), which records it with
the other requests waiting in one transaction: per account, idempotency keys
(`idempotency.once_each`), then allocation from the lots, arrears and the ledger
(`steps/uploads.py`), then the repositories.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..domain.errors import RuleViolation
from . import idempotency
from .group_commit import GroupCommit, PendingAudit
from .principals import Principal
from .steps.uploads import UploadItem, UploadOutcome, UploadRequest, UploadStatus

__all__ = [
    "MAX_BATCH",
    "PendingAudit",
    "RecordedUploads",
    "UploadOutcome",
    "UploadStatus",
    "record_exam_uploads",
]

MAX_BATCH = 1_000


@dataclass(frozen=True)
class RecordedUploads:
    """The committed answer to an upload request: one outcome per item, or the refusal
    of the whole request (`refused`: its idempotency key was used for another one)."""

    outcomes: list[UploadOutcome]
    refused: RuleViolation | None
    # The audit record handed in was committed with the uploads: the caller must not
    # write it again.
    audited: bool


async def record_exam_uploads(
    commit: GroupCommit,
    principal: Principal,
    *,
    institution_id: int,
    items: list[tuple[str, datetime | None]],
    idempotency_key: str | None,
    operation: str,
    audit: PendingAudit | None = None,
) -> RecordedUploads:
    """Record uploads (study UID, reported upload time) of the caller's institution.

    A refusal before anything is queued raises, and `audit` stays the caller's to
    write; so does an unexpected failure, after which nothing was committed."""
    if principal.institution_id is None:
        raise RuleViolation("FORBIDDEN")
    if principal.institution_id != institution_id or principal.account_id is None:
        raise RuleViolation("INSTITUTION_NOT_FOUND", "institutionId")
    if len(items) > MAX_BATCH:
        raise RuleViolation("BATCH_TOO_LARGE", "items", {"limit": MAX_BATCH})
    request = UploadRequest(
        account_id=principal.account_id,
        items=[UploadItem(institution_id, uid, at) for uid, at in items],
        scope=principal.actor,
        operation=operation,
        key=idempotency.check_key(idempotency_key),
    )
    answer = await commit.submit(request, audit)
    if isinstance(answer, RuleViolation):
        return RecordedUploads([], answer, audited=audit is not None)
    return RecordedUploads(answer, None, audited=audit is not None)
