"""What a password must be: long enough to resist guessing, and not the obvious choice."""

from __future__ import annotations

from .errors import RuleViolation
from .text import encodable

MIN_LENGTH = 12
MAX_LENGTH = 200


def check_password(password: str, email: str) -> str:
    """The password, or the refusal naming what is wrong with it (field `password`).

    Length is counted in characters; a tab is allowed (some password managers use it)."""
    if len(password) > MAX_LENGTH:
        raise RuleViolation("PASSWORD_TOO_LONG", "password", {"limit": MAX_LENGTH})
    if not encodable(password.replace("\t", " ")):
        raise RuleViolation("PASSWORD_CHARACTERS", "password")
    if not password.strip():
        raise RuleViolation("PASSWORD_BLANK", "password")
    if len(password) < MIN_LENGTH:
        raise RuleViolation("PASSWORD_TOO_SHORT", "password", {"limit": MIN_LENGTH})
    if password.strip().casefold() == email.strip().casefold():
        raise RuleViolation("PASSWORD_IS_EMAIL", "password")
    return password
