"""`serve` as an operator runs it, in a subprocess on a free loopback port: secrets shown
on the first start only, local state private, X-Forwarded-For believed only from the
proxies named in FORWARDED_ALLOW_IPS, and WebSocket frames no larger than HTTP bodies."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from imaging_billing.api.http import MAX_BODY

from ..support import wait_until_ready
from ..support.serving import free_port

ROOT = Path(__file__).resolve().parents[2]
LOGIN = 'mutation { login(email: "admin@demo.local", password: "not-the-password-1") {'
LOGIN += " userErrors { code } } }"
SECRETS = ("operatorPassword", "adminPassword", "operatorToken", "institutionToken")
AUDIT = (
    """{ auditLog(first: 20, operation: "login") { edges { node { result clientAddress } } } }"""
)


@dataclass
class Served:
    base: str
    output: Path

    def printed(self) -> str:
        return self.output.read_text()


@contextmanager
def serve(var: Path, **extra: str) -> Iterator[Served]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FORWARDED_ALLOW_IPS")}
    env |= {
        "PYTHONPATH": str(ROOT / "backend"),
        "VAR_DIR": str(var),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "SWEEP_INTERVAL_SECONDS": "0",
        "CONSOLE_DIR": str(var / "no-console"),
        "PAYMENT_CALLBACK_SECRET": "",
        **extra,
    }
    output = var.parent / f"serve-{port}.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "imaging_billing.cli", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process, output, 60)
        yield Served(base, output)
    finally:
        process.terminate()
        process.wait(timeout=20)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def login_addresses(served: Served, var: Path, **headers: str) -> list[str]:
    """A wrong-password login sent with `headers`; the addresses the audit log recorded."""
    wrong = httpx.post(f"{served.base}/graphql", json={"query": LOGIN}, headers=headers)
    assert wrong.json()["data"]["login"]["userErrors"][0]["code"] == "LOGIN_FAILED"
    token = json.loads((var / "demo-credentials.json").read_text())["operatorToken"]
    log = httpx.post(
        f"{served.base}/graphql",
        json={"query": AUDIT},
        headers={"authorization": f"Bearer {token}"},
    ).json()["data"]["auditLog"]["edges"]
    return [edge["node"]["clientAddress"] for edge in log]


def test_secrets_are_printed_on_the_first_start_only_and_local_state_is_private(
    tmp_path: Path,
) -> None:
    var = tmp_path / "var"
    # when serve starts for the first time
    with serve(var) as first:
        credentials = json.loads((var / "demo-credentials.json").read_text())
        database = var / "imaging-billing.sqlite3"
        # then var/ and everything in it is the operator's alone, SQLite's WAL files too
        assert mode(var) == 0o700
        private = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        private += [var / "demo-credentials.json", var / "payment-callback-secret"]
        for path in private:
            assert mode(path) == 0o600, path
    # and the passwords and tokens were shown, with where they are kept
    printed = first.printed()
    for key in SECRETS:
        assert credentials[key] in printed
    # given permissions loosened while the server was down
    var.chmod(0o755)
    (var / "demo-credentials.json").chmod(0o644)
    database.chmod(0o644)
    # when it starts again
    with serve(var) as again:
        # then they are tightened once more
        assert (mode(var), mode(var / "demo-credentials.json"), mode(database)) == (
            0o700,
            0o600,
            0o600,
        )
    # and no secret is printed, only where the credentials are
    printed = again.printed()
    assert str(var / "demo-credentials.json") in printed
    assert "Console:" in printed
    for key in SECRETS:
        assert credentials[key] not in printed


def test_forwarded_for_is_believed_only_from_configured_proxies(tmp_path: Path) -> None:
    var = tmp_path / "var"
    forged = {"x-forwarded-for": "9.9.9.9"}
    # when a loopback client sends X-Forwarded-For to a server without FORWARDED_ALLOW_IPS
    with serve(var) as plain:
        addresses = login_addresses(plain, var, **forged)
    # then the audit log (and the per-address login throttle) sees the socket's address
    assert addresses == ["127.0.0.1"]
    # when the operator names the loopback proxy
    with serve(var, FORWARDED_ALLOW_IPS="127.0.0.1") as proxied:
        addresses = login_addresses(proxied, var, **forged)
    # then the proxy's word is taken
    assert addresses == ["9.9.9.9", "127.0.0.1"]


async def test_a_websocket_frame_is_no_larger_than_an_http_body(tmp_path: Path) -> None:
    with serve(tmp_path / "var") as served:
        url = served.base.replace("http://", "ws://") + "/graphql"
        # Given a socket to /graphql, not yet signed in
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            # When its first message is one byte over the HTTP body cap
            await ws.send("x" * (MAX_BODY + 1))
            # Then the server closes it for the size (1009), before reading it as JSON
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
