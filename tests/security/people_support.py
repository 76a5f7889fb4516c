"""Shared by the people tests: an argon2 hasher that counts its work, and the browsers,
people and documents of tests/api/test_access_api.py."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher

from imaging_billing.services import access

from ..api.test_access_api import (  # noqa: F401 - `browsers` is a fixture
    ACCEPT,
    INVITE,
    LOGIN,
    PASSWORD,
    VIEWER,
    Browser,
    People,
    browsers,
    error_code,
    given_people,
)


class CountingHasher(PasswordHasher):
    """argon2 as configured, counting every hash and verification (from any thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.hashed: list[int] = []
        self.verified: list[int] = []

    def hash(self, password: str | bytes, *args: Any, **kwargs: Any) -> str:
        self.hashed.append(1)
        return super().hash(password, *args, **kwargs)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:  # noqa: A002
        self.verified.append(1)
        return super().verify(hash, password)


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    counting = CountingHasher()
    monkeypatch.setattr(access, "HASHER", counting)
    return counting
