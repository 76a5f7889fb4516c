"""The Orthanc plugin (orthanc-python ≥ 4.0): give this file as Orthanc's "PythonScript".

Configured by the "ImagingBilling" section of Orthanc's configuration:

    "ImagingBilling": {
      "ApiUrl": "https://billing.example.cn", "InstitutionId": "…",
      "TokenFile": "/etc/orthanc/billing-token", "SpoolPath": "/var/lib/orthanc/billing.sqlite3",
      "PermissionCacheSeconds": 30, "FailOpen": true, "ViewingGuard": false
    }

REST routes it adds: `POST /billing/reconcile` (body `{"day": "2026-12-01"}` or
`{"from": ISO, "to": ISO}`, default the previous Asia/Shanghai day) and `GET /billing/status`.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # loaded by Orthanc as a script: find the package beside it
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orthanc
from imaging_gateway.pacs import BillingGateway, Settings, day_window, previous_day

PAGE = 500
# Paths that show a study's images, and how to find the study of each.
STUDY_PATH = re.compile(r"^/(studies|series|instances)/([0-9a-f-]{44})(/|$)")
DICOMWEB_PATH = re.compile(r"^/dicom-web/studies/([0-9.]+)(/|$)")


def _when(text: str) -> datetime:
    """Orthanc's `LastUpdate` (UTC, to the second)."""
    return datetime.strptime(text, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)


def _get(uri: str) -> Any:
    return json.loads(orthanc.RestApiGet(uri))


class OrthancPacs:
    def study(self, resource_id: str) -> tuple[str, datetime] | None:
        found = _get(f"/studies/{resource_id}")
        uid = found.get("MainDicomTags", {}).get("StudyInstanceUID")
        return (uid, _when(found["LastUpdate"])) if uid else None

    def has_study(self, study_uid: str) -> bool:
        found = json.loads(orthanc.RestApiPost("/tools/lookup", study_uid))
        return any(item.get("Type") == "Study" for item in found)

    def studies(self) -> Iterator[tuple[str, datetime]]:
        since = 0
        while page := _get(f"/studies?expand&since={since}&limit={PAGE}"):
            for found in page:
                uid = found.get("MainDicomTags", {}).get("StudyInstanceUID")
                if uid:
                    yield uid, _when(found["LastUpdate"])
            since += len(page)


_uids: dict[str, str] = {}  # Orthanc's resource id → Study Instance UID, for the guard


def _study_of(uri: str, get: dict[str, str]) -> str | None:
    if match := DICOMWEB_PATH.match(uri):
        return match.group(1)
    if uri.startswith("/wado") and "studyUID" in get:
        return get["studyUID"]
    match = STUDY_PATH.match(uri)
    if match is None:
        return None
    level, resource = match.group(1), match.group(2)
    if resource not in _uids:
        study = _get(f"/{level}/{resource}" + ("" if level == "studies" else "/study"))
        _uids[resource] = study["MainDicomTags"]["StudyInstanceUID"]
    return _uids[resource]


def install() -> BillingGateway | None:
    section = json.loads(orthanc.GetConfiguration()).get("ImagingBilling")
    if not section:
        orthanc.LogWarning("ImagingBilling: no configuration section, billing plugin idle")
        return None
    gateway = BillingGateway(
        Settings.from_config(section), OrthancPacs(), info=orthanc.LogInfo, warn=orthanc.LogWarning
    )

    def on_change(change_type: int, level: int, resource_id: str) -> None:
        if change_type == orthanc.ChangeType.STABLE_STUDY:
            gateway.stable_study(resource_id)
        elif change_type == orthanc.ChangeType.ORTHANC_STARTED:
            gateway.start()  # not before: Orthanc's database is not open to plugins yet
        elif change_type == orthanc.ChangeType.ORTHANC_STOPPED:
            gateway.stop()

    def on_instance(instance: Any) -> int:
        tags = json.loads(instance.GetInstanceSimplifiedJson())
        return gateway.may_store(str(tags.get("StudyInstanceUID", "")))

    def on_http(uri: str, **request: Any) -> bool:
        try:
            study = _study_of(uri, request.get("get") or {})
        except Exception:  # noqa: BLE001 - an unknown resource is Orthanc's to answer (404)
            return True
        return study is None or gateway.may_view(study)

    def reconcile_route(output: Any, uri: str, **request: Any) -> None:
        if request["method"] != "POST":
            output.SendMethodNotAllowed("POST")
            return
        try:
            asked = json.loads(request.get("body") or b"{}")
            if "from" in asked:
                window = (
                    datetime.fromisoformat(asked["from"]),
                    datetime.fromisoformat(asked["to"]),
                )
            else:
                day = asked.get("day")
                window = day_window(
                    date.fromisoformat(day) if day else previous_day(gateway.clock())
                )
            if window[0].tzinfo is None or window[1].tzinfo is None:
                raise ValueError("times need an offset")
        except (ValueError, KeyError, TypeError):
            output.SendHttpStatusCode(400)
            return
        output.AnswerBuffer(json.dumps(gateway.reconcile(*window)), "application/json")

    def status_route(output: Any, uri: str, **request: Any) -> None:
        status = {
            "spool": gateway.spool.counts(),
            "uploadsPermitted": gateway.permission.current(),
            "permissionError": gateway.permission.last_error,
            "reportCalls": gateway.report_calls,
        }
        output.AnswerBuffer(json.dumps(status), "application/json")

    orthanc.RegisterOnChangeCallback(on_change)
    orthanc.RegisterIncomingCStoreInstanceFilter(on_instance)
    if gateway.settings.viewing_guard:
        orthanc.RegisterIncomingHttpRequestFilter(on_http)
    orthanc.RegisterRestCallback("/billing/reconcile", reconcile_route)
    orthanc.RegisterRestCallback("/billing/status", status_route)
    return gateway


if __package__ in (None, ""):
    GATEWAY = install()
