"""A copy of the database alone signs nothing: institution keys are sealed with a server
secret kept outside it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import stat
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from imaging_billing import cli, security
from imaging_billing.api.context import Services
from imaging_billing.app import create_app
from imaging_billing.config import Settings
from imaging_billing.services import institution_tokens
from imaging_billing.services.clock import ManualClock
from imaging_billing.store import accounts
from imaging_billing.store.db import Database
from imaging_billing.store.migrate import upgrade
from imaging_billing.store.types import UTCDateTime

from ..factories import create_account, create_institution, create_operator_token
from ..support import Api, Gateway, make_services

VIEWER = json.dumps({"query": "{ viewer { name } }"}).encode()


async def _status(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    return (await client.post("/graphql", content=VIEWER, headers=headers)).status_code


async def _stored(db: Database, pk: int) -> str:
    async with db.read() as conn:
        query = sa.text("SELECT token_key FROM institution WHERE id = :i")
        return str((await conn.execute(query, {"i": pk})).scalar_one())


@contextlib.asynccontextmanager
async def _app_with_secret(
    url: str, clock: ManualClock, secret: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    services = make_services(url, clock, secret)
    settings = Settings(sweep_interval_seconds=0, console_dir=tmp_path / "none")
    transport = httpx.ASGITransport(app=create_app(settings, services))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield client
    finally:
        await services.db.dispose()


def _signed_with_key(key: str, institution_id: str, clock: ManualClock) -> dict[str, str]:
    ts = str(int(clock.now().timestamp() * 1000))
    signed = security.SignedRequest.of(institution_id, ts, VIEWER)
    return {
        "x-institution-id": institution_id,
        "x-timestamp": ts,
        "x-signature": security.sign(key, signed),
        "content-type": "application/json",
    }


async def test_the_database_rows_alone_do_not_sign(
    services: Services, api: Api, database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    # given a gateway, and what a copy of its database row holds
    gateway = await create_institution(services, await create_account(services))
    stored = await _stored(services.db, gateway.institution_pk)
    # when someone signs with the stored value as the key (what the plain digest allowed)
    as_key = _signed_with_key(stored, gateway.id, clock)
    # then it is not authenticated
    assert await _status(api.client, as_key) == 401
    # and a server over the same rows with another secret refuses even the real token
    async with _app_with_secret(database_url, clock, "not-the-server-secret", tmp_path) as client:
        assert await _status(client, gateway.headers(VIEWER, clock.now())) == 401
    # while the real secret accepts it
    assert await _status(api.client, gateway.headers(VIEWER, clock.now())) == 200


async def test_a_rotated_key_is_sealed_too(services: Services, api: Api) -> None:
    # given a gateway whose token was rotated
    gateway = await create_institution(services, await create_account(services))
    rotate = "mutation($i: ID!) { rotateInstitutionToken(institutionId: $i) { token } }"
    token = await create_operator_token(services)
    new = (await api.operator(token, rotate, {"i": gateway.id}))["rotateInstitutionToken"]
    # then both the new and the previous key are stored sealed, and both sign
    async with services.db.read() as conn:
        row = (
            await conn.execute(
                sa.text("SELECT token_key, previous_token_key FROM institution WHERE id = :i"),
                {"i": gateway.institution_pk},
            )
        ).one()
    assert services.keys.open(row.token_key) == security.signing_key(new["token"])
    assert services.keys.open(row.previous_token_key) == security.signing_key(gateway.token)
    assert await _status(api.client, gateway.headers(VIEWER, api.clock.now())) == 200
    renewed = Gateway(gateway.institution_pk, new["token"])
    assert await _status(api.client, renewed.headers(VIEWER, api.clock.now())) == 200


async def test_an_old_form_row_is_sealed_at_start_and_keeps_signing(
    tmp_path: Path, clock: ManualClock
) -> None:
    # given a database at revision 0002 whose institution is stored the old way (the plain
    # SHA-256 of its token, which was the HMAC key), in its rotation grace period
    url = f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}"
    await asyncio.to_thread(upgrade, url, "0002")
    current, previous = security.new_token("ibi"), security.new_token("ibi")
    pk = await _old_form_institution(url, current, previous, clock)
    # when the server starts: migrations, then the sealing step (as `cli serve` runs them)
    settings = Settings(database_url=url, server_secret="the-server-secret-0123456789")
    await asyncio.to_thread(cli.migrate, settings)
    # then both keys are stored sealed, neither in the clear
    services = make_services(url, clock, "the-server-secret-0123456789")
    async with services.db.read() as conn:
        row = (
            await conn.execute(sa.text("SELECT * FROM institution WHERE id = :i"), {"i": pk})
        ).one()
    assert security.is_sealed(row.token_key)
    assert security.is_sealed(row.previous_token_key)
    assert security.digest(current) not in (row.token_key, row.previous_token_key)
    # and both tokens keep signing
    settings = Settings(sweep_interval_seconds=0, console_dir=tmp_path / "none")
    transport = httpx.ASGITransport(app=create_app(settings, services))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        for token in (current, previous):
            gateway = Gateway(pk, token)
            assert await _status(client, gateway.headers(VIEWER, clock.now())) == 200
    # and sealing again changes nothing
    report = await institution_tokens.seal_legacy(services.db, services.keys)
    assert (report.sealed, report.unreadable) == (0, 0)
    assert await _stored(services.db, pk) == row.token_key
    # while a wrong secret is reported, not silently accepted
    wrong = await institution_tokens.seal_legacy(services.db, security.KeyBox("x" * 32))
    assert (wrong.sealed, wrong.unreadable) == (0, 2)
    await services.db.dispose()


async def _old_form_institution(url: str, current: str, previous: str, clock: ManualClock) -> int:
    db = Database(url)
    try:
        async with db.write() as conn:
            account = await accounts.insert_account(conn, name="Old Hospital", now=clock.now())
            statement = sa.text(
                "INSERT INTO institution (account_id, name, created_at, token_hash,"
                " previous_token_hash, previous_valid_until)"
                " VALUES (:a, 'Old site', :t, :h, :p, :u)"
            ).bindparams(
                sa.bindparam("t", type_=UTCDateTime(timezone=True)),
                sa.bindparam("u", type_=UTCDateTime(timezone=True)),
            )
            await conn.execute(
                statement,
                {
                    "a": account,
                    "t": clock.now(),
                    "h": security.digest(current),
                    "p": security.digest(previous),
                    "u": clock.now() + timedelta(hours=1),
                },
            )
            result = await conn.execute(sa.text("SELECT max(id) FROM institution"))
            return int(result.scalar_one())
    finally:
        await db.dispose()


def test_the_server_secret_file_is_made_once_and_private(tmp_path: Path) -> None:
    # given no SERVER_SECRET
    path = tmp_path / "var" / "server-secret"
    # when the server starts twice
    first = cli.server_secret(Settings(), path)
    second = cli.server_secret(Settings(), path)
    # then one secret was made, readable only by its owner
    assert first.server_secret
    assert first.server_secret == second.server_secret
    assert len(first.server_secret) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # and SERVER_SECRET, when set, wins
    assert cli.server_secret(Settings(server_secret="from-env-0123456789"), path).server_secret == (
        "from-env-0123456789"
    )


def test_a_sealed_key_opens_only_with_its_secret_and_unaltered() -> None:
    box, other = security.KeyBox("a" * 32), security.KeyBox("b" * 32)
    key = security.signing_key("ibi_token")
    sealed = box.seal(key)
    assert box.open(sealed) == key
    assert other.open(sealed) is None
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    assert box.open(flipped) is None
    assert box.open(key) is None  # an unsealed value is not a key
    assert box.seal(key) != sealed  # a fresh nonce each time
    with pytest.raises(ValueError, match="16"):
        security.KeyBox("short")
