"""Debian's Orthanc with the billing plugin, fed by dcmtk's storescu, against the real
billing server: each study billed once, uploads refused while suspended (R-ARR-3), an
outage spooled and drained, reconciliation closing gaps. Real processes, no mocks; the
processes run on the wall clock, so the tests poll their state (bounded) instead of a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from imaging_gateway import GatewayClient
from imaging_gateway.pacs import DAILY_DELAY, day_window, previous_day

from ..gateway.conftest import as_operator, used_exams
from ..support.pacs import Orthanc, make_study, missing_binaries
from ..support.serving import LiveServer
from .conftest import eventually

MISSING = missing_binaries()
pytestmark = [
    pytest.mark.orthanc,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"needs Debian's {', '.join(MISSING)}: `make pacs` (as root) installs them",
    ),
]

EXAM_ID = "query($i: ID!, $u: String!) { exam(institutionId: $i, studyInstanceUid: $u) { id } }"
VOID = """mutation($id: ID!) { voidExam(examId: $id, reason: "test study sent by mistake") {
  userErrors { code } } }"""
CREDIT = """mutation($a: ID!) { creditExamLot(accountId: $a, mode: VOLUME, quantity: 10000) {
  settled userErrors { code } } }"""
RUNS = "query($i: ID!) { examReconciliations(institutionId: $i, first: 100) { startsAt } }"
FIGURES = "query($id: ID!) { account(id: $id) { examFigures { used arrears } } }"


def in_ledger(ledger: GatewayClient, *uids: str) -> bool:
    return all(ledger.exam(uid) is not None for uid in uids)


def sent(pacs: Orthanc, folder: Path, *, series: int = 2, instances: int = 2) -> str:
    uid, files = make_study(folder, series=series, instances=instances)
    done = pacs.send(files)
    assert done.returncode == 0, done.stderr
    return uid


def status(pacs: Orthanc) -> dict[str, Any]:
    found: dict[str, Any] = pacs.get("/billing/status")
    return found


def test_each_study_is_one_exam_however_often_it_is_stored(
    live: LiveServer, pacs: Orthanc, ledger: GatewayClient, studies: Path
) -> None:
    # given a study of 3 series of 3 instances stored and reported
    before = used_exams(live)
    uid_a, files_a = make_study(studies / "a", series=3, instances=3)
    assert pacs.send(files_a).returncode == 0
    eventually(lambda: in_ledger(ledger, uid_a), what="study A in the ledger")
    assert used_exams(live) == before + 1
    # when Orthanc restarts and the same study is sent again (STABLE_STUDY fires again),
    # then another study after it (its report comes after A's second announcement)
    pacs.stop()
    pacs.start()
    assert pacs.send(files_a).returncode == 0
    uid_b = sent(pacs, studies / "b")
    eventually(lambda: in_ledger(ledger, uid_b), what="study B in the ledger")
    # then each study is one exam, however many instances and announcements
    assert used_exams(live) == before + 2
    # (the spool marks B sent just after the server has recorded it)
    spooled = {"PENDING": 0, "SENT": 2, "REFUSED": 0}
    eventually(lambda: status(pacs)["spool"] == spooled, seconds=5, what="B marked sent")


def test_a_suspended_account_refuses_new_studies_but_completes_accepted_ones(
    live: LiveServer, suspended_pacs: tuple[Orthanc, dict[str, str]], studies: Path
) -> None:
    pacs, ids = suspended_pacs
    ledger = GatewayClient(live.base, ids["institutionId"], ids["token"], timeout=10)
    figures = lambda: as_operator(live, FIGURES, {"id": ids["accountId"]})["account"]  # noqa: E731
    # given a PACS whose plugin knows the account is suspended (R-ARR-3)
    eventually(lambda: status(pacs)["uploadsPermitted"] is False, what="suspension known")
    recorded = figures()["examFigures"]
    # and a study Orthanc already holds part of (stored before the suspension)
    uid_d, files_d = make_study(studies / "d", series=2, instances=2)
    first = httpx.post(f"{pacs.base}/instances", content=files_d[0].read_bytes(), timeout=30)
    assert first.status_code == 200
    # when a new study is sent
    uid_c, files_c = make_study(studies / "c", series=2, instances=2)
    refused = pacs.send(files_c)
    # then storescu fails with the refusal status and nothing is stored or recorded
    assert refused.returncode != 0
    assert "OutOfResources" in refused.stderr
    assert uid_c not in pacs.study_uids()
    # and the rest of the accepted study still stores
    completed = pacs.send(files_d[1:])
    assert completed.returncode == 0, completed.stderr
    assert len(pacs.get("/instances")) == len(files_d)
    eventually(lambda: status(pacs)["spool"]["PENDING"] == 1, what="study D spooled")
    assert ledger.exam(uid_c) is None
    assert ledger.exam(uid_d) is None  # refused for now (suspended), kept in the spool
    assert figures()["examFigures"] == recorded
    # when an operator records a lot
    credited = as_operator(live, CREDIT, {"a": ids["accountId"]})
    assert credited["creditExamLot"]["settled"] == 1
    # then within the cache period new studies are accepted, and the spooled one reported
    eventually(lambda: status(pacs)["uploadsPermitted"], seconds=10, what="permission back")
    uid_e = sent(pacs, studies / "e")
    eventually(lambda: in_ledger(ledger, uid_d, uid_e), what="D and E in the ledger")
    assert ledger.exam(uid_c) is None


def test_an_outage_is_spooled_and_reported_when_the_server_is_back(
    live: LiveServer, pacs: Orthanc, ledger: GatewayClient, studies: Path
) -> None:
    # given the billing server down
    started = _second()
    before = used_exams(live)
    live.stop()
    try:
        # when studies keep arriving
        uids = [sent(pacs, studies / str(n)) for n in range(3)]
        # then Orthanc stores them and the plugin spools them
        assert set(uids) <= pacs.study_uids()
        eventually(lambda: status(pacs)["spool"]["PENDING"] == 3, what="3 studies spooled")
    finally:
        live.start()
    # when the server is back, then every one is reported, none lost, none doubled
    eventually(lambda: in_ledger(ledger, *uids), what="spooled studies reported")
    eventually(lambda: status(pacs)["spool"]["PENDING"] == 0, what="spool drained")
    assert used_exams(live) == before + 3
    # and the window reconciles clean
    answer = pacs.post("/billing/reconcile", {"from": started.isoformat(), "to": _soon()})
    assert answer.status_code == 200, answer.text
    assert answer.json()["clean"], answer.json()


def test_reconciliation_finds_a_voided_study_and_one_stored_without_the_plugin(
    live: LiveServer, pacs: Orthanc, ledger: GatewayClient, studies: Path
) -> None:
    started = _second()
    # given a study reported, then voided by an operator
    uid_v = sent(pacs, studies / "v")
    eventually(lambda: in_ledger(ledger, uid_v), what="study V in the ledger")
    exam = as_operator(live, EXAM_ID, {"i": live.credentials["institutionId"], "u": uid_v})
    voided = as_operator(live, VOID, {"id": exam["exam"]["id"]})
    assert voided["voidExam"]["userErrors"] == []
    # and a study stored while the plugin was not loaded
    pacs.stop()
    pacs.start(plugin=False)
    uid_u = sent(pacs, studies / "u")
    eventually(lambda: pacs.stable_count() == len(pacs.study_uids()), what="U stable")
    pacs.stop()
    pacs.start()
    before = used_exams(live)
    assert ledger.exam(uid_u) is None
    # when the window is reconciled on demand
    answer = pacs.post("/billing/reconcile", {"from": started.isoformat(), "to": _soon()})
    # then both are found: the unknown one is re-reported, the voided one flagged
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert (found["foundUnspooled"], found["missing"], found["voided"]) == (1, [uid_u], [uid_v])
    assert (found["requeued"], found["reported"], found["unexpected"]) == (1, 1, [])
    assert in_ledger(ledger, uid_u)
    assert used_exams(live) == before + 1
    # and a second run finds nothing missing; the voided study stays for an operator
    again = pacs.post("/billing/reconcile", {"from": started.isoformat(), "to": _soon()}).json()
    assert (again["missing"], again["voided"], again["reported"]) == ([], [uid_v], 0)
    # and the viewing guard keeps the voided study from viewers, not the other (R-EXAM-5)
    ids = {s["MainDicomTags"]["StudyInstanceUID"]: s["ID"] for s in pacs.get("/studies?expand")}
    assert httpx.get(f"{pacs.base}/studies/{ids[uid_v]}", timeout=30).status_code == 403
    assert httpx.get(f"{pacs.base}/studies/{ids[uid_u]}", timeout=30).status_code == 200


def test_a_bad_reconcile_request_is_refused(pacs: Orthanc) -> None:
    assert pacs.post("/billing/reconcile", {"from": "yesterday"}).status_code == 400
    assert httpx.get(f"{pacs.base}/billing/reconcile", timeout=30).status_code == 405


def _second() -> datetime:
    """Now, to the second: Orthanc keeps store times to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def _soon() -> str:
    return (datetime.now(UTC) + timedelta(minutes=1)).isoformat()


def test_the_daily_run_reconciles_the_previous_shanghai_day_once(
    live: LiveServer, tmp_path: Path
) -> None:
    # given a PACS with the daily run on, that has never reconciled
    c = live.credentials
    daily = Orthanc(
        tmp_path / "daily",
        api_url=live.base,
        institution_id=c["institutionId"],
        token=c["institutionToken"],
        billing={"ReconcileDaily": True},
    )
    yesterday = previous_day(datetime.now(UTC) - DAILY_DELAY)
    state = tmp_path / "daily" / "billing-spool.sqlite3.reconciled"
    # when it starts
    daily.start()
    try:
        eventually(lambda: state.exists() and state.read_text(), what="the daily run")
    finally:
        daily.stop()
    # then it reconciled the previous Asia/Shanghai day, and the server recorded that run
    assert state.read_text() == yesterday.isoformat()
    runs = as_operator(live, RUNS, {"i": c["institutionId"]})["examReconciliations"]
    starts = {datetime.fromisoformat(r["startsAt"]) for r in runs}
    assert day_window(yesterday)[0] in starts
