"""Where one overview request spends its time, in-process (no uvicorn, no wrk).

    PYTHONPATH=backend python -m tests.bench.profile_overview [--requests 30] [--top 25]

Seeds P3's small history (one account, 200 lots, 1,000 exams), sends the console's
`AccountOverview` and `{ __typename }` through the ASGI app as an operator, and
prints the CPU time per request of each (process time: what other processes do on a
shared machine weighs on it far less than on wall time), then a cProfile of the
overview: own time per package, and the functions with the most own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

from imaging_billing.app import build_services, create_app
from imaging_billing.config import Settings

from .overview import SMALL, History, overview_body, seed_history, typename_body
from .seed import SERVER_SECRET

PACKAGES = ("graphql", "strawberry", "imaging_billing", "sqlalchemy", "aiosqlite", "asyncio")


async def measure(history: History, requests: int) -> tuple[dict[str, float], pstats.Stats]:
    settings = Settings(
        database_url=history.url,
        server_secret=SERVER_SECRET,
        demo_data=False,
        sweep_interval_seconds=0,
        query_budget_scale=1_000,
        tune_gc=False,
    )
    services = build_services(settings)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {history.token}"}
    bodies = {"overview": overview_body(history.account_id), "typename": typename_body()}
    transport = httpx.ASGITransport(app=create_app(settings, services))
    cpu: dict[str, float] = {}
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def ask(name: str) -> None:
                answer = await client.post("/graphql", content=bodies[name], headers=headers)
                if answer.status_code != 200 or "errors" in answer.json():
                    raise RuntimeError(answer.text[:500])

            for name in bodies:  # warm: parse and validation caches, prepared statements
                await ask(name)
            for name in bodies:
                began = time.process_time()
                for _ in range(requests):
                    await ask(name)
                cpu[name] = (time.process_time() - began) / requests * 1000
            profile = cProfile.Profile()
            profile.enable()
            for _ in range(requests):
                await ask("overview")
            profile.disable()
    finally:
        await services.group_commit.close()
        await services.db.dispose()
    return cpu, pstats.Stats(profile)


def by_package(stats: pstats.Stats) -> Counter[str]:
    own: Counter[str] = Counter()
    for (file, _, _), (_, _, tottime, _, _) in stats.stats.items():
        package = next((p for p in PACKAGES if f"/{p}/" in file), "other")
        own[package] += tottime
    return own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ib-profile-") as tmp:
        history = seed_history(Path(tmp) / "overview.sqlite3", SMALL)
        cpu, stats = asyncio.run(measure(history, args.requests))
    print(  # noqa: T201
        f"cpu per request: overview {cpu['overview']:.1f} ms, {{ __typename }}"
        f" {cpu['typename']:.1f} ms, ratio {cpu['typename'] / cpu['overview']:.2f}"
    )
    own = by_package(stats)
    total = sum(own.values())
    for package, seconds in own.most_common():
        print(f"  {package:16s} {seconds / total * 100:5.1f} % of own time")  # noqa: T201
    stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
