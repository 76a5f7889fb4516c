"""Schemathesis against the live ASGI app (issue: access control): queries and mutations
generated from the schema for every operation, sent as each role.

Schemathesis generates the cases (`schemathesis.graphql.from_dict` on the introspected
schema, one pytest item per operation); they are sent in process to the ASGI app with
httpx on an event loop of our own (an anyio blocking portal). Why not `case.call(app=...)`:
Schemathesis serves an ASGI app from its own process-wide event-loop thread and never
shuts it down before exit; the app's database engine and group-commit writer must be
created, seeded and disposed on the loop that serves them, which our portal gives us
(seed, serve, dispose: one loop). Starlette's TestClient would do the same but warns
(it wants `httpx2`), and a uvicorn server is not needed.

Roles: OPERATOR (bearer), ACCOUNT_ADMIN and ACCOUNT_VIEWER (cookie session), INSTITUTION
(signed headers, computed over the exact body by an httpx.Auth). IDs are drawn from a pool
of both accounts' real IDs plus junk, so cross-account attempts really happen.

Checks, for every response: no 5xx; no INTERNAL error / masked "Unexpected error";
for the account-bound roles, no trace of the other account (its name or global IDs)
outside the echoes of the caller's own arguments in its audit records.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import anyio.from_thread
import graphql
import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from imaging_billing.api.context import SESSION_COOKIE, Services
from imaging_billing.api.ids import encode
from imaging_billing.api.schema import schema as billing_schema
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.domain.catalog import PRODUCTS, ServiceKind
from imaging_billing.services import access
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Role
from imaging_billing.services.steps import entitlements

from ..conftest import BACKENDS
from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import START, Gateway, PostgresTemplate, SqliteTemplate, make_services

ROLES = ("OPERATOR", "ACCOUNT_ADMIN", "ACCOUNT_VIEWER", "INSTITUTION")
PASSWORD = "fuzzing password 1"
EXAMPLES = 12  # per operation; each example is sent once per role

# Real IDs of both accounts, filled in by the `live` fixture before any case is drawn.
ID_POOL: list[str] = []


def _pooled_id(index: int) -> nodes.String:
    return nodes.String(ID_POOL[index % len(ID_POOL)] if ID_POOL else "none")


# Values biased towards what the API accepts, so cases get past the first check and reach
# the code behind it; junk stays in the mix.
WORDS = [
    *PRODUCTS,
    "1.2.840.10008.1",
    "2.25.1",
    "admin@alpha.example.cn",
    "account_admin@alpha.example.cn",
    PASSWORD,
    "CT-2026-001",
    "a reason",
    "Alpha Fuzz Hospital",
    "k:1",
]
schemathesis.graphql.scalar(
    "ID",
    st.one_of(st.integers(0, 1_000).map(_pooled_id), st.text(max_size=16).map(nodes.String)),
)
schemathesis.graphql.scalar(
    "Int",
    st.one_of(
        st.integers(1, 100),
        st.sampled_from([0, -1, 1_000, 10_000, 100_000, 2**31 - 1, -(2**31)]),
        st.integers(-(2**31), 2**31 - 1),
    ).map(nodes.Int),
)
schemathesis.graphql.scalar(
    "String", st.one_of(st.sampled_from(WORDS), st.text(max_size=30)).map(nodes.String)
)
schemathesis.graphql.scalar(
    "Fen", st.one_of(st.integers(-(2**63), 2**63), st.integers(0, 10**6)).map(nodes.Int)
)
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(
        st.datetimes(
            min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds of an aware strategy
            max_value=datetime(2100, 1, 1),  # noqa: DTZ001
            timezones=st.timezones(),
        ).map(lambda d: d.isoformat()),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),  # year 1..9999
        st.datetimes().map(lambda d: d.isoformat()),  # naive: R-GEN-6 refuses it
        st.text(max_size=30),
    ).map(nodes.String),
)
schemathesis.graphql.scalar(
    "Date", st.one_of(st.dates().map(str), st.text(max_size=12)).map(nodes.String)
)
schemathesis.graphql.scalar("JSON", st.just(nodes.String("{}")))

SCHEMA = schemathesis.graphql.from_dict(graphql.introspection_from_schema(billing_schema._schema))


@dataclass
class Credentials:
    """What each role sends; refreshed when a generated case logs out or revokes."""

    operator: str
    gateway: Gateway
    sessions: dict[str, str]
    emails: dict[str, str]
    refreshed: int = 0


class Signed(httpx.Auth):
    """The gateway's signature, over the body exactly as it is sent."""

    requires_request_body = True

    def __init__(self, credentials: Credentials, clock: ManualClock) -> None:
        self.credentials = credentials
        self.clock = clock

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.credentials.gateway.headers(request.content, self.clock.now()))
        yield request


