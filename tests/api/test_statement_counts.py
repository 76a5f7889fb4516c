"""SQL statements per console page: a constant, whatever the page size (no N+1).

The console's own documents (frontend/src/api/operations/*.graphql) are sent as it
sends them; every statement either engine runs during the request is counted
(authentication included), BEGIN/COMMIT apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from sqlalchemy import event

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.services.clock import ManualClock

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway

OPERATIONS = Path(__file__).parents[2] / "frontend" / "src" / "api" / "operations"
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
MOST = 8  # statements for any of these pages, authentication included


def console_document(name: str) -> str:
    """The console's operation `name` with the fragments it spreads, as it sends it."""
    document: DocumentNode = parse(
        "\n".join(p.read_text() for p in sorted(OPERATIONS.glob("*.graphql")))
    )
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    (operation,) = (
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name and d.name.value == name
    )
    wanted: dict[str, FragmentDefinitionNode] = {}

    class Spreads(Visitor):
        def enter_fragment_spread(self, node: FragmentSpreadNode, *_: Any) -> None:
            if node.name.value not in wanted:
                wanted[node.name.value] = fragments[node.name.value]
                visit(fragments[node.name.value], self)

    visit(operation, Spreads())
    return "\n".join(print_ast(d) for d in [operation, *wanted.values()])


class Statements:
    def __init__(self) -> None:
        self.data: list[str] = []
        self.transactions = 0

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith(CONTROL):
            self.transactions += statement.lstrip().upper().startswith("BEGIN")
            return
        self.data.append(statement)


@contextmanager
def counting(services: Services) -> Iterator[Statements]:
    seen = Statements()
    read, write = services.db.read_engine.sync_engine, services.db.write_engine.sync_engine
    # On PostgreSQL the reads are the writer's engine in another transaction mode, and
    # share its events: listening on both would count each statement twice.
    engines = {write} if read.pool is write.pool else {read, write}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", seen)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", seen)


async def hospitals(services: Services, count: int) -> list[int]:
    """Accounts with an agreement, two institutions and two lots each."""
    made = []
    for n in range(count):
        account = await create_account(services, name=f"Hospital {n}")
        for site in ("North", "South"):
            await create_institution(services, account, name=f"{site} {n}")
        await credit_lot(services, account)
        await credit_lot(services, account, quantity=20_000)
        made.append(account)
    return made


async def busy_hospital(services: Services, api: Api) -> tuple[int, list[Gateway]]:
    """One account whose 60 exams are spread over two institutions and two lots, plus
    arrears, so every exam page mixes lots, institutions and no lot at all."""
    account = await create_account(services)
    sites = [await create_institution(services, account, name=n) for n in ("North", "South")]
    upload = "mutation($i: ID!, $items: [ExamUploadInput!]!) { recordExamUploads(institutionId: $i, items: $items) { accepted } }"  # noqa: E501
    await credit_lot(services, account, quantity=10_000)
    for n, site in enumerate(sites):
        items = [{"studyInstanceUid": f"1.2.{n}.{k}"} for k in range(30)]
        await api.gateway(site, upload, {"i": site.id, "items": items})
    return account, sites


async def count_statements(
    services: Services,
    api: Api,
    token: str,
    name: str,
    variables: dict[str, Any],
    **headers: str,
) -> Statements:
    query = console_document(name)
    with counting(services) as seen:
        answer = await api.raw(query, variables, authorization=f"Bearer {token}", **headers)
    assert answer.status_code == 200
    assert "errors" not in answer.json(), answer.text
    return seen


@pytest.mark.parametrize(
    ("page", "variables"),
    [
        ("Accounts", {"after": None, "search": None, "status": None, "orderBy": "ID"}),
        ("Accounts", {"after": None, "search": None, "status": None, "orderBy": "ARREARS"}),
    ],
)
async def test_the_accounts_page_costs_the_same_at_10_and_50(
    services: Services, api: Api, page: str, variables: dict[str, Any]
) -> None:
    # given 60 hospitals with agreements, institutions and lots
    await hospitals(services, 60)
    token = await create_operator_token(services)
    await count_statements(services, api, token, page, {**variables, "first": 1})  # warm auth
    # when the operator opens the accounts page at 10 and at 50 rows
    small = await count_statements(services, api, token, page, {**variables, "first": 10})
    large = await count_statements(services, api, token, page, {**variables, "first": 50})
    # then the same statements run, few of them, in one read transaction
    assert len(small.data) == len(large.data) <= MOST, large.data
    assert large.transactions <= 2


@pytest.mark.parametrize("name", ["ExamList", "AccountLedger"])
async def test_exam_and_ledger_pages_cost_the_same_at_10_and_50(
    services: Services, api: Api, name: str
) -> None:
    account, _sites = await busy_hospital(services, api)
    token = await create_operator_token(services)
    base = {"id": str(encode("Account", account))}
    await count_statements(services, api, token, name, {**base, "first": 1})
    small = await count_statements(services, api, token, name, {**base, "first": 10})
    large = await count_statements(services, api, token, name, {**base, "first": 50})
    assert len(small.data) == len(large.data) <= MOST, large.data
    assert large.transactions <= 2


async def test_the_overview_reads_each_table_once(
    services: Services, api: Api, clock: ManualClock
) -> None:
    account, _sites = await busy_hospital(services, api)
    for quantity in (10_000, 20_000, 30_000):
        await credit_lot(services, account, quantity=quantity)
    token = await create_operator_token(services)
    variables = {"id": str(encode("Account", account)), "days": 90}
    # Not at the instant the lots were bought: there a forecast of whole days open
    # turns at once (domain/steady.py), and no answer is kept.
    clock.advance(timedelta(seconds=5))
    fresh = {"cache-control": "no-cache"}  # computed, not a kept answer (api/answers.py)
    await count_statements(services, api, token, "AccountOverview", variables, **fresh)
    seen = await count_statements(services, api, token, "AccountOverview", variables, **fresh)
    assert len(seen.data) <= MOST, seen.data
    assert seen.transactions <= 2
    # asked again with nothing changed: the kept answer, checked by one read
    reused = await count_statements(services, api, token, "AccountOverview", variables)
    checks = [s for s in reused.data if "revision" in s]
    assert len(checks) == 1, reused.data
    assert len(reused.data) < len(seen.data)
