"""A billing gateway client for imaging archives (PACS): standard library only.

    client = GatewayClient("https://billing.example.cn", institution_id, token)
    reporter = Reporter(client, Spool("/var/lib/orthanc/billing-spool.sqlite3"))
    reporter.spool_study(study_uid)          # when the PACS has stored a study
    reporter.drain()                         # or reporter.start() for a thread of its own
    client.upload_permission().allowed       # R-ARR-3: may new studies be taken?
    client.exam(study_uid).viewable          # R-EXAM-5: may it still be shown?
    reporter.reconcile(day_start, day_end)   # 检查数据对账, re-reports what the ledger lacks

It imports nothing outside the standard library, so it runs inside a PACS's embedded
Python (Orthanc's Python plugin) as well as in a process of its own.
"""

from .client import (
    ExamState,
    GatewayClient,
    GatewayError,
    Permission,
    Reconciliation,
    Refused,
    Unreachable,
    UploadResult,
)
from .permission import PermissionCache
from .reporter import DrainReport, ReconcileReport, Reporter, pages
from .signing import signature, signed_headers
from .spool import Backoff, Spool, Spooled

__all__ = [
    "Backoff",
    "DrainReport",
    "ExamState",
    "GatewayClient",
    "GatewayError",
    "Permission",
    "PermissionCache",
    "ReconcileReport",
    "Reconciliation",
    "Refused",
    "Reporter",
    "Spool",
    "Spooled",
    "Unreachable",
    "UploadResult",
    "pages",
    "signature",
    "signed_headers",
]
