"""Free text people type (names, reasons, references): what is accepted and stored as is."""

from __future__ import annotations

import unicodedata

from .errors import RuleViolation

# Zero-width (non-)joiners shape Arabic and Indic scripts and emoji sequences; every other
# formatting character (bidi overrides and isolates U+202A-U+202E, U+2066-U+2069, marks
# U+200E/U+200F/U+061C, zero-width space U+200B, BOM U+FEFF, soft hyphen …) only changes
# how the text around it looks, which lets a name show as something it is not.
_JOINERS = frozenset("\u200c\u200d")
# Cc: C0 and C1 controls and DEL; Cf: formatting; Zl/Zp: line and paragraph separators;
# Cs: lone surrogates (cannot be encoded).
_REFUSED = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def storable(value: str) -> bool:
    """Valid Unicode that shows as what it is: no control, formatting or separator
    characters (joiners aside), so a stored name cannot reorder or hide its text."""
    return not any(c not in _JOINERS and unicodedata.category(c) in _REFUSED for c in value)


def encodable(value: str) -> bool:
    """Valid UTF-8 without C0 controls or DEL: what a secret (a password) may hold.
    Secrets are never shown, so formatting characters in them mislead no one."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ord(c) < 32 or ord(c) == 127 for c in value)


def clean_text(value: str, field: str, *, code: str, limit: int) -> str:
    """Trimmed text of 1..limit storable characters, else the rule's refusal
    (`TEXT_CHARACTERS` for what cannot be shown as it is)."""
    value = value.strip()
    if not value or len(value) > limit:
        raise RuleViolation(code, field)
    if not storable(value):
        raise RuleViolation("TEXT_CHARACTERS", field)
    return value
