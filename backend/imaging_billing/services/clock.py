"""Injected time. Services ask a clock; tests move a ManualClock instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


class OffsetClock:
    """Tests of live server processes: the system clock plus the seconds written in a
    file the test moves (re-read at most every `every` seconds; absent or empty: 0)."""

    def __init__(self, path: Path, every: float = 0.05) -> None:
        self.path = path
        self.every = every
        self._offset = timedelta()
        self._read_at = float("-inf")

    def now(self) -> datetime:
        tick = time.monotonic()
        if tick - self._read_at >= self.every:
            self._read_at = tick
            try:
                self._offset = timedelta(seconds=float(self.path.read_text() or 0))
            except OSError:
                self._offset = timedelta()
            except ValueError:
                pass  # written halfway: keep the last offset read
        return datetime.now(UTC) + self._offset


def configured(offset_file: Path | None) -> Clock:
    """The clock a process runs on: the system's, moved by `CLOCK_OFFSET_FILE` where it is
    set (servers and the command line alike, so a test moves them together)."""
    return OffsetClock(offset_file) if offset_file is not None else SystemClock()
