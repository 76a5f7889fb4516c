"""Serving the built console: pre-compressed files, cached for as long as their names hold.

`npm run build` writes `.br` and `.gz` beside each compressible file (frontend/scripts/
compress.mjs), so nothing is compressed per request. Files under /assets carry a content
hash in their names and never change: browsers keep them a year without asking again.
index.html names the current hashes, so it is revalidated on every load (`no-cache`).
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import Path

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from .api.security_headers import file_page

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Preferred first: brotli is smaller than gzip for the same file.
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))


def accepted_encodings(accept_encoding: str) -> set[str]:
    """The codings a client accepts (RFC 9110 12.5.3): listed, and not with q=0."""
    accepted = set()
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.strip().partition(";")
        if not coding.strip():
            continue
        quality = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
        try:
            if float(quality) > 0:
                accepted.add(coding.strip())
        except ValueError:
            continue
    return accepted


def compressed_response(
    path: str | os.PathLike[str], headers: Headers, cache_control: str, status_code: int = 200
) -> FileResponse:
    """The smallest variant of `path` the client accepts, typed as the original."""
    media_type = mimetypes.guess_type(str(path))[0] or "application/octet-stream"
    accepted = accepted_encodings(headers.get("accept-encoding", ""))
    response_headers = {"Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    for coding, suffix in ENCODINGS:
        variant = Path(f"{path}{suffix}")
        if coding in accepted and variant.is_file():
            response_headers["Content-Encoding"] = coding
            return _file(variant, status_code, response_headers, media_type)
    return _file(Path(path), status_code, response_headers, media_type)


def _file(path: Path, status_code: int, headers: dict[str, str], media_type: str) -> FileResponse:
    # With the stat known now, ETag and Last-Modified are set before a 304 is decided.
    return FileResponse(path, status_code, headers, media_type, stat_result=path.stat())


class Assets(StaticFiles):
    """Hashed build output: compressed variants, cached as immutable."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        request_headers = Headers(scope=scope)
        response = compressed_response(full_path, request_headers, IMMUTABLE, status_code)
        if self.is_not_modified(response.headers, request_headers):
            return NotModifiedResponse(response.headers)
        return response


def console_routes(dist: Path) -> list[Route | Mount]:
    """The built console; unknown paths fall back to index.html (history-mode routes)."""
    index = dist / "index.html"

    async def spa(request: Request) -> Response:
        if index.is_file():
            response = compressed_response(index, request.headers, REVALIDATE)
            response.headers["content-security-policy"] = file_page(index).policy()
            return response
        return JSONResponse({"error": "console not built"}, status_code=404)

    routes: list[Route | Mount] = []
    if (dist / "assets").is_dir():
        routes.append(Mount("/assets", Assets(directory=dist / "assets"), name="assets"))
    routes.append(Route("/{path:path}", spa))
    return routes
