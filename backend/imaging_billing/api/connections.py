"""Relay connections with keyset paging: `first` is required and capped."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import strawberry

from ..domain.errors import RuleViolation

MAX_PAGE = 100
T = TypeVar("T")


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


def after_pk(after: str | None) -> int | None:
    if after is None:
        return None
    try:
        text = base64.urlsafe_b64decode(after.encode()).decode()
        prefix, pk = text.split(":", 1)
        if prefix != "k":
            raise ValueError(prefix)
        return int(pk)
    except (ValueError, UnicodeDecodeError) as error:
        raise RuleViolation("CURSOR_INVALID", "after") from error


def offset_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"o:{position}".encode()).decode()


def after_offset(after: str | None) -> int:
    """For lists sorted by something other than id: the cursor is a position."""
    if after is None:
        return 0
    try:
        prefix, position = base64.urlsafe_b64decode(after.encode()).decode().split(":", 1)
        if prefix != "o" or int(position) < 0:
            raise ValueError(prefix)
        return int(position) + 1
    except (ValueError, UnicodeDecodeError) as error:
        raise RuleViolation("CURSOR_INVALID", "after") from error


def build(
    rows: Sequence[Any],
    first: int,
    total: int,
    node: Callable[[Any], T],
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
