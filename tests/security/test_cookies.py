"""The session cookie is `Secure` unless the server listens on loopback without
SECURE_COOKIES=1: wired from the settings the app is built with."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from imaging_billing.app import build_services, create_app
from imaging_billing.config import Settings
from imaging_billing.services import access
from imaging_billing.services.clock import ManualClock
from imaging_billing.services.principals import Role

from ..factories import create_account
from ..support import SERVER_SECRET

PASSWORD = "a long enough passphrase"
LOGIN = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
  userErrors { code } } }"""


@pytest.mark.parametrize(
    ("host", "secure_env", "secure"),
    [
        ("127.0.0.1", "", False),
        ("localhost", "0", False),
        ("127.0.0.1", "1", True),
        ("0.0.0.0", "", True),  # noqa: S104 - the setting under test
        ("10.1.2.3", "0", True),
    ],
)
async def test_session_cookie_is_secure_off_loopback_or_when_asked(
    database_url: str, clock: ManualClock, tmp_path: Path, host: str, secure_env: str, secure: bool
) -> None:
    # given the app built from the environment an operator would set
    env = {
        "DATABASE_URL": database_url,
        "HOST": host,
        "SECURE_COOKIES": secure_env,
        "SWEEP_INTERVAL_SECONDS": "0",
        "CONSOLE_DIR": str(tmp_path / "no-console"),
        "SERVER_SECRET": SERVER_SECRET,
    }
    settings = Settings.from_env(env)
    services = build_services(settings, clock)
    try:
        account = await create_account(services)
        await access.create_user(
            services.db,
            email="admin@north.example.cn",
            name="Admin",
            role=Role.ACCOUNT_ADMIN,
            account_id=account,
            password=PASSWORD,
            actor="test",
            now=clock.now(),
        )
        transport = httpx.ASGITransport(app=create_app(settings, services))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            # when the person logs in
            response = await client.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"e": "admin@north.example.cn", "p": PASSWORD}},
            )
        # then the session cookie is Secure exactly when it must be
        assert response.json()["data"]["login"]["userErrors"] == []
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("ib_session=")
        attributes = [part.strip().lower() for part in cookie.split(";")]
        assert ("secure" in attributes) is secure
        assert "httponly" in attributes
    finally:
        await services.group_commit.close()
        await services.db.dispose()
