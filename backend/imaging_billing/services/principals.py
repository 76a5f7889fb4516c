"""Who is calling. Every service call names its principal; scoping happens here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..domain.errors import RuleViolation


class Role(StrEnum):
    OPERATOR = "OPERATOR"  # platform staff: every account
    ACCOUNT_ADMIN = "ACCOUNT_ADMIN"  # a hospital's administrator: its own account
    ACCOUNT_VIEWER = "ACCOUNT_VIEWER"  # read-only on its own account
    INSTITUTION = "INSTITUTION"  # a gateway or partner, signed calls
    ANONYMOUS = "ANONYMOUS"  # may only log in or accept an invitation


@dataclass(frozen=True)
class Principal:
    role: Role
    id: int
    name: str
    account_id: int | None = None
    institution_id: int | None = None
    kind: str = ""  # "user", "token" or "" (then the role names it)
    email: str | None = None

    @property
    def actor(self) -> str:
        """How the ledger and audit name this principal."""
        return f"{self.kind or self.role.value.lower()}:{self.id}"

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def can_see_account(self, account_id: int) -> bool:
        if self.role is Role.ANONYMOUS:
            return False
        return self.is_operator or self.account_id == account_id

    def require_operator(self) -> None:
        if not self.is_operator:
            raise RuleViolation("FORBIDDEN")

    def require_account(self, account_id: int, *, missing: str = "ACCOUNT_NOT_FOUND") -> None:
        """Another account's objects look exactly like unknown ones."""
        if not self.can_see_account(account_id):
            raise RuleViolation(missing)

    def require_account_admin(self, account_id: int, *, missing: str = "ACCOUNT_NOT_FOUND") -> None:
        """Operators, or the account's own administrator (orders, acceptance, tokens)."""
        self.require_account(account_id, missing=missing)
        if self.role not in (Role.OPERATOR, Role.ACCOUNT_ADMIN):
            raise RuleViolation("FORBIDDEN")


ANONYMOUS = Principal(Role.ANONYMOUS, 0, "anonymous")
