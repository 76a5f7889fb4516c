"""The cached upload permission against the real server, up and down."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from imaging_gateway import GatewayClient, PermissionCache, Spool

from ..support.serving import LiveServer


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_the_answer_is_cached_and_the_last_one_holds_while_the_api_is_away(
    live: LiveServer, client: GatewayClient
) -> None:
    # given a cache of 30 s that has asked once
    ticks = Ticks()
    cache = PermissionCache(client, ttl_seconds=30, monotonic=ticks)
    assert cache.allowed()
    # when the server goes away
    live.stop()
    # then within the 30 s the cached answer is given without a call
    ticks.now += 29
    assert cache.allowed()
    assert cache.last_error is None
    # and after them the call fails, and the last known answer holds
    ticks.now += 2
    assert cache.allowed()
    assert cache.last_error is not None


def test_with_no_answer_yet_the_configured_default_decides(live: LiveServer) -> None:
    # given a server that is down and caches that never had an answer
    c = live.credentials
    client = GatewayClient(live.base, c["institutionId"], c["institutionToken"], timeout=5)
    live.stop()
    # when each is asked, then fail-open says yes, fail-closed no
    assert PermissionCache(client).allowed()
    assert not PermissionCache(client, fail_open=False).allowed()


def test_the_spool_knows_the_studies_already_accepted(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.sqlite3")
    spool.add("1.2.3", datetime.now(UTC))
    assert spool.contains("1.2.3")
    assert not spool.contains("1.2.4")
    spool.close()