@dataclass
class Live:
    portal: anyio.from_thread.BlockingPortal
    client: httpx.AsyncClient
    services: Services
    clock: ManualClock
    credentials: Credentials
    other_marks: list[str]  # the other account's name and global IDs
    sent: dict[str, int] = field(default_factory=dict)


async def seed(services: Services) -> tuple[Credentials, list[str], list[str]]:
    """Two accounts with what a hospital has; Alpha's people and gateway are the callers."""
    operator = await create_operator_token(services)
    marks: list[str] = []
    pool: list[str] = []
    credentials: Credentials | None = None
    for name in ("Alpha Fuzz Hospital", "Bravo Fuzz Hospital"):
        account = await create_account(services, name=name)
        gateway = await create_institution(services, account, name=f"{name} site")
        lot = await credit_lot(services, account)
        async with services.db.write() as conn:
            service = await entitlements.open_service(
                conn,
                account_id=account,
                institution_id=gateway.institution_pk,
                institution_name=None,
                kind=ServiceKind.DELIVERY,
                variant=None,
                years=None,
                starts_on=None,
                now=services.clock.now(),
                order_id=None,
            )
        ids = [
            str(encode("Account", account)),
            str(encode("Institution", gateway.institution_pk)),
            str(encode("ExamLot", lot)),
            str(encode("Service", service)),
        ]
        pool += ids
        slug = name.split()[0].lower()
        emails = {}
        sessions = {}
        for role in (Role.ACCOUNT_ADMIN, Role.ACCOUNT_VIEWER):
            email = f"{role.value.lower()}@{slug}.example.cn"
            await access.create_user(
                services.db,
                email=email,
                name=f"{name} {role.value}",
                role=role,
                account_id=account,
                password=PASSWORD,
                actor="test",
                now=services.clock.now(),
            )
            done = await access.login(
                services.db,
                email=email,
                password=PASSWORD,
                client_address="10.1.1.1",
                now=services.clock.now(),
            )
            emails[role.value] = email
            sessions[role.value] = done.token
        if credentials is None:
            credentials = Credentials(operator, gateway, sessions, emails)
        else:
            marks = [name, *ids]
    assert credentials is not None
    return credentials, marks, pool


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest,
    sqlite_template: SqliteTemplate,
    postgres_template: PostgresTemplate | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Live]:
    clock = ManualClock(START)
    settings_ = Settings(sweep_interval_seconds=0, console_dir=Path(tmp_path_factory.mktemp("nc")))
    with anyio.from_thread.start_blocking_portal() as portal:
        if request.param == "postgres":
            assert postgres_template is not None
            url = portal.call(postgres_template.fresh)
        else:
            url = sqlite_template.fresh()
        services = make_services(url, clock)
        app = create_app(settings_, services)
        # a crash must come back as the 500 a client would see, not as an exception
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        credentials, marks, pool = portal.call(seed, services)
        ID_POOL[:] = pool
        try:
            yield Live(portal, client, services, clock, credentials, marks)
        finally:
            ID_POOL.clear()
            portal.call(client.aclose)
            portal.call(services.group_commit.close)
            portal.call(services.db.dispose)
            if postgres_template is not None and request.param == "postgres":
                portal.call(postgres_template.drop, url)


def post(
    live: Live, content: bytes, headers: dict[str, str], auth: httpx.Auth | None = None
) -> httpx.Response:
    request = partial(live.client.post, "/graphql", content=content, headers=headers, auth=auth)
    try:
        return live.portal.call(request)
    finally:
        live.client.cookies.clear()


