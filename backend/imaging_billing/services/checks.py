"""Checks of free-text input shared by use cases, made before a transaction opens."""

from __future__ import annotations

from ..domain.text import clean_text

MAX_NAME = 200
MAX_REASON = 500


def check_text(
    value: str, field: str, *, code: str = "NAME_REQUIRED", limit: int = MAX_NAME
) -> str:
    return clean_text(value, field, code=code, limit=limit)


def check_reason(reason: str, field: str = "reason") -> str:
    """R-GEN-5: voids and adjustments say why."""
    return clean_text(reason, field, code="R_GEN_5_REASON_REQUIRED", limit=MAX_REASON)
