"""The spool: durable across restarts, each study once, backing off when sending fails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imaging_gateway import Backoff, Spool, Spooled, pages
from imaging_gateway.spool import PENDING, SENT

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_pending_studies_survive_a_restart_and_sent_ones_stay_sent(tmp_path: Path) -> None:
    # given a spool with three studies, one of them marked sent
    path = tmp_path / "spool.sqlite3"
    spool = Spool(path)
    for n in range(3):
        spool.add(f"1.2.{n}", T0 + timedelta(seconds=n))
    spool.mark(["1.2.0"], SENT, T0)
    # when the process stops and a new one opens the file
    spool.close()
    reopened = Spool(path)
    # then the two pending studies are due, oldest first, and the sent one is not
    assert [s.uid for s in reopened.due(T0 + timedelta(minutes=1), 10)] == ["1.2.1", "1.2.2"]
    assert reopened.counts()[SENT] == 1
    reopened.close()


def test_a_study_announced_twice_is_spooled_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    assert spool.add("1.2.3", T0)
    assert not spool.add("1.2.3", T0 + timedelta(hours=1))
    assert spool.counts()[PENDING] == 1
    spool.close()


def test_failures_back_off_exponentially_up_to_the_cap(tmp_path: Path) -> None:
    # given a spooled study and a back-off of 2 s doubling up to 30 s
    spool = Spool(tmp_path / "spool.sqlite3", Backoff(timedelta(seconds=2), timedelta(seconds=30)))
    spool.add("1.2.3", T0)
    # when sending fails five times in a row
    delays = []
    for _ in range(5):
        spool.retry_later(["1.2.3"], T0, "unreachable")
        at = spool.next_attempt_at("1.2.3")
        assert at is not None
        delays.append(int((at - T0).total_seconds()))
    # then it waits 2, 4, 8, 16 then 30 seconds, and is not due before that
    assert delays == [2, 4, 8, 16, 30]
    assert spool.due(T0 + timedelta(seconds=29), 10) == []
    assert [s.uid for s in spool.due(T0 + timedelta(seconds=30), 10)] == ["1.2.3"]
    spool.close()


def test_a_window_is_cut_into_pages_between_different_store_times() -> None:
    # given 25,000 studies, two per second, the first page's last pair straddling 10,000
    studies = [Spooled(f"1.2.{n}", T0 + timedelta(seconds=n // 2), 0) for n in range(25_001)]
    end = T0 + timedelta(days=1)
    # when they are cut into pages
    cut = pages(studies, T0, end)
    # then each page holds at most 10,000, ends where the next begins, and none is lost
    assert [len(p) for _, _, p in cut] == [10_000, 10_000, 5_001]
    assert cut[0][0] == T0
    assert cut[-1][1] == end
    assert all(cut[i][1] == cut[i + 1][0] for i in range(len(cut) - 1))
    assert all(s.stored_at < e and s.stored_at >= b for b, e, p in cut for s in p)
    assert sum(len(p) for _, _, p in cut) == len(studies)


def test_an_odd_boundary_moves_back_to_keep_one_store_time_in_one_page() -> None:
    # given 10,001 studies where the 10,000th and 10,001st share a store time
    studies = [Spooled(f"1.2.{n}", T0 + timedelta(seconds=n), 0) for n in range(9_999)]
    studies += [Spooled(f"1.3.{n}", T0 + timedelta(hours=5), 0) for n in range(2)]
    # when cut, the pair stays together in the second page
    cut = pages(studies, T0, T0 + timedelta(days=1))
    assert [len(p) for _, _, p in cut] == [9_999, 2]


def test_an_empty_window_is_still_one_call_and_a_crowded_instant_is_refused() -> None:
    assert pages([], T0, T0 + timedelta(hours=1)) == [(T0, T0 + timedelta(hours=1), [])]
    crowded = [Spooled(f"1.2.{n}", T0, 0) for n in range(10_001)]
    with pytest.raises(ValueError, match="share one store time"):
        pages(crowded, T0, T0 + timedelta(hours=1))
