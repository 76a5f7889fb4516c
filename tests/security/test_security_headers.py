"""Console and GraphiQL pages carry a Content-Security-Policy (scripts from this origin or
hashed, no framing), and every response nosniff and Referrer-Policy: same-origin."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from imaging_billing.api.context import Services
from imaging_billing.app import create_app
from imaging_billing.config import Settings

INLINE = b"window.__boot = 1;"
INDEX = (
    b"""<!doctype html><html><head><script type="module" src="/assets/app.js"></script>
<style>body{margin:0}</style><script>"""
    + INLINE
    + b"""</script></head>
<body><div id="app"></div></body></html>"""
)
GRAPHIQL = b"""<!doctype html><html><head><script type="module" src="/assets/ide.js"></script>
</head><body><div id="graphiql"></div></body></html>"""


def sha256_source(script: bytes) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script).digest()).decode() + "'"


def directives(response: httpx.Response) -> dict[str, list[str]]:
    policy = response.headers["content-security-policy"]
    parsed = {}
    for part in policy.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_common(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert directives(response)["frame-ancestors"] == ["'none'"]


async def app_client(services: Services, console: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(sweep_interval_seconds=0, console_dir=console)
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def built(services: Services, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "graphiql.html").write_bytes(GRAPHIQL)
    (dist / "assets" / "app.js").write_text("console.log('app')")
    async for client in app_client(services, dist):
        yield client


@pytest.fixture
async def unbuilt(services: Services, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in app_client(services, tmp_path / "no-console"):
        yield client


@pytest.mark.parametrize("path", ["/", "/accounts/deep/link"])
async def test_console_pages_allow_own_and_hashed_scripts_only(
    built: httpx.AsyncClient, path: str
) -> None:
    # when the console's page is fetched
    response = await built.get(path)
    # then it may run scripts from this origin and its own inline script, by hash, only
    assert response.status_code == 200
    assert response.content == INDEX
    assert_common(response)
    policy = directives(response)
    assert policy["script-src"] == ["'self'", sha256_source(INLINE)]
    assert "'unsafe-inline'" in policy["style-src"]
    assert policy["object-src"] == ["'none'"]


async def test_the_built_graphiql_page_has_no_inline_script_allowed(
    built: httpx.AsyncClient,
) -> None:
    response = await built.get("/graphql", headers={"accept": "text/html"})
    assert response.content == GRAPHIQL
    assert_common(response)
    assert directives(response)["script-src"] == ["'self'"]


async def test_the_fallback_graphiql_page_hashes_its_inline_script(
    unbuilt: httpx.AsyncClient,
) -> None:
    # when the console is not built, Strawberry's GraphiQL is served
    response = await unbuilt.get("/graphql", headers={"accept": "text/html"})
    assert_common(response)
    # then its one inline script is allowed by its hash, and nothing else inline
    inline = re.findall(rb"<script>(.*?)</script>", response.content, re.S)
    assert len(inline) == 1
    sources = directives(response)["script-src"]
    assert sha256_source(inline[0]) in sources
    assert "'unsafe-inline'" not in sources


async def test_api_answers_and_assets_are_not_sniffed_or_framed(
    built: httpx.AsyncClient,
) -> None:
    answers = [
        await built.post("/graphql", json={"query": "{ __typename }"}),
        await built.post("/payments/callback", content=b"{}"),
        await built.get("/healthz"),
        await built.get("/assets/app.js"),
    ]
    for response in answers:
        assert_common(response)
        # an API answer or an asset is never a document: its policy allows nothing
        assert directives(response)["default-src"] == ["'none'"]
