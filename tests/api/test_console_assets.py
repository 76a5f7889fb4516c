"""The console's bytes: pre-compressed variants chosen by Accept-Encoding, hashed assets
cached as immutable, index.html revalidated on every load."""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from imaging_billing.api.context import Services
from imaging_billing.app import create_app
from imaging_billing.config import ROOT, Settings
from imaging_billing.console import accepted_encodings

JS = b"console.log('imaging billing');\n" * 200
BROTLI = b"pretend-brotli-bytes"  # served as is: the server never re-encodes


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    assets = tmp_path / "assets"
    assets.mkdir()
    (assets / "index-abc123.js").write_bytes(JS)
    (assets / "index-abc123.js.gz").write_bytes(gzip.compress(JS))
    (assets / "index-abc123.js.br").write_bytes(BROTLI)
    (assets / "logo-ff00.png").write_bytes(b"\x89PNG not compressible")
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "index.html.gz").write_bytes(
        gzip.compress(b"<!doctype html><title>console</title>")
    )
    return tmp_path


@pytest.fixture
async def browser(services: Services, dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(sweep_interval_seconds=0, console_dir=dist), services)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def raw_get(
    client: httpx.AsyncClient, path: str, **headers: str
) -> tuple[httpx.Response, bytes]:
    async with client.stream("GET", path, headers=headers) as response:
        body = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, body


async def test_a_hashed_asset_is_sent_as_brotli_and_kept_a_year(
    browser: httpx.AsyncClient,
) -> None:
    response, body = await raw_get(
        browser, "/assets/index-abc123.js", **{"accept-encoding": "gzip, deflate, br"}
    )
    assert response.status_code == 200
    assert response.headers["content-encoding"] == "br"
    assert body == BROTLI
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["vary"] == "Accept-Encoding"


async def test_gzip_when_brotli_is_refused_and_identity_when_nothing_is_accepted(
    browser: httpx.AsyncClient,
) -> None:
    gz, body = await raw_get(
        browser, "/assets/index-abc123.js", **{"accept-encoding": "br;q=0, gzip"}
    )
    assert gz.headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == JS
    plain, body = await raw_get(
        browser, "/assets/index-abc123.js", **{"accept-encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert body == JS
    png, _ = await raw_get(browser, "/assets/logo-ff00.png", **{"accept-encoding": "br, gzip"})
    assert "content-encoding" not in png.headers
    assert png.headers["content-type"] == "image/png"


async def test_a_cached_asset_is_not_sent_again(browser: httpx.AsyncClient) -> None:
    first, _ = await raw_get(browser, "/assets/index-abc123.js", **{"accept-encoding": "br"})
    again, body = await raw_get(
        browser,
        "/assets/index-abc123.js",
        **{"accept-encoding": "br", "if-none-match": first.headers["etag"]},
    )
    assert again.status_code == 304
    assert body == b""


async def test_index_html_is_revalidated_on_every_load_for_every_route(
    browser: httpx.AsyncClient,
) -> None:
    for path in ("/", "/exams/lots", "/ops/accounts"):
        response, body = await raw_get(browser, path, **{"accept-encoding": "gzip"})
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"
        assert gzip.decompress(body).startswith(b"<!doctype html>")


async def test_nothing_outside_the_assets_folder_is_served(browser: httpx.AsyncClient) -> None:
    response = await browser.get("/assets/../index.html.gz")
    assert response.headers.get("cache-control") != "public, max-age=31536000, immutable"
    missing = await browser.get("/assets/nope-000.js")
    assert missing.status_code == 404


def test_accept_encoding_is_read_as_rfc_9110_says() -> None:
    assert accepted_encodings("gzip, deflate, br") == {"gzip", "deflate", "br"}
    assert accepted_encodings("br;q=0, gzip;q=0.5") == {"gzip"}
    assert accepted_encodings("") == set()
    assert accepted_encodings("br;q=oops") == set()


BUILT = ROOT / "frontend" / "dist" / "assets"


@pytest.mark.skipif(not BUILT.is_dir(), reason="the console is not built (make console)")
def test_the_built_console_ships_brotli_and_gzip_for_every_script_and_style() -> None:
    scripts = [
        p for p in BUILT.iterdir() if p.suffix in (".js", ".css") and p.stat().st_size > 1024
    ]
    assert scripts
    for path in scripts:
        for suffix in (".br", ".gz"):
            variant = path.with_name(path.name + suffix)
            assert variant.is_file(), variant
            assert variant.stat().st_size < path.stat().st_size
