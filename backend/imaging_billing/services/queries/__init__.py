"""Every read a principal may make, one module per aggregate.

Each function takes the request's `Reader` (its snapshot and its principal) and answers
only what that principal may see (R-GEN-8): another account's objects are absent, as if
unknown. api/ resolvers call these and never the repositories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of rows (asked for one more than shown, to tell whether more follow)
    and how many match in all."""

    rows: Sequence[T]
    total: int
