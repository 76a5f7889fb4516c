"""Anonymous cost budgets (issue 9, §2): every anonymous caller once shared one bucket
(`anonymous:0`), so one client that kept it empty had other people's logins THROTTLED.
Anonymous buckets are per client address."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from imaging_billing.api import cost
from imaging_billing.api.context import Services
from imaging_billing.app import create_app
from imaging_billing.config import Settings

LOGIN = (
    'mutation { login(email: "person{n}@example.cn", password: "wrong password")'
    " { userErrors { code } } }"
)
TYPENAME = "{ __typename }"


@pytest.fixture
async def from_address(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Callable[[str], httpx.AsyncClient]]:
    """Clients of one app, each from its own address; people's buckets hold 20 points and
    refill slowly enough that no test sees them refill."""
    monkeypatch.setattr(cost, "PEOPLE", cost.Limits(capacity=20.0, rate=1e-9))
    settings = Settings(sweep_interval_seconds=0, console_dir=tmp_path / "no-console")
    app = create_app(settings, services)
    opened: list[httpx.AsyncClient] = []

    def open_client(address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 40_000))
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        await client.aclose()


async def _post(client: httpx.AsyncClient, query: str) -> httpx.Response:
    body = json.dumps({"query": query})
    return await client.post("/graphql", content=body, headers={"content-type": "application/json"})


def _throttled(response: httpx.Response) -> bool:
    errors = response.json().get("errors") or []
    return any(e.get("extensions", {}).get("code") == "THROTTLED" for e in errors)


async def test_one_address_emptying_its_bucket_does_not_throttle_other_peoples_logins(
    from_address: Callable[[str], httpx.AsyncClient],
) -> None:
    # given one anonymous client that spends its whole bucket
    greedy = from_address("203.0.113.7")
    answers = [await _post(greedy, TYPENAME) for _ in range(21)]
    assert not any(_throttled(a) for a in answers[:20])
    assert _throttled(answers[20])
    # when eight other people log in, each from their own address
    logins = [
        await _post(from_address(f"198.51.100.{n}"), LOGIN.replace("{n}", str(n)))
        for n in range(1, 9)
    ]
    # then every login is answered (a wrong password here), none THROTTLED
    assert [_throttled(r) for r in logins] == [False] * 8
    codes = [r.json()["data"]["login"]["userErrors"][0]["code"] for r in logins]
    assert codes == ["LOGIN_FAILED"] * 8
    # and the greedy client's own bucket is still empty
    assert _throttled(await _post(greedy, TYPENAME))


def test_a_scaled_budget_holds_and_refills_in_proportion() -> None:
    from imaging_billing.api.cost import PEOPLE, Budgets

    # given budgets scaled by 3
    budgets = Budgets(3.0)
    # then one bucket holds three times the points, and is refused past them
    assert budgets.limits(PEOPLE).capacity == 3 * PEOPLE.capacity
    assert budgets.limits(PEOPLE).rate == 3 * PEOPLE.rate
    allowed, left = budgets.take("user:1", 3 * PEOPLE.capacity - 10, PEOPLE)
    assert allowed
    assert left < 11
    again, _ = budgets.take("user:1", 1_000, PEOPLE)
    assert not again
