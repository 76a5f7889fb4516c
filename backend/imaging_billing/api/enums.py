"""GraphQL enums: the domain's own enums, registered with Strawberry under their names."""

from __future__ import annotations

import strawberry

from ..domain.exams import AccountStatus, LotMode
from ..domain.ledger import LedgerType as LedgerEntryType
from ..domain.mail import Language
from ..domain.notices import NoticeKind, NoticeTarget
from ..domain.usage import RunOutReason
from ..services.ingest import UploadStatus
from ..services.principals import Role

strawberry.enum(LotMode, name="LotMode")
strawberry.enum(AccountStatus, name="AccountStatus")
strawberry.enum(LedgerEntryType, name="LedgerEntryType")
strawberry.enum(NoticeKind, name="NoticeKind")
strawberry.enum(NoticeTarget, name="NoticeTarget")
strawberry.enum(UploadStatus, name="UploadStatus")
strawberry.enum(Role, name="Role")
strawberry.enum(RunOutReason, name="RunOutReason")
strawberry.enum(
    Language,
    name="Language",
    description="A console language: ZH_CN `zh-CN`, EN `en`.",
)

__all__ = [
    "AccountStatus",
    "Language",
    "LedgerEntryType",
    "LotMode",
    "NoticeKind",
    "NoticeTarget",
    "Role",
    "RunOutReason",
    "UploadStatus",
]
