"""api/answers.py: a reused overview is always what computing it again would show.

Every check asks the console's overview twice at the same instant: as the console
does (reused where it may be) and with `Cache-Control: no-cache` (computed afresh);
the two must be equal. The clock is moved onto the instants where figures turn (a
lot's expiry, the suspension, Shanghai midnight, the forecast's pace) and one tick
before them, and writes come from this server and from another one on the same
database. The count of reused answers shows where reuse happened at all.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from imaging_billing.api.context import Services
from imaging_billing.api.cost import Budgets
from imaging_billing.api.ids import encode
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.domain.clock import SHANGHAI, local_date
from imaging_billing.services.clock import ManualClock

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway, make_services

OVERVIEW = (
    Path(__file__).parents[2] / "frontend" / "src" / "api" / "operations" / "overview.graphql"
).read_text()
UPLOADS = """mutation($i: ID!, $items: [ExamUploadInput!]!) {
  recordExamUploads(institutionId: $i, items: $items) { accepted } }"""
TICK = timedelta(microseconds=1)


class Console:
    """One operator asking the overview of one account, both ways."""

    def __init__(self, api: Api, services: Services, token: str, account: int) -> None:
        self.api, self.services, self.token = api, services, token
        # Asked hundreds of times in a second of real time: the query budget
        # (api/cost.py) is not what these tests are about.
        services.budgets = Budgets(scale=100)
        self.variables = {"id": str(encode("Account", account)), "days": 90}

    async def ask(self, **headers: str) -> dict[str, Any]:
        response = await self.api.raw(
            OVERVIEW, self.variables, authorization=f"Bearer {self.token}", **headers
        )
        payload = response.json()
        assert response.status_code == 200, payload
        assert "errors" not in payload, payload
        shown: dict[str, Any] = payload["data"]["account"]
        return shown

    async def check(self) -> tuple[dict[str, Any], bool]:
        """The overview as shown, and whether it was a reused answer."""
        before = self.services.answers.reused
        shown = await self.ask()
        reused = self.services.answers.reused > before
        assert shown == await self.ask(**{"cache-control": "no-cache"})
        return shown, reused


async def reused_on_metrics(api: Api) -> float:
    scraped = (await api.client.get("/metrics")).text
    (line,) = (
        x for x in scraped.splitlines() if x.startswith('ib_answers_total{outcome="reused"}')
    )
    return float(line.split()[-1])


def uploads(prefix: str, count: int) -> list[dict[str, str]]:
    return [{"studyInstanceUid": f"1.2.{prefix}.{n}"} for n in range(count)]


async def test_reused_answers_match_fresh_ones_through_expiry_arrears_and_midnight(
    services: Services, api: Api, clock: ManualClock
) -> None:
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)  # expires 2027-03-01 08:00 UTC (R-EXAM-2)
    first_expiry = clock.now().replace(year=2027)
    console = Console(api, services, await create_operator_token(services), account)

    shown, reused = await console.check()
    assert (shown["examFigures"]["available"], reused) == (10_000, False)
    clock.advance(timedelta(seconds=1))
    counted = await reused_on_metrics(api)
    shown, reused = await console.check()  # nothing changed: the last answer holds
    assert reused
    assert await reused_on_metrics(api) == counted + 1

    # a write moves the revision on: computed again
    await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": uploads("1", 300)})
    shown, reused = await console.check()
    assert (shown["examFigures"]["used"], reused) == (300, False)
    assert shown["runOut"]["averageDaily"] == 10.0  # 300 over the 30-day window

    # the forecast moves with the clock: checked minute by minute for an hour
    for _ in range(60):
        clock.advance(timedelta(minutes=1))
        await console.check()

    # Shanghai midnight: the usage window moves by a day
    midnight = datetime.combine(local_date(clock.now()) + timedelta(days=1), datetime.min.time())
    clock.set(midnight.replace(tzinfo=SHANGHAI) - TICK)
    before_midnight, _ = await console.check()
    clock.advance(TICK)
    after_midnight, reused = await console.check()
    assert not reused
    assert after_midnight["dailyUsage"][-1]["exams"] == 0
    assert after_midnight["dailyUsage"][-2] == before_midnight["dailyUsage"][-1]

    # the lot's expiry: one tick before it the lot is available, at it forfeited
    clock.set(first_expiry - TICK)
    shown, _ = await console.check()
    assert shown["examFigures"]["available"] == 9_700
    shown, reused = await console.check()
    assert reused
    clock.set(first_expiry)
    shown, reused = await console.check()
    assert not reused
    assert (shown["examFigures"]["available"], shown["examFigures"]["expired"]) == (0, 9_700)

    # arrears, then the suspension 24 h later (R-ARR-1, R-ARR-3)
    await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": uploads("2", 3)})
    shown, _ = await console.check()
    assert (shown["status"], shown["examFigures"]["arrears"]) == ("IN_ARREARS", 3)
    suspends_at = datetime.fromisoformat(shown["suspendsAt"])
    clock.set(suspends_at - TICK)
    shown, _ = await console.check()
    shown, reused = await console.check()
    assert (shown["status"], reused) == ("IN_ARREARS", True)
    clock.set(suspends_at)
    shown, reused = await console.check()
    assert (shown["status"], reused) == ("SUSPENDED", False)

    # a recharge settles the arrears (R-ARR-5)
    await credit_lot(services, account)
    shown, reused = await console.check()
    assert (shown["status"], shown["examFigures"]["available"], reused) == (
        "ACTIVE",
        10_000 - 3,
        False,
    )


async def test_a_write_through_another_server_is_seen_at_once(
    services: Services, api: Api, clock: ManualClock, database_url: str, tmp_path: Path
) -> None:
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    console = Console(api, services, await create_operator_token(services), account)
    await console.check()
    shown, reused = await console.check()
    assert (shown["examFigures"]["used"], reused) == (0, True)

    other = make_services(database_url, clock)
    settings = Settings(sweep_interval_seconds=0, console_dir=tmp_path / "no-console")
    transport = httpx.ASGITransport(app=create_app(settings, other))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://other") as client:
            await Api(client, clock).gateway(
                gateway, UPLOADS, {"i": gateway.id, "items": uploads("3", 7)}
            )
    finally:
        await other.group_commit.close()
        await other.db.dispose()

    shown, reused = await console.check()
    assert (shown["examFigures"]["used"], reused) == (7, False)


async def test_an_answer_is_reused_only_for_the_principal_it_was_made_for(
    services: Services, api: Api
) -> None:
    account = await create_account(services, name="First")
    await credit_lot(services, account)
    other_account = await create_account(services, name="Second")
    stranger: Gateway = await create_institution(services, other_account)
    console = Console(api, services, await create_operator_token(services), account)
    await console.check()

    # another account's gateway asks the same text with the same variables
    before = services.answers.reused
    body = await api.client.post(
        "/graphql",
        content=(payload := _body(console.variables)),
        headers=stranger.headers(payload, api.clock.now()),
    )
    answer = body.json()
    assert answer["data"] in (None, {"account": None})
    assert "First" not in body.text
    # and a second operator token gets its own answer, not the first one's
    second = Console(api, services, await create_operator_token(services, name="b"), account)
    await second.ask()
    assert services.answers.reused == before


async def test_queries_with_other_fields_and_mutations_are_never_kept(
    services: Services, api: Api
) -> None:
    account = await create_account(services)
    gateway = await create_institution(services, account)
    await credit_lot(services, account)
    token = await create_operator_token(services)
    with_exams = """query($id: ID!) { account(id: $id) {
      examFigures { used } exams(first: 5) { totalCount } } }"""
    variables = {"id": str(encode("Account", account))}
    for _ in range(3):
        await api.operator(token, with_exams, variables)
        await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": uploads(str(4 + _), 1)})
    assert len(services.answers) == 0
    assert services.answers.reused == 0


def _body(variables: dict[str, Any]) -> bytes:
    return json.dumps({"query": OVERVIEW, "variables": variables}).encode()
