"""Institution signatures bind the whole request (method, path, query, ID, time, body);
malformed signature headers are a 401, never a crash."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest

from imaging_billing import security
from imaging_billing.api.context import Services

from ..factories import create_account, create_institution
from ..support import Api, Gateway

VIEWER = "{ viewer { name } }"
PERMISSION = "query($i: ID!) { uploadPermission(institutionId: $i) { allowed } }"


def _query_string(query: str, variables: dict[str, str] | None = None) -> str:
    params = {"query": query} | ({"variables": json.dumps(variables)} if variables else {})
    return urlencode(params)


async def _get(api: Api, query_string: str, headers: dict[str, str]) -> httpx.Response:
    return await api.client.get(f"/graphql?{query_string}", headers=headers)


def _old_scheme(token: str, institution_id: str, ts: str, body: bytes) -> str:
    """The earlier, unversioned signature: ID + timestamp + body only."""
    message = f"{institution_id}{ts}{security.body_digest(body)}".encode()
    return hmac.new(security.digest(token).encode(), message, hashlib.sha256).hexdigest()


async def _gateway(services: Services) -> Gateway:
    return await create_institution(services, await create_account(services))


def _unauthenticated(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    payload = response.json()
    assert payload["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "data" not in payload


async def test_captured_get_headers_authorise_that_query_and_no_other(
    services: Services, api: Api
) -> None:
    # given a gateway's signed GET of its own name (empty body)
    gateway = await _gateway(services)
    asked = _query_string(VIEWER)
    headers = gateway.headers(b"", api.clock.now(), method="GET", query=asked)
    # when the exact request is sent, it is answered
    ok = await _get(api, asked, headers)
    assert ok.status_code == 200, ok.text
    assert ok.json()["data"]["viewer"]["name"] == "Main site"
    # then the same captured headers on another read query are refused
    other = _query_string(PERMISSION, {"i": gateway.id})
    _unauthenticated(await _get(api, other, headers))
    # and so is the same query with its parameters re-encoded (the query string as sent)
    _unauthenticated(await _get(api, asked.replace("+", "%20"), headers))


async def test_the_method_and_path_are_signed(services: Services, api: Api) -> None:
    # given a signature over an empty-bodied POST to another path
    gateway = await _gateway(services)
    ts = str(int(api.clock.now().timestamp() * 1000))
    asked = _query_string(VIEWER)
    elsewhere = security.SignedRequest.of(gateway.id, ts, b"", method="GET", path="/other")
    headers = gateway.headers(b"", api.clock.now(), method="GET", query=asked)
    # when it is sent to /graphql it is refused
    moved = headers | {"x-signature": security.sign_with_token(gateway.token, elsewhere)}
    _unauthenticated(await _get(api, asked, moved))
    # and a GET's signature does not pass for a POST of the same (empty) body
    posted = await api.client.post(f"/graphql?{asked}", content=b"", headers=headers)
    _unauthenticated(posted)


async def test_a_post_signature_covers_the_body(services: Services, api: Api) -> None:
    gateway = await _gateway(services)
    body = json.dumps({"query": VIEWER}).encode()
    headers = gateway.headers(body, api.clock.now())
    assert (await api.client.post("/graphql", content=body, headers=headers)).status_code == 200
    changed = json.dumps({"query": "{ viewer { role } }"}).encode()
    _unauthenticated(await api.client.post("/graphql", content=changed, headers=headers))


async def test_the_unversioned_signature_is_refused(services: Services, api: Api) -> None:
    # given a request signed correctly under the earlier scheme
    gateway = await _gateway(services)
    body = json.dumps({"query": VIEWER}).encode()
    headers = gateway.headers(body, api.clock.now())
    old = _old_scheme(gateway.token, gateway.id, headers["x-timestamp"], body)
    # then neither the bare MAC nor the MAC under the v2 tag is accepted
    for value in (old, f"v2={old}", f"v1={old}"):
        refused = await api.client.post(
            "/graphql", content=body, headers=headers | {"x-signature": value}
        )
        _unauthenticated(refused)


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("x-timestamp", "\xb2".encode("latin-1")),  # '²': str.isdigit() says yes
        ("x-timestamp", "17723520000\xb2".encode("latin-1")),
        ("x-timestamp", "١٧٧٢٣٥٢٠٠٠٠٠٠".encode()),  # Arabic-Indic digits, UTF-8
        ("x-signature", b"v2=" + "\xe9".encode("latin-1") * 64),
        ("x-signature", "\xe9".encode("latin-1") * 64),
        ("x-signature", b"v2=" + "²".encode() * 32),
        ("x-institution-id", "\xb2".encode("latin-1")),
    ],
)
async def test_non_ascii_signature_headers_are_a_401_not_a_crash(
    services: Services, api: Api, header: str, value: bytes
) -> None:
    # given a correctly signed request with one header replaced by non-ASCII bytes
    gateway = await _gateway(services)
    body = json.dumps({"query": VIEWER}).encode()
    headers: dict[str, str | bytes] = dict(gateway.headers(body, api.clock.now()))
    headers[header] = value
    # then the answer is the typed authentication refusal
    _unauthenticated(await api.client.post("/graphql", content=body, headers=headers))


def test_timestamps_are_ascii_digits_only() -> None:
    now_ms = 1_772_352_000_000
    assert security.timestamp_fresh(str(now_ms), now_ms, 300)
    for value in ("²", "17723520000²", "١٧٧٢٣٥٢٠٠٠٠٠٠", "+1772352000000", " 1772352000000"):
        assert not security.timestamp_fresh(value, now_ms, 300), value


def test_signature_header_format() -> None:
    mac = "ab" * 32
    assert security.signature_mac(f"v2={mac}") == mac
    assert security.signature_mac(f"v2={mac.upper()}") == mac
    for value in (mac, f"v2={mac}0", f"v2= {mac}", f"V2={mac}", f"v2={'²' * 64}", ""):
        assert security.signature_mac(value) is None, value


def test_the_canonical_request_is_as_documented() -> None:
    # the README's worked example, byte for byte
    signed = security.SignedRequest.of(
        "SW5zdGl0dXRpb246MQ==", "1772352000000", b"", method="GET", query="query=%7B%7D"
    )
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert signed.canonical() == (
        b"v2\nGET\n/graphql\nquery=%7B%7D\nSW5zdGl0dXRpb246MQ==\n1772352000000\n" + empty.encode()
    )


async def test_a_stale_or_future_timestamp_is_refused(services: Services, api: Api) -> None:
    gateway = await _gateway(services)
    body = json.dumps({"query": VIEWER}).encode()
    for shift in (timedelta(minutes=-5, seconds=-1), timedelta(minutes=5, seconds=1)):
        when = api.clock.now() + shift
        _unauthenticated(
            await api.client.post("/graphql", content=body, headers=gateway.headers(body, when))
        )
