"""Column types shared by the tables."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# SQLAlchemy's own storage format for SQLite DATETIME, so every row reads the same.
_SQLITE_FORMAT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _aware_utc(value: Any) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("UTCDateTime needs an aware datetime")
    return value.astimezone(UTC)


def _sqlite_text(value: Any) -> str | None:
    if value is None:
        return None
    return _utc_text(value)


# A batch binds the same few instants thousands of times (its `now`, the storage end
# of a whole lot's draw): converting each distinct one once is most of the saving.
@functools.lru_cache(maxsize=4096)
def _utc_text(value: datetime) -> str:
    utc = _aware_utc(value)
    return _SQLITE_FORMAT % (
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
    )


def _sqlite_instant(value: Any) -> datetime | None:
    if value is None:
        return None
    return _utc_instant(value)


@functools.lru_cache(maxsize=4096)
def _utc_instant(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """An aware UTC instant on every backend (R-GEN-6).

    PostgreSQL keeps `timestamptz`. SQLite has no zone: the value is stored as naive
    UTC text in SQLAlchemy's DATETIME format and given its zone back when read; the
    conversion is done here in one step because a batch of 1,000 uploads binds
    thousands of instants. Naive input is a bug, refused.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_text
        return super().bind_processor(dialect)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name == "sqlite":
            return _sqlite_instant
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else _aware_utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
