"""Free text people type (names, reasons, references): what is accepted and stored as is."""

from __future__ import annotations

from .errors import RuleViolation


def storable(value: str) -> bool:
    """Valid Unicode with no control characters (a lone surrogate or NUL cannot be stored)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 or ord(c) == 127 for c in value)


def clean_text(value: str, field: str, *, code: str, limit: int) -> str:
    """Trimmed text of 1..limit storable characters, else the rule's refusal."""
    value = value.strip()
    if not value or len(value) > limit or not storable(value):
        raise RuleViolation(code, field)
    return value
