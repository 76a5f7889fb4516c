"""An account administrator connects her system from the console: she adds an endpoint,
copies the secret shown once, sends a test event, and sees it delivered; her receiver (a
real HTTP server on loopback) verifies the signature with the reference library."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from .conftest import Console, Server

pytestmark = pytest.mark.e2e


class Inbox:
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.arrived = threading.Event()


@pytest.fixture
def receiver() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            inbox.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
            inbox.arrived.set()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", inbox
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_an_admin_adds_an_endpoint_and_a_test_event_arrives_signed(
    server: Server, console: Any, receiver: tuple[str, Inbox], language: str
) -> None:
    url, inbox = receiver
    # given an administrator on the webhooks page
    admin: Console = console(language=language)
    admin.login("admin")
    admin.page.locator("[data-testid='nav-/webhooks']").click()
    admin.page.locator("[data-testid=page-webhooks]").wait_for()
    # when she adds an endpoint for her receiver and keeps the secret shown once
    admin.page.click("[data-testid=webhook-new]")
    admin.page.fill("[data-testid=webhook-url] input", url)
    admin.page.locator(".t-dialog__confirm:visible").click()
    shown = admin.page.locator("[data-testid=secret-value]:visible")
    shown.wait_for()
    secret = shown.inner_text().strip()
    assert secret.startswith("whsec_")
    admin.shot(f"webhooks-secret-{language}")
    admin.page.keyboard.press("Escape")
    admin.page.locator("[data-testid=secret-value]").wait_for(state="hidden")
    # and sends a test event from its row
    row = admin.page.locator("[data-testid=webhook-endpoints] tr", has_text=url)
    row.locator("[data-testid=webhook-test]").click()
    # then her receiver gets it within seconds, and the reference library accepts it
    assert inbox.arrived.wait(20), "no webhook arrived"
    headers, body = inbox.requests[-1]
    Webhook(secret).verify(body, headers)
    assert json.loads(body)["type"] == "webhook.test"
    # and the endpoint's deliveries say it was delivered
    row.locator("[data-testid^=webhook-deliveries-]").click()
    status = admin.page.locator("[data-testid=webhook-delivery-status]").first
    deadline = time.monotonic() + 20
    delivered = "已送达" if language == "zh-CN" else "Delivered"
    while status.inner_text() != delivered and time.monotonic() < deadline:
        admin.page.locator(
            "[data-testid=webhook-deliveries] button",
            has_text="刷新" if language == "zh-CN" else "Refresh",
        ).click()
        admin.page.wait_for_timeout(300)
    assert status.inner_text() == delivered
    admin.shot(f"webhooks-delivered-{language}")
