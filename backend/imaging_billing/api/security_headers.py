"""Response headers that keep a browser from misreading, leaking or framing what we send.

Every response: `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin`, and a
Content-Security-Policy. An HTML page (the console, GraphiQL) may run scripts from this
origin only, plus inline scripts whose SHA-256 is listed, computed from the very bytes
served; styles may be inline (TDesign sets element styles at run time); no page may be
framed. Anything else (JSON, assets) gets a policy that allows nothing: an API answer
is never a document.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'", "'unsafe-inline'"),
    "img-src": ("'self'", "data:"),
    "font-src": ("'self'", "data:"),
    "connect-src": ("'self'",),
    "object-src": ("'none'",),
    "base-uri": ("'none'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
}
# Strawberry's GraphiQL, served when the console is not built, loads its code from a CDN.
CDN_IDE: dict[str, tuple[str, ...]] = {
    name: ("https://unpkg.com",) for name in ("script-src", "style-src", "font-src")
}
NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_INLINE_SCRIPT = re.compile(rb"<script\b(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script\s*>", re.I | re.S)


def page_policy(html: bytes, extra: dict[str, tuple[str, ...]] | None = None) -> str:
    """The page policy, with a hash source for each inline script of `html`."""
    hashes = tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(found.group(1)).digest()).decode() + "'"
        for found in _INLINE_SCRIPT.finditer(html)
        if found.group(1).strip()
    )
    policy = {name: list(sources) for name, sources in PAGE_POLICY.items()}
    policy["script-src"] += hashes
    for name, sources in (extra or {}).items():
        policy[name] = policy.get(name, []) + list(sources)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


def html_response(html: bytes, extra: dict[str, tuple[str, ...]] | None = None) -> Response:
    policy = page_policy(html, extra)
    return Response(html, media_type="text/html", headers={"content-security-policy": policy})


class FilePage:
    """A built HTML file, read and hashed once, again only when the build replaces it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._html = b""
        self._policy = ""

    def _load(self) -> None:
        stat = self.path.stat()
        if self._seen != (stat.st_mtime_ns, stat.st_size):
            self._html = self.path.read_bytes()
            self._policy = page_policy(self._html)
            self._seen = (stat.st_mtime_ns, stat.st_size)

    def policy(self) -> str:
        """The policy for the page as it is now (its compressed variants hold the same)."""
        self._load()
        return self._policy

    def response(self) -> Response:
        self._load()
        headers = {"content-security-policy": self._policy}
        return Response(self._html, media_type="text/html", headers=headers)


@functools.cache
def file_page(path: Path) -> FilePage:
    return FilePage(path)


class SecurityHeaders:
    """Pure ASGI: fills in the headers on every HTTP response that does not set them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("x-content-type-options", "nosniff")
                headers.setdefault("referrer-policy", "same-origin")
                if "content-security-policy" not in headers:
                    html = headers.get("content-type", "").startswith("text/html")
                    # an HTML page without its own policy (an error page) gets no inline script
                    headers["content-security-policy"] = (
                        page_policy(b"") if html else NOTHING_POLICY
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)
