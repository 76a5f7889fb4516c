"""Column types shared by the tables, and the Core table of a SQLModel class."""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.type_api import _BindProcessorType, _ResultProcessorType
from sqlmodel import SQLModel

# SQLAlchemy's own storage format for SQLite DATETIME, so every row reads the same.
_SQLITE_FORMAT = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def table_of(model: type[SQLModel]) -> sa.Table:
    """The Core table of a table model: the repositories write SQL against it.
    (SQLModel does not declare `__table__` to type checkers.)"""
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    return table


def _aware_utc(value: object) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError("UTCDateTime needs an aware datetime")
    return value.astimezone(UTC)


def _sqlite_text(value: datetime | None) -> str | None:
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


def _sqlite_instant(value: str | None) -> datetime | None:
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

    def bind_processor(self, dialect: Dialect) -> _BindProcessorType[datetime] | None:
        if dialect.name == "sqlite":
            return _sqlite_text
        return super().bind_processor(dialect)

    def result_processor(
        self, dialect: Dialect, coltype: object
    ) -> _ResultProcessorType[datetime] | None:
        if dialect.name == "sqlite":
            return _sqlite_instant
        return super().result_processor(dialect, coltype)

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else _aware_utc(value)

    def process_result_value(self, value: object, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
