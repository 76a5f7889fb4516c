"""The project as a user starts it, for `uvicorn --factory tests.bench.launcher:project_app`:
the app's own settings (WAL, synchronous=FULL), no background sweep, no demo data."""

from __future__ import annotations

import os

from starlette.applications import Starlette

from imaging_billing.app import create_app
from imaging_billing.config import Settings

from .seed import SERVER_SECRET


def project_app() -> Starlette:
    settings = Settings(
        database_url=os.environ["BENCH_DATABASE_URL"],
        sweep_interval_seconds=0,
        demo_data=False,
        server_secret=SERVER_SECRET,
        # P3 asks as one operator as fast as it can: a deployment's own budget sizing
        # (QUERY_BUDGET_SCALE) keeps it from being throttled. P1 and P2 keep the default.
        query_budget_scale=float(os.environ.get("BENCH_QUERY_BUDGET_SCALE", "1")),
    )
    return create_app(settings)
