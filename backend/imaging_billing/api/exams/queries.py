"""What a gateway asks before and after an upload (R-EXAM-4/5, R-ARR-5)."""

from __future__ import annotations

import strawberry

from ...services.queries import exams as reads
from .. import ids
from ..context import Info
from .types import Exam, UploadPermission


def _institution(value: strawberry.ID) -> int:
    return ids.decode(value, "Institution", missing="INSTITUTION_NOT_FOUND", field="institutionId")


@strawberry.type
class ExamQuery:
    @strawberry.field(description="R-EXAM-4/5: an exam by its Study Instance UID.")
    async def exam(
        self, info: Info, institution_id: strawberry.ID, study_instance_uid: str
    ) -> Exam | None:
        row = await reads.find_exam(
            info.context.reader, _institution(institution_id), study_instance_uid
        )
        return Exam.from_row(row) if row is not None else None

    @strawberry.field(description="R-ARR-5: may this institution upload now?")
    async def upload_permission(
        self, info: Info, institution_id: strawberry.ID
    ) -> UploadPermission:
        p = await reads.upload_permission(
            info.context.reader, _institution(institution_id), info.context.now()
        )
        return UploadPermission(allowed=p.allowed, reason=p.reason, suspends_at=p.suspends_at)
