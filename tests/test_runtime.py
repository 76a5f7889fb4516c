"""The served process's collector (runtime.py): start-up objects frozen, young objects
collected less often; the app does it on start-up unless told not to."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from imaging_billing import runtime
from imaging_billing.app import create_app
from imaging_billing.config import Settings

from .support import SERVER_SECRET, SqliteTemplate


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_tune_gc_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    gc.unfreeze()
    runtime.tune_gc()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] == runtime.YOUNG_THRESHOLD


@pytest.mark.usefixtures("restored_gc")
@pytest.mark.parametrize("tune", [True, False])
async def test_the_app_tunes_the_collector_on_start_up_when_asked(
    sqlite_template: SqliteTemplate, tmp_path: Path, tune: bool
) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    settings = Settings(
        database_url=sqlite_template.fresh(),
        sweep_interval_seconds=0,
        demo_data=False,
        console_dir=tmp_path,
        tune_gc=tune,
        server_secret=SERVER_SECRET,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        assert (gc.get_threshold()[0] == runtime.YOUNG_THRESHOLD) is tune
        assert (gc.get_freeze_count() > 0) is tune
