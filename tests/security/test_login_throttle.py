"""Issue 9 §2: the login throttle cannot be raced. An attempt is counted before its
password is verified, in one transaction under the email's and the address's lock, so of
N parallel attempts only those within the limit reach argon2 (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from imaging_billing.api.context import Services

from . import people_support as support
from .people_support import (
    LOGIN,
    PASSWORD,
    Browser,
    CountingHasher,
    given_people,
)

# fixtures
browsers = support.browsers
hasher = support.hasher


def _code(answer: dict[str, object]) -> str:
    login = answer["login"]
    assert isinstance(login, dict)
    return str(login["userErrors"][0]["code"])


async def test_twelve_parallel_wrong_passwords_for_one_email_verify_at_most_five(
    services: Services, browsers: Callable[..., Browser], hasher: CountingHasher
) -> None:
    # given a person, and an attacker with twelve addresses
    people = await given_people(services)
    attempts = [
        browsers(f"10.9.0.{n}").data(LOGIN, {"e": people.admin, "p": f"guess number {n}"})
        for n in range(12)
    ]
    # when twelve wrong passwords for her email arrive at once
    answers = await asyncio.gather(*attempts)
    # then only five passwords were checked (the limit), the other seven throttled
    assert len(hasher.verified) == 5
    codes = sorted(_code(answer) for answer in answers)
    assert codes == ["LOGIN_FAILED"] * 5 + ["LOGIN_THROTTLED"] * 7
    # and even her right password is throttled now, unchecked
    late = await browsers("10.9.1.1").login(people.admin, PASSWORD)
    assert late["userErrors"][0]["code"] == "LOGIN_THROTTLED"
    assert len(hasher.verified) == 5


async def test_parallel_guesses_from_one_address_verify_at_most_twenty(
    services: Services, browsers: Callable[..., Browser], hasher: CountingHasher
) -> None:
    # given one address guessing 24 different emails at once
    attempts = [
        browsers("203.0.113.9").data(LOGIN, {"e": f"u{n}@nowhere.example.cn", "p": "guess guess"})
        for n in range(24)
    ]
    # when they all arrive together
    answers = await asyncio.gather(*attempts)
    # then twenty were checked (the per-address limit) and four throttled unchecked
    assert len(hasher.verified) == 20
    codes = sorted(_code(answer) for answer in answers)
    assert codes == ["LOGIN_FAILED"] * 20 + ["LOGIN_THROTTLED"] * 4


async def test_a_right_password_clears_its_own_counted_attempt(
    services: Services, browsers: Callable[..., Browser], hasher: CountingHasher
) -> None:
    # given four wrong passwords for one email
    people = await given_people(services)
    for n in range(4):
        assert (await browsers().login(people.admin, f"wrong guess {n}"))["viewer"] is None
    # when the right one comes (counted as the fifth attempt while it is verified)
    assert (await browsers().login(people.admin))["viewer"] is not None
    # then it cleared the count: five more wrong passwords are checked before the throttle
    for n in range(5):
        failed = await browsers().login(people.admin, f"wrong again {n}")
        assert failed["userErrors"][0]["code"] == "LOGIN_FAILED"
    assert (await browsers().login(people.admin))["userErrors"][0]["code"] == "LOGIN_THROTTLED"
    assert len(hasher.verified) == 10
