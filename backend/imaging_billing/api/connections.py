"""Relay connections with keyset paging: `first` is required and capped."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import strawberry

from ..domain.errors import RuleViolation

MAX_PAGE = 100
T = TypeVar("T")


class _Keyed(Protocol):
    """A record with a primary key: what a keyset cursor is made of."""

    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=_Keyed)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    total_count: int


def page_size(first: int) -> int:
    if not 1 <= first <= MAX_PAGE:
        raise RuleViolation("PAGE_SIZE", "first")
    return first


def cursor_of(pk: int) -> str:
    return base64.urlsafe_b64encode(f"k:{pk}".encode()).decode()


def offset_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"o:{position}".encode()).decode()


# Keys are positive 64-bit integers; positions stay far below the largest OFFSET either
# database takes. A cursor is accepted only in the form this module gives out.
_MAX_KEY = 2**63 - 1
_MAX_POSITION = 2**31 - 1
_NUMBER = re.compile(r"0|[1-9][0-9]{0,18}")


def _cursor_number(after: str, prefix: str, limit: int, encode: Callable[[int], str]) -> int:
    try:
        text = base64.urlsafe_b64decode(after.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError) as error:
        raise RuleViolation("CURSOR_INVALID", "after") from error
    kind, _, number = text.partition(":")
    if kind != prefix or not _NUMBER.fullmatch(number) or int(number) > limit:
        raise RuleViolation("CURSOR_INVALID", "after")
    if encode(int(number)) != after:
        raise RuleViolation("CURSOR_INVALID", "after")
    return int(number)


def after_pk(after: str | None) -> int | None:
    if after is None:
        return None
    return _cursor_number(after, "k", _MAX_KEY, cursor_of)


def after_offset(after: str | None) -> int:
    """For lists sorted by something other than id: the cursor is a position."""
    if after is None:
        return 0
    return _cursor_number(after, "o", _MAX_POSITION, offset_cursor) + 1


# A jump to a numbered page skips rows with OFFSET, which the database walks: bounded so
# that one request cannot make it walk a whole table (1,000 pages of 100).
MAX_JUMP = 100_000


@dataclass(frozen=True)
class Start:
    """Where a keyset list resumes: after a key, or at a position (a numbered page)."""

    after_pk: int | None = None
    offset: int = 0


def start_of(after: str | None) -> Start:
    """Keyset lists take their own cursors, and position cursors (`offset_cursor(n)`:
    the row before the page) so a console can jump to page N; the edges they answer
    carry keyset cursors again, so paging on from there is keyset paging."""
    if after is None:
        return Start()
    try:
        text = base64.urlsafe_b64decode(after.encode("ascii")).decode("ascii")
    except (ValueError, UnicodeError) as error:
        raise RuleViolation("CURSOR_INVALID", "after") from error
    if not text.startswith("o:"):
        return Start(after_pk=after_pk(after))
    position = after_offset(after)
    if position > MAX_JUMP:
        raise RuleViolation("PAGE_JUMP_TOO_FAR", "after", {"limit": MAX_JUMP})
    return Start(offset=position)


def build(
    rows: Sequence[R],
    first: int,
    total: int,
    node: Callable[[R], T],
    *,
    offset: int | None = None,
) -> Connection[T]:
    """`rows` were fetched with limit first + 1, so one extra row means another page.
    With `offset` (the position of rows[0]) cursors are positions instead of keys."""
    page = list(rows[:first])
    edges = [
        Edge(
            cursor=cursor_of(row.id) if offset is None else offset_cursor(offset + index),
            node=node(row),
        )
        for index, row in enumerate(page)
    ]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=len(rows) > first,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        total_count=total,
    )
