"""The PACS side's pure pieces: Asia/Shanghai days as UTC windows, and the configuration."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from imaging_gateway.pacs import Settings, day_window, previous_day


def test_a_shanghai_day_is_16_00_to_16_00_utc() -> None:
    assert day_window(date(2026, 12, 1)) == (
        datetime(2026, 11, 30, 16, tzinfo=UTC),
        datetime(2026, 12, 1, 16, tzinfo=UTC),
    )


def test_the_previous_day_is_counted_in_shanghai() -> None:
    # 15:59 UTC is 23:59 in Shanghai, 16:00 UTC already the next day there
    assert previous_day(datetime(2026, 12, 2, 15, 59, tzinfo=UTC)) == date(2026, 12, 1)
    assert previous_day(datetime(2026, 12, 2, 16, 0, tzinfo=UTC)) == date(2026, 12, 2)


def test_the_configuration_reads_the_token_from_its_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("ibi_secret\n")
    section = {
        "ApiUrl": "http://127.0.0.1:8000",
        "InstitutionId": "SW5zdDox",
        "TokenFile": str(token),
        "SpoolPath": str(tmp_path / "spool.sqlite3"),
        "PermissionCacheSeconds": 5,
        "FailOpen": False,
        "RetryCapSeconds": 60,
    }
    settings = Settings.from_config(section)
    assert settings.token == "ibi_secret"
    assert (settings.permission_cache_seconds, settings.fail_open) == (5.0, False)
    assert (settings.viewing_guard, settings.reconcile_daily) == (False, True)
    assert settings.retry.cap == timedelta(seconds=60)
    with pytest.raises(ValueError, match="TokenFile"):
        Settings.from_config({k: v for k, v in section.items() if k != "TokenFile"})
