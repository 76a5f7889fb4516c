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
    )
    return create_app(settings)
