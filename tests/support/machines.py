"""One harness for the Hypothesis state machines of tests/services: each example plays
on a fresh migrated database (a copy of the SQLite template, or a clone of the
PostgreSQL one), through the real services with a manual clock, on the machine's
own event loop (Hypothesis drives a machine synchronously).

The fixtures `sqlite_databases`, `postgres_databases` and `databases` (both, by
parameter) are offered to tests/services through its conftest.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from imaging_billing.services.clock import ManualClock

from . import (
    START,
    Databases,
    PostgresDatabases,
    PostgresTemplate,
    SqliteDatabases,
    make_services,
)

T = TypeVar("T")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")


class ServicesMachine(RuleBasedStateMachine):
    """A state machine whose steps run the real services on a database of its own,
    dropped when the example ends (`teardown`)."""

    def __init__(self, databases: Databases) -> None:
        super().__init__()
        self.databases = databases
        self.loop = asyncio.new_event_loop()
        self.url = databases.fresh(self.loop)
        self.clock = ManualClock(START)
        self.services = make_services(self.url, self.clock)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def set_up(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run the example's set-up; when it fails, the database goes at once (Hypothesis
        calls `teardown` only for a machine it got)."""
        try:
            return self.run(coroutine)
        except BaseException:
            self.teardown()
            raise

    def teardown(self) -> None:
        try:
            self.run(self.services.group_commit.close())
            self.run(self.services.db.dispose())
        finally:
            try:
                self.databases.drop(self.loop, self.url)
            finally:
                self.loop.close()


def play(machine: Callable[[], RuleBasedStateMachine], *, examples: int, steps: int) -> None:
    """Run `examples` random lives of up to `steps` steps each; no deadline, as a step
    on a real database may be slow (a flood of thousands of uploads)."""
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )


@pytest.fixture
def sqlite_databases(tmp_path: Path) -> SqliteDatabases:
    return SqliteDatabases(tmp_path)


@pytest.fixture
def postgres_databases() -> Iterator[PostgresDatabases]:
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    template = PostgresTemplate(POSTGRES_URL)
    asyncio.run(template.setup())
    try:
        yield PostgresDatabases(template)
    finally:
        asyncio.run(template.teardown())


@pytest.fixture(params=["sqlite", "postgres"])
def databases(request: pytest.FixtureRequest) -> Databases:
    found: Databases = request.getfixturevalue(f"{request.param}_databases")
    return found
