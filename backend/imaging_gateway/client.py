"""Signed GraphQL calls of one institution to the billing API (standard library only).

Errors come in two kinds: `Unreachable` (no answer, a 5xx, a throttle: try again later,
nothing was recorded or the server's idempotency makes a repeat harmless) and `Refused`
(the server answered and said no: retrying the same request gets the same answer).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .signing import signed_headers

MAX_UPLOAD_BATCH = 1_000  # the server's recordExamUploads limit
MAX_RECONCILE_STUDIES = 10_000  # the server's reconcileExams limit

UPLOADS = """mutation($i: ID!, $items: [ExamUploadInput!]!) {
  recordExamUploads(institutionId: $i, items: $items) {
    results { studyInstanceUid status error { code message } }
    accepted duplicates refused userErrors { code field message }
  }
}"""
PERMISSION = """query($i: ID!) { uploadPermission(institutionId: $i) {
  allowed reason suspendsAt } }"""
EXAM = """query($i: ID!, $u: String!) { exam(institutionId: $i, studyInstanceUid: $u) {
  studyInstanceUid uploadedAt storageEndsAt inArrears viewable voidedAt } }"""
RECONCILE = """mutation($i: ID!, $from: DateTime!, $to: DateTime!, $uids: [String!]!) {
  reconcileExams(institutionId: $i, startsAt: $from, endsAt: $to, studyInstanceUids: $uids) {
    reconciliation { ranAt startsAt endsAt sent matched missingCount unexpectedCount
                     missing unexpected voided }
    userErrors { code field message }
  }
}"""


class GatewayError(Exception):
    """Anything the client could not do."""


class Unreachable(GatewayError):
    """No usable answer (network, 5xx, throttled): the same call may succeed later."""


class Refused(GatewayError):
    """The server answered no; `code` is its rule code (e.g. `R_ARR_3_SUSPENDED`)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code


@dataclass(frozen=True)
class UploadResult:
    study_uid: str
    status: str  # ACCEPTED, DUPLICATE or REFUSED
    error_code: str | None = None


@dataclass(frozen=True)
class Permission:
    allowed: bool
    reason: str | None
    suspends_at: str | None


@dataclass(frozen=True)
class ExamState:
    study_uid: str
    uploaded_at: str
    storage_ends_at: str | None
    in_arrears: bool
    viewable: bool
    voided_at: str | None


@dataclass(frozen=True)
class Reconciliation:
    starts_at: str
    ends_at: str
    sent: int
    matched: int
    missing: list[str]  # the ledger lacks them: report them again
    unexpected: list[str]  # the ledger has them, this gateway did not list them
    voided: list[str]  # the ledger holds them voided: for an operator, not re-reported


def iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed (UTC)")
    return moment.isoformat()


class GatewayClient:
    """One institution's signed calls. `wall_clock` gives the signature's timestamp (the
    server refuses one more than 5 minutes off its own clock)."""

    def __init__(
        self,
        base_url: str,
        institution_id: str,
        token: str,
        *,
        timeout: float = 30.0,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url.rstrip("/") + "/graphql")
        self.url = urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
        self.path = parts.path
        self.institution_id = institution_id
        self._token = token
        self.timeout = timeout
        self.wall_clock = wall_clock

    # --- the calls ---------------------------------------------------------------------

    def record_uploads(self, items: Sequence[tuple[str, datetime | None]]) -> list[UploadResult]:
        """Report uploads (study UID, upload time or None for the server's now), in
        batches of 1,000; one result per item, in order."""
        results: list[UploadResult] = []
        for start in range(0, len(items), MAX_UPLOAD_BATCH):
            batch = items[start : start + MAX_UPLOAD_BATCH]
            payload = [
                {"studyInstanceUid": uid, **({"uploadedAt": iso(at)} if at else {})}
                for uid, at in batch
            ]
            data = self.call(UPLOADS, {"i": self.institution_id, "items": payload})
            answer = _payload(data, "recordExamUploads")
            results += [
                UploadResult(r["studyInstanceUid"], r["status"], (r.get("error") or {}).get("code"))
                for r in answer["results"]
            ]
        return results

    def upload_permission(self) -> Permission:
        data = self.call(PERMISSION, {"i": self.institution_id})["uploadPermission"]
        return Permission(data["allowed"], data["reason"], data["suspendsAt"])

    def exam(self, study_uid: str) -> ExamState | None:
        """The ledger's exam of a study, `viewable` saying whether it may still be shown
        (R-EXAM-5); None when the ledger does not know the study."""
        data = self.call(EXAM, {"i": self.institution_id, "u": study_uid})["exam"]
        if data is None:
            return None
        return ExamState(
            data["studyInstanceUid"],
            data["uploadedAt"],
            data["storageEndsAt"],
            data["inArrears"],
            data["viewable"],
            data["voidedAt"],
        )

    def reconcile(
        self, starts_at: datetime, ends_at: datetime, study_uids: Sequence[str]
    ) -> Reconciliation:
        """One call: the studies stored from `starts_at` (included) to `ends_at`
        (excluded), at most 10,000 (see `Reporter.reconcile` for windows holding more)."""
        if len(study_uids) > MAX_RECONCILE_STUDIES:
            raise ValueError(f"at most {MAX_RECONCILE_STUDIES} studies per call")
        variables = {
            "i": self.institution_id,
            "from": iso(starts_at),
            "to": iso(ends_at),
            "uids": list(study_uids),
        }
        found = _payload(self.call(RECONCILE, variables), "reconcileExams")["reconciliation"]
        return Reconciliation(
            found["startsAt"],
            found["endsAt"],
            found["sent"],
            found["matched"],
            found["missing"],
            found["unexpected"],
            found["voided"],
        )

    # --- the transport -----------------------------------------------------------------

    def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """POST a signed GraphQL request; its `data`, or Unreachable / Refused."""
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = {
            "Content-Type": "application/json",
            **signed_headers(
                self._token,
                self.institution_id,
                int(self.wall_clock() * 1000),
                body,
                path=self.path,
            ),
        }
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as failed:
            raise _http_error(failed) from failed
        except (OSError, ValueError) as failed:  # refused, reset, timed out, not JSON
            raise Unreachable(str(failed)) from failed
        errors = answer.get("errors")
        if errors:
            code = (errors[0].get("extensions") or {}).get("code") or "ERROR"
            if code in ("THROTTLED", "INTERNAL"):
                raise Unreachable(code)
            raise Refused(code, errors[0].get("message", ""))
        data: dict[str, Any] = answer["data"]
        return data


def _http_error(failed: urllib.error.HTTPError) -> GatewayError:
    try:
        errors = json.loads(failed.read()).get("errors") or [{}]
        code = (errors[0].get("extensions") or {}).get("code") or f"HTTP_{failed.code}"
    except (OSError, ValueError, AttributeError):
        code = f"HTTP_{failed.code}"
    if failed.code >= 500 or failed.code == 429 or code == "THROTTLED":
        return Unreachable(code)
    return Refused(code)


def _payload(data: dict[str, Any], field: str) -> dict[str, Any]:
    payload: dict[str, Any] = data[field]
    errors = payload.get("userErrors") or []
    if errors:
        raise Refused(errors[0]["code"], errors[0].get("message", ""))
    return payload
