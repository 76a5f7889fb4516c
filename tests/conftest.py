"""Fixtures: each test gets a fresh migrated database (SQLite, and PostgreSQL too when
TEST_POSTGRES_URL is set), a ManualClock, the services and an ASGI client."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from imaging_billing.api.context import Services
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Principal, Role

from .support import START, Api, PostgresTemplate, SqliteTemplate, make_services

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite"] + (["postgres"] if POSTGRES_URL else [])


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate | None]:
    if not POSTGRES_URL:
        yield None
        return
    import asyncio

    template = PostgresTemplate(POSTGRES_URL)
    asyncio.run(template.setup())
    yield template
    asyncio.run(template.teardown())


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest,
    sqlite_template: SqliteTemplate,
    postgres_template: PostgresTemplate | None,
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield sqlite_template.fresh()
        return
    assert postgres_template is not None
    url = await postgres_template.fresh()
    yield url
    await postgres_template.drop(url)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def services(database_url: str, clock: ManualClock) -> AsyncIterator[Services]:
    built = make_services(database_url, clock)
    yield built
    await built.group_commit.close()
    await built.db.dispose()


@pytest.fixture
def operator() -> Principal:
    return Principal(Role.OPERATOR, 0, "test operator")


@pytest.fixture
async def client(services: Services, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        sweep_interval_seconds=0,
        console_dir=tmp_path / "no-console",
        payment_callback_secret="test-callback-secret",
    )
    app = create_app(settings, services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient, clock: ManualClock) -> Api:
    return Api(client, clock)
