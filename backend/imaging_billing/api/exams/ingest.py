"""Gateway mutations: uploads reported by an institution (signed calls)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NotRequired, TypedDict

import strawberry

from ...services import ingest
from ...services.ingest import UploadOutcome
from ...services.ingest import UploadStatus as Status
from .. import ids
from ..audit import committed_by_use_case, pending_audit
from ..context import Info
from ..enums import UploadStatus
from ..errors import UserError, attempt
from .types import Exam


@strawberry.input
class ExamUploadInput:
    study_instance_uid: str
    uploaded_at: datetime | None = None


class _UploadValue(TypedDict):
    """An ExamUploadInput as graphql-core coerced it (GraphQL field names)."""

    studyInstanceUid: str
    uploadedAt: NotRequired[datetime | None]


def _upload_from_input(cls: type, value: _UploadValue, _: object) -> ExamUploadInput:
    """graphql-core has already validated and parsed the item (the DateTime scalar
    included); building it directly skips Strawberry's generic per-field conversion,
    which dominated a 1,000-item batch."""
    return ExamUploadInput(
        study_instance_uid=value["studyInstanceUid"], uploaded_at=value.get("uploadedAt")
    )


# Strawberry's documented hook for building an input type's value.
ExamUploadInput.__strawberry_definition__.from_input = _upload_from_input  # type: ignore[attr-defined]


@strawberry.type
class ExamUploadResult:
    study_instance_uid: str
    status: UploadStatus
    outcome: strawberry.Private[UploadOutcome]
    lang: strawberry.Private[str]

    @strawberry.field
    def exam(self) -> Exam | None:
        row = self.outcome.exam
        return Exam.from_row(row) if row is not None else None

    @strawberry.field
    def error(self) -> UserError | None:
        error = self.outcome.error
        return UserError.of(error, self.lang) if error is not None else None


@strawberry.type
class RecordExamUploadPayload:
    status: UploadStatus | None = None
    exam: Exam | None = None
    user_errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class RecordExamUploadsPayload:
    results: list[ExamUploadResult] = strawberry.field(default_factory=list)
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0
    user_errors: list[UserError] = strawberry.field(default_factory=list)


def _institution(value: strawberry.ID) -> int:
    return ids.decode(value, "Institution", missing="INSTITUTION_NOT_FOUND", field="institutionId")


async def _record(
    info: Info,
    institution_id: strawberry.ID,
    items: list[tuple[str, datetime | None]],
    idempotency_key: str | None,
    arguments: Mapping[str, object],
) -> list[UploadOutcome]:
    """The request's audit record goes with it; the use case answers whether it
    committed the record with the uploads (then the audit trail skips the field)."""
    c = info.context
    pk = _institution(institution_id)
    audit = pending_audit(info, arguments)
    recorded = await ingest.record_exam_uploads(
        c.services.group_commit,
        c.principal,
        institution_id=pk,
        items=items,
        idempotency_key=idempotency_key,
        operation=info.field_name,
        audit=audit,
    )
    if recorded.audited:
        committed_by_use_case(info, audit)
    if recorded.refused is not None:
        raise recorded.refused
    return recorded.outcomes


@strawberry.type
class IngestMutation:
    @strawberry.mutation(description="R-EXAM-4: idempotent per Study Instance UID.")
    async def record_exam_upload(
        self,
        info: Info,
        institution_id: strawberry.ID,
        study_instance_uid: str,
        uploaded_at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> RecordExamUploadPayload:
        c = info.context
        arguments = {
            "institutionId": institution_id,
            "studyInstanceUid": study_instance_uid,
            "uploadedAt": uploaded_at,
            "idempotencyKey": idempotency_key,
        }
        items = [(study_instance_uid, uploaded_at)]
        outcomes, errors = await attempt(
            c.lang, _record(info, institution_id, items, idempotency_key, arguments)
        )
        if not outcomes:
            return RecordExamUploadPayload(user_errors=errors)
        outcome = outcomes[0]
        if outcome.error is not None:
            errors = [UserError.of(outcome.error, c.lang)]
        exam = Exam.from_row(outcome.exam) if outcome.exam is not None else None
        return RecordExamUploadPayload(status=outcome.status, exam=exam, user_errors=errors)

    @strawberry.mutation(description="Up to 1,000 uploads; one result per item, in order.")
    async def record_exam_uploads(
        self,
        info: Info,
        institution_id: strawberry.ID,
        items: list[ExamUploadInput],
        idempotency_key: str | None = None,
    ) -> RecordExamUploadsPayload:
        c = info.context
        arguments = {
            # The studies themselves are in the exams and ledger it wrote.
            "institutionId": institution_id,
            "itemCount": len(items),
            "firstStudyInstanceUid": items[0].study_instance_uid if items else None,
            "idempotencyKey": idempotency_key,
        }
        pairs = [(i.study_instance_uid, i.uploaded_at) for i in items]
        outcomes, errors = await attempt(
            c.lang, _record(info, institution_id, pairs, idempotency_key, arguments)
        )
        if outcomes is None:
            return RecordExamUploadsPayload(user_errors=errors)
        statuses = [o.status for o in outcomes]
        return RecordExamUploadsPayload(
            results=[
                ExamUploadResult(
                    study_instance_uid=o.study_uid,
                    status=o.status,
                    outcome=o,
                    lang=c.lang,
                )
                for o in outcomes
            ],
            accepted=statuses.count(Status.ACCEPTED),
            duplicates=statuses.count(Status.DUPLICATE),
            refused=statuses.count(Status.REFUSED),
        )
