"""The gateway client against the real server on a loopback port: signed calls, batches,
an outage spooled and drained, reconciliation closing a gap. Times for the spool are
passed in (`now`); the server runs on the wall clock, so store times are set relative to it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imaging_gateway import GatewayClient, Refused, Reporter, Spool
from imaging_gateway.spool import PENDING, SENT

from ..support.serving import LiveServer
from .conftest import as_operator, used_exams

RUNS = """query($i: ID!) { examReconciliations(institutionId: $i) {
  sent matched missingCount unexpectedCount missing unexpected } }"""


def uid(prefix: int, n: int) -> str:
    return f"1.2.826.0.1.{prefix}.{n}"


def spool_studies(reporter: Reporter, prefix: int, count: int, base: datetime) -> list[str]:
    uids = [uid(prefix, n) for n in range(count)]
    for n, study in enumerate(uids):
        reporter.spool_study(study, base + timedelta(milliseconds=n))
    return uids


def test_batches_permission_and_viewing_through_signed_calls(
    live: LiveServer, client: GatewayClient, tmp_path: Path
) -> None:
    # given a gateway with 2,500 stored studies spooled
    reporter = Reporter(client, Spool(tmp_path / "spool.sqlite3"))
    before = used_exams(live)
    base = datetime.now(UTC) - timedelta(hours=2)
    uids = spool_studies(reporter, 1, 2_500, base)
    # when it drains the spool
    report = reporter.drain(datetime.now(UTC))
    # then three calls of at most 1,000 reported all of them, each counted once
    assert (report.calls, report.sent, report.deferred) == (3, 2_500, 0)
    assert used_exams(live) == before + 2_500
    assert reporter.spool.counts()[SENT] == 2_500
    # and the gateway may upload, and a reported study is viewable; an unknown one is not known
    assert client.upload_permission().allowed
    exam = client.exam(uids[0])
    assert exam is not None
    assert exam.viewable
    assert client.exam(uid(9, 9)) is None


def test_a_wrong_token_is_refused_and_nothing_is_marked_sent(
    live: LiveServer, tmp_path: Path
) -> None:
    # given a client with a token the server never issued
    wrong = GatewayClient(live.base, live.credentials["institutionId"], "ibi_not-the-token")
    reporter = Reporter(wrong, Spool(tmp_path / "spool.sqlite3"))
    reporter.spool_study(uid(2, 1), datetime.now(UTC) - timedelta(minutes=5))
    # when it calls
    with pytest.raises(Refused) as refused:
        wrong.upload_permission()
    report = reporter.drain(datetime.now(UTC))
    # then the server says UNAUTHENTICATED and the study stays pending
    assert refused.value.code == "UNAUTHENTICATED"
    assert report.sent == 0
    assert reporter.spool.counts()[PENDING] == 1


def test_an_outage_is_spooled_and_drained_none_lost_none_doubled(
    live: LiveServer, client: GatewayClient, tmp_path: Path
) -> None:
    # given a gateway whose billing server is down while 1,000 studies are stored
    spool_path = tmp_path / "spool.sqlite3"
    reporter = Reporter(client, Spool(spool_path))
    before = used_exams(live)
    live.stop()
    now = datetime.now(UTC)
    base = now - timedelta(hours=2)
    uids = spool_studies(reporter, 3, 1_000, base)
    # when it tries to report them
    failed = reporter.drain(now)
    # then nothing is lost: all stay pending, backed off, and are not retried at once
    assert failed.unreachable
    assert (failed.calls, failed.sent, failed.deferred) == (1, 0, 1_000)
    assert reporter.drain(now).calls == 0
    # when the gateway restarts (a new spool object on the same file) and the server is back
    reporter.spool.close()
    reporter = Reporter(client, Spool(spool_path))
    live.start()
    later = datetime.now(UTC) + timedelta(seconds=3)  # past the first back-off (2 s)
    drained = reporter.drain(later)
    # then every study is reported, in one call of 1,000, and counted once
    assert (drained.calls, drained.sent, drained.deferred) == (1, 1_000, 0)
    assert used_exams(live) == before + 1_000
    # and sending them all again (as after a crash before marking) doubles nothing
    reporter.spool.requeue(uids, later)
    again = reporter.drain(later)
    assert again.sent == 1_000
    assert used_exams(live) == before + 1_000
    # and the window reconciles clean
    report = reporter.reconcile(base, base + timedelta(hours=1), later)
    assert report.clean
    assert [(r.sent, r.matched) for r in report.runs] == [(1_000, 1_000)]


def test_reconciliation_re_reports_what_the_ledger_lacks_and_flags_the_rest(
    live: LiveServer, client: GatewayClient, tmp_path: Path
) -> None:
    # given five studies reported, two more the spool thinks sent but the ledger never got,
    # and one in the ledger the gateway has no record of
    reporter = Reporter(client, Spool(tmp_path / "spool.sqlite3"))
    base = datetime.now(UTC) - timedelta(hours=3)
    spool_studies(reporter, 4, 5, base)
    assert reporter.drain(datetime.now(UTC)).sent == 5
    lost = [uid(5, 1), uid(5, 2)]
    for n, study in enumerate(lost):
        reporter.spool.add(study, base + timedelta(minutes=1, milliseconds=n))
    reporter.spool.mark(lost, SENT, datetime.now(UTC))
    stranger = uid(6, 1)
    client.record_uploads([(stranger, base + timedelta(minutes=2))])
    before = used_exams(live)
    # when it reconciles the window
    report = reporter.reconcile(base, base + timedelta(hours=1), datetime.now(UTC))
    # then the two lost studies are re-reported and the stranger is only flagged
    assert sorted(report.missing) == lost
    assert report.unexpected == [stranger]
    assert report.requeued == 2
    assert report.drained is not None
    assert report.drained.sent == 2
    assert used_exams(live) == before + 2
    # and a second run finds nothing missing, the stranger still flagged (never voided)
    second = reporter.reconcile(base, base + timedelta(hours=1), datetime.now(UTC))
    assert second.missing == []
    assert second.unexpected == [stranger]
    exam = client.exam(stranger)
    assert exam is not None
    assert exam.voided_at is None
    # and an operator sees both runs, the latest first
    runs = as_operator(live, RUNS, {"i": live.credentials["institutionId"]})
    assert [
        (r["sent"], r["missingCount"], r["unexpectedCount"]) for r in runs["examReconciliations"]
    ] == [
        (7, 0, 1),
        (7, 2, 1),
    ]


def test_the_sending_thread_reports_a_study_as_soon_as_it_is_spooled(
    live: LiveServer, client: GatewayClient, tmp_path: Path
) -> None:
    # given a reporter running its own thread, with an interval far longer than the test
    sent = threading.Event()
    reporter = Reporter(
        client,
        Spool(tmp_path / "spool.sqlite3"),
        on_drain=lambda report: sent.set() if report.sent else None,
    )
    reporter.start(interval=3_600)
    before = used_exams(live)
    try:
        # when the PACS spools a study
        reporter.spool_study(uid(7, 1))
        # then the thread, woken, reports it (waiting on its signal, not on a timer)
        assert sent.wait(30)
    finally:
        reporter.stop()
    assert reporter.spool.counts()[SENT] == 1
    assert used_exams(live) == before + 1


def test_studies_spooled_during_an_outage_do_not_each_call_the_server(
    live: LiveServer, client: GatewayClient, tmp_path: Path
) -> None:
    # given a reporter that found the server away
    reporter = Reporter(client, Spool(tmp_path / "spool.sqlite3"))
    before = used_exams(live)
    live.stop()
    t = datetime.now(UTC)
    reporter.spool_study(uid(8, 1), t - timedelta(minutes=5))
    assert reporter.drain(t).calls == 1
    # when more studies are spooled within the back-off
    reporter.spool_study(uid(8, 2), t - timedelta(minutes=4))
    reporter.spool_study(uid(8, 3), t - timedelta(minutes=3))
    quiet = reporter.drain(t + timedelta(seconds=1))
    # then no call is made for them
    assert (quiet.calls, quiet.unreachable) == (0, True)
    # and when the server is back and the back-off over, one call reports all three
    live.start()
    drained = reporter.drain(t + timedelta(seconds=2.5))
    assert (drained.calls, drained.sent) == (1, 3)
    assert used_exams(live) == before + 3
