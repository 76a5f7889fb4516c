"""The executor that reads plain leaves in line (api/leaves.py) answers exactly as
graphql-core's own: the same data and the same errors, at the same paths, for any
values the objects hold (wrong types, nulls in non-null fields, exceptions), with
the R-GEN-8 guard refusing gateways as before, and for the console's overview."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql import ExecutionResult, Undefined, execute, parse
from graphql.execution.incremental.incremental_executor import IncrementalExecutor
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strawberry.schema.config import StrawberryConfig

from imaging_billing.api import execution
from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.api.leaves import LeafExecutor
from imaging_billing.api.scalars import SCALARS
from imaging_billing.api.scope import guard_gateway_reads, people_only_resolver
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role

from ..bench.overview import DOCUMENT
from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api


@strawberry.enum
class Colour(Enum):
    RED = "RED"
    BLUE = "BLUE"


@strawberry.type
class Item:
    count: int
    maybe: int | None
    name: str
    flag: bool
    colour: Colour
    at: datetime
    ratio: float

    @strawberry.field
    def doubled(self) -> int:
        return self.count * 2  # a resolver: always graphql-core's path


@strawberry.type
class Query:
    items: list[Item]
    maybe_items: list[Item | None] | None


def make_schema(*, guarded: bool) -> Any:
    built = strawberry.Schema(
        query=Query, config=StrawberryConfig(scalar_map=SCALARS, auto_camel_case=True)
    )
    schema = built._schema  # noqa: SLF001 - graphql-core's schema
    if guarded:
        guard_gateway_reads(schema)
        # The root lets gateways through, so that the items' guards are reached.
        for field in schema.query_type.fields.values():
            field.resolve = people_only_resolver(field.resolve)
    return schema


SCHEMAS = {"plain": make_schema(guarded=False), "guarded": make_schema(guarded=True)}

DOCUMENTS = [
    "{ items { count maybe name flag colour at ratio doubled __typename } }",
    "{ items { a: count b: count count ...F } maybeItems { ...F maybe } } "
    "fragment F on Item { name count colour }",
    "query($skip: Boolean!) { items { count @skip(if: $skip) name @include(if: $skip) at } }",
    "{ maybeItems { __typename doubled flag ratio } }",
]

ANY_VALUE = st.one_of(
    st.none(),
    st.just(Undefined),
    st.integers(min_value=-(2**33), max_value=2**33),
    st.text(max_size=3),
    st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(list(Colour)),
    st.sampled_from(["RED", "GREEN"]),
    st.datetimes(timezones=st.just(UTC)),
    st.just(ValueError("held, not raised")),
    st.lists(st.integers(), max_size=2),
)
FIELDS = ("count", "maybe", "name", "flag", "colour", "at", "ratio")


def valid_item() -> st.SearchStrategy[Item]:
    return st.builds(
        Item,
        count=st.integers(min_value=-(2**31), max_value=2**31 - 1),
        maybe=st.none() | st.integers(min_value=0, max_value=9),
        name=st.text(max_size=5),
        flag=st.booleans(),
        colour=st.sampled_from(list(Colour)),
        at=st.datetimes(timezones=st.just(UTC)),
        ratio=st.floats(allow_nan=False, allow_infinity=False),
    )


@st.composite
def any_item(draw: st.DrawFn) -> Item:
    """Mostly sound items, some with one or more attributes of any kind."""
    item = draw(valid_item())
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        object.__setattr__(item, name, draw(ANY_VALUE))
    return item


ROOTS = st.builds(
    Query,
    # Null items too, though the list's items are non-null: graphql-core nulls the list.
    items=st.lists(any_item(), max_size=4) | st.lists(st.none() | any_item(), max_size=4),
    maybe_items=st.none() | st.lists(st.none() | any_item(), max_size=3),
)


def run(executor: type[IncrementalExecutor], schema: Any, document: str, **kw: Any) -> Any:
    result = execute(schema, parse(document), executor_class=executor, **kw)
    assert isinstance(result, ExecutionResult)
    return result.data, [error.formatted for error in result.errors or ()]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    root=ROOTS,
    document=st.sampled_from(DOCUMENTS),
    schema=st.sampled_from(sorted(SCHEMAS)),
    role=st.sampled_from([Role.OPERATOR, Role.ACCOUNT_VIEWER, Role.INSTITUTION]),
    skip=st.booleans(),
)
def test_leaves_answer_as_graphql_core_does(
    root: Query, document: str, schema: str, role: Role, skip: bool
) -> None:
    # given any objects, a document over them and a caller
    context = SimpleNamespace(principal=Principal(role, 1, "caller", account_id=1))
    kw = {"root_value": root, "context_value": context, "variable_values": {"skip": skip}}
    # when both executors run it
    expected = run(IncrementalExecutor, SCHEMAS[schema], document, **kw)
    answered = run(LeafExecutor, SCHEMAS[schema], document, **kw)
    # then they give the same data and the same errors, in the same order
    assert answered == expected


def test_a_gateway_is_refused_the_guarded_leaves_it_could_otherwise_read() -> None:
    # given sound items behind the R-GEN-8 guard
    at = datetime(2026, 3, 1, tzinfo=UTC)
    item = Item(count=1, maybe=None, name="a", flag=True, colour=Colour.RED, at=at, ratio=0.5)
    root = Query(items=[item], maybe_items=None)
    gateway = SimpleNamespace(principal=Principal(Role.INSTITUTION, 1, "gw", institution_id=1))
    operator = SimpleNamespace(principal=Principal(Role.OPERATOR, 1, "op"))
    document = "{ maybeItems { count } items { count } }"
    # then an operator reads them in line, a gateway is refused by the guard
    assert run(LeafExecutor, SCHEMAS["guarded"], document, root_value=root, context_value=operator)[
        0
    ] == {"maybeItems": None, "items": [{"count": 1}]}
    data, errors = run(
        LeafExecutor, SCHEMAS["guarded"], document, root_value=root, context_value=gateway
    )
    assert data is None
    assert [(e["message"].split(":")[0], e["path"]) for e in errors] == [
        ("FORBIDDEN", ["items", 0, "count"])
    ]


OVERVIEW = DOCUMENT.read_text()
UPLOADS = """mutation($i: ID!, $items: [ExamUploadInput!]!) {
  recordExamUploads(institutionId: $i, items: $items) { accepted } }"""


async def ask(api: Api, body: bytes, headers: dict[str, str]) -> Any:
    """The answer, less the caller's query budget left (each answer has spent some)."""
    response = await api.client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200
    answer = response.json()
    del answer["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
    return answer


async def test_the_console_overview_is_the_same_json_either_way(
    services: Services, api: Api, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given an account with an agreement, 14 lots bought a month apart (the first ones
    # expired by now), uploads on some days, and one of its gateways
    account = await create_account(services)
    gateway = await create_institution(services, account)
    for month in range(14):
        await credit_lot(services, account, quantity=10_000)
        items = [{"studyInstanceUid": f"1.2.{month}.{n}"} for n in range(month * 7)]
        await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": items})
        clock.advance(timedelta(days=30))
    token = await create_operator_token(services)
    body = json.dumps(
        {"query": OVERVIEW, "variables": {"id": str(encode("Account", account)), "days": 90}}
    ).encode()
    as_operator = {"content-type": "application/json", "authorization": f"Bearer {token}"}
    # when the overview is asked of both executors, by an operator and by the gateway
    answers = {}
    for name, executor in (("graphql-core", IncrementalExecutor), ("leaves", LeafExecutor)):
        monkeypatch.setattr(execution, "LeafExecutor", executor)
        answers[name] = [
            await ask(api, body, as_operator),
            await ask(api, body, gateway.headers(body, clock.now())),
        ]
    # then the answers are the same JSON
    assert answers["leaves"] == answers["graphql-core"]
    operator_answer, gateway_answer = answers["leaves"]
    shown = operator_answer["data"]["account"]
    assert len(shown["lots"]["edges"]) == 14
    assert sum(day["exams"] for day in shown["dailyUsage"]) > 0
    assert gateway_answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