# --- sending one case as one role ----------------------------------------------------------


def send(live: Live, role: str, body: dict[str, Any]) -> httpx.Response:
    credentials = live.credentials
    headers = {"content-type": "application/json", "accept-language": "en"}
    auth: httpx.Auth | None = None
    if role == "OPERATOR":
        headers["authorization"] = f"Bearer {credentials.operator}"
    elif role == "INSTITUTION":
        auth = Signed(credentials, live.clock)
    else:
        headers["cookie"] = f"{SESSION_COOKIE}={credentials.sessions[role]}"
    return post(live, json.dumps(body).encode(), headers, auth)


def refresh(live: Live, role: str) -> None:
    """A generated case may have logged this role out or revoked its token: renew it."""
    credentials = live.credentials
    credentials.refreshed += 1
    if role == "INSTITUTION":
        rotate = (
            "mutation($i: ID!) { rotateInstitutionToken(institutionId: $i) {"
            " token userErrors { code } } }"
        )
        variables = {"i": credentials.gateway.id}
        answer = send(live, "OPERATOR", {"query": rotate, "variables": variables}).json()
        token = answer["data"]["rotateInstitutionToken"]["token"]
        credentials.gateway = Gateway(credentials.gateway.institution_pk, token)
        return
    # generated logins with junk emails throttle the test client's address (20 failures),
    # so the person signs in again from her own address, through the service
    done = live.portal.call(
        partial(
            access.login,
            live.services.db,
            email=credentials.emails[role],
            password=PASSWORD,
            client_address="10.1.1.1",
            now=live.clock.now(),
        )
    )
    credentials.sessions[role] = done.token


def without_own_arguments(payload: Any) -> Any:
    """Drop audit records' `arguments`: they echo what the caller itself sent."""
    if isinstance(payload, dict):
        return {k: without_own_arguments(v) for k, v in payload.items() if k != "arguments"}
    if isinstance(payload, list):
        return [without_own_arguments(v) for v in payload]
    return payload


def judge(live: Live, role: str, response: httpx.Response, label: str) -> None:
    where = f"{label} as {role}: {response.text[:600]}"
    assert response.status_code < 500, where
    assert "Unexpected error" not in response.text, where
    payload = response.json()
    for error in payload.get("errors") or []:
        assert (error.get("extensions") or {}).get("code") != "INTERNAL", where
    if role != "OPERATOR":
        seen = json.dumps(without_own_arguments(payload), ensure_ascii=False)
        leaked = [mark for mark in live.other_marks if mark in seen]
        assert leaked == [], f"{leaked} leaked to {where}"


@SCHEMA.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_generated_operations_never_crash_or_leak(case: Any, live: Live) -> None:
    """Every operation, as every role: no 5xx, no INTERNAL, nothing of the other account."""
    # given a generated query or mutation of this operation
    body = case.as_transport_kwargs(base_url="http://testserver/graphql")["json"]
    for role in ROLES:
        # when the role sends it (renewing credentials a previous case took away)
        response = send(live, role, body)
        if response.status_code == 401:
            refresh(live, role)
            response = send(live, role, body)
            assert response.status_code != 401, response.text
        # then the answer is an answer, and only about the caller's own account
        judge(live, role, response, case.operation.label)
        live.sent[role] = live.sent.get(role, 0) + 1


def test_the_fuzzing_reached_every_operation_as_every_role(live: Live) -> None:
    """Schemathesis sees every field of the schema; each was sent as each role."""
    # given the operations Schemathesis derived from the schema
    labels = {result.ok().label for result in SCHEMA.get_all_operations()}
    gql = billing_schema._schema
    assert gql.query_type is not None
    assert gql.mutation_type is not None
    expected = {f"Query.{name}" for name in gql.query_type.fields}
    expected |= {f"Mutation.{name}" for name in gql.mutation_type.fields}
    # then they are exactly the schema's fields
    assert labels == expected
    # and if the generated tests ran first (the normal order), each role sent cases
    if live.sent:
        assert set(live.sent) == set(ROLES)
        assert min(live.sent.values()) >= len(expected)
