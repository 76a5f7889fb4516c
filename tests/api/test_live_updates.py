"""The live console: `accountChanged` over a WebSocket to a real server (uvicorn).

Who may subscribe (the session cookie of the handshake, its Origin, the account's
scope), that an upload recorded through the API reaches a subscriber, and what a
hostile caller cannot do: send frames larger than an HTTP body, or open sockets without
end as one person.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from imaging_billing.api.http import MAX_BODY
from imaging_billing.api.live import MAX_SOCKETS_PER_PRINCIPAL, TOO_MANY_SOCKETS
from imaging_gateway import GatewayClient

from ..support.serving import LiveServer, seeded_database

PROTOCOL = "graphql-transport-ws"
FOLLOW = """subscription Follow($id: ID!) {
  accountChanged(accountId: $id) {
    accountId status
    examFigures { available used arrears }
    newestNotice { id kind }
  }
}"""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return seeded_database(tmp_path_factory.mktemp("seeded"))


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, seeded: tuple[Path, dict[str, str]]
) -> Iterator[LiveServer]:
    running = LiveServer(tmp_path_factory.mktemp("live"), seeded)
    running.start()
    yield running
    running.stop()


def login(base: str, email: str, password: str) -> str:
    response = httpx.post(
        f"{base}/graphql",
        json={
            "query": "mutation($e: String!, $p: String!) { login(email: $e, password: $p)"
            " { userErrors { code } } }",
            "variables": {"e": email, "p": password},
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["login"]["userErrors"] == []
    return response.cookies["ib_session"]


def logout(base: str, cookie: str) -> None:
    response = httpx.post(
        f"{base}/graphql",
        json={"query": "mutation { logout { ok } }"},
        cookies={"ib_session": cookie},
        timeout=30,
    )
    assert response.json()["data"]["logout"]["ok"] is True


def as_operator(server: LiveServer, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{server.base}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {server.credentials['operatorToken']}"},
        timeout=30,
    )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def upload(server: LiveServer, count: int) -> None:
    c = server.credentials
    gateway = GatewayClient(server.base, c["institutionId"], c["institutionToken"], timeout=10)
    uids = [f"1.2.826.0.1.{uuid.uuid4().int % 10**12}.{i}" for i in range(count)]
    results = gateway.record_uploads([(uid, None) for uid in uids])
    assert len(results) == count


def ws_url(server: LiveServer) -> str:
    return server.base.replace("http://", "ws://") + "/graphql"


async def receive(ws: ClientConnection, seconds: float = 10) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), seconds))
    return message


async def opened(
    server: LiveServer, *, cookie: str | None, origin: str | None = "self"
) -> ClientConnection:
    headers = {"Cookie": f"ib_session={cookie}"} if cookie else {}
    return await connect(
        ws_url(server),
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        origin=server.base if origin == "self" else origin,  # type: ignore[arg-type]
        additional_headers=headers,
        open_timeout=10,
    )


async def follow(ws: ClientConnection, account_id: str) -> dict[str, Any]:
    """Initialise, subscribe and return the first message about the subscription."""
    await ws.send(json.dumps({"type": "connection_init", "payload": {"lang": "en"}}))
    assert (await receive(ws))["type"] == "connection_ack"
    return await subscribe(ws, account_id)


async def subscribe(ws: ClientConnection, account_id: str) -> dict[str, Any]:
    """Subscribe on an initialised socket; the first message about the subscription."""
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": FOLLOW, "variables": {"id": account_id}},
            }
        )
    )
    return await receive(ws)


@pytest.fixture
async def admin_socket(server: LiveServer) -> AsyncIterator[ClientConnection]:
    c = server.credentials
    ws = await opened(server, cookie=login(server.base, c["adminEmail"], c["adminPassword"]))
    yield ws
    await ws.close()


async def test_an_upload_pushes_the_new_figures(
    server: LiveServer, admin_socket: ClientConnection
) -> None:
    # Given the account's administrator follows the account in the console
    first = await follow(admin_socket, server.credentials["accountId"])
    assert first["type"] == "next", first
    before = first["payload"]["data"]["accountChanged"]["examFigures"]
    # When a gateway records three uploads through the API
    await asyncio.to_thread(upload, server, 3)
    # Then the figures the console shows are pushed, three more exams counted
    pushed = await receive(admin_socket)
    assert pushed["type"] == "next", pushed
    after = pushed["payload"]["data"]["accountChanged"]["examFigures"]
    assert after["used"] + after["arrears"] == before["used"] + before["arrears"] + 3
    assert after["available"] == max(before["available"] - 3, 0)


async def test_a_burst_of_uploads_is_a_few_pushes(
    server: LiveServer, admin_socket: ClientConnection
) -> None:
    # Given a follower
    first = await follow(admin_socket, server.credentials["accountId"])
    start = first["payload"]["data"]["accountChanged"]["examFigures"]
    # When forty upload requests arrive at once
    await asyncio.gather(*(asyncio.to_thread(upload, server, 1) for _ in range(40)))
    # Then the pushes are fewer than the requests, and the last one counts all forty
    pushes: list[dict[str, Any]] = []
    while True:
        try:
            pushes.append(await receive(admin_socket, seconds=2))
        except TimeoutError:
            break
    assert 1 <= len(pushes) < 40
    last = pushes[-1]["payload"]["data"]["accountChanged"]["examFigures"]
    assert last["used"] + last["arrears"] == start["used"] + start["arrears"] + 40


async def test_without_a_session_the_socket_is_closed_unauthenticated(
    server: LiveServer,
) -> None:
    ws = await opened(server, cookie=None)
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert closed.value.rcvd.reason.startswith("UNAUTHENTICATED")


async def test_a_revoked_session_is_refused(server: LiveServer) -> None:
    ws = await opened(server, cookie="ibs_not-a-session")
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_another_origin_is_refused_at_the_handshake(server: LiveServer) -> None:
    c = server.credentials
    cookie = login(server.base, c["adminEmail"], c["adminPassword"])
    with pytest.raises(InvalidStatus) as refused:
        await opened(server, cookie=cookie, origin="http://evil.example")
    assert refused.value.response.status_code == 403


async def test_an_admin_cannot_follow_another_account(
    server: LiveServer, admin_socket: ClientConnection
) -> None:
    # Given another hospital's account
    created = as_operator(
        server,
        'mutation { createAccount(name: "Other hospital") { account { id } } }',
        {},
    )
    other = created["createAccount"]["account"]["id"]
    # When the first account's administrator asks to follow it
    answer = await follow(admin_socket, other)
    # Then it is refused like the `account` query refuses it: as an unknown account
    assert answer["type"] == "next", answer
    [error] = answer["payload"]["errors"]
    assert error["extensions"]["code"] == "ACCOUNT_NOT_FOUND"
    assert error["message"] == "No such account"
    assert answer["payload"]["data"] is None


async def test_an_operator_follows_any_account(server: LiveServer) -> None:
    c = server.credentials
    ws = await connect(
        ws_url(server),
        subprotocols=[PROTOCOL],  # type: ignore[list-item]
        additional_headers={"Authorization": f"Bearer {c['operatorToken']}"},
    )
    try:
        first = await follow(ws, c["accountId"])
        assert first["payload"]["data"]["accountChanged"]["accountId"] == c["accountId"]
    finally:
        await ws.close()


async def test_signing_out_closes_the_socket(server: LiveServer) -> None:
    # Given an administrator following the account
    c = server.credentials
    cookie = login(server.base, c["adminEmail"], c["adminPassword"])
    ws = await opened(server, cookie=cookie)
    assert (await follow(ws, c["accountId"]))["type"] == "next"
    # When they sign out and the account then changes
    await asyncio.to_thread(logout, server.base, cookie)
    await asyncio.to_thread(upload, server, 1)
    # Then the socket is closed instead of pushing the change
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


async def test_signing_out_closes_that_sessions_sockets_at_once(server: LiveServer) -> None:
    # Given a person signed in twice (two browsers), following the account in both
    c = server.credentials
    leaving = login(server.base, c["adminEmail"], c["adminPassword"])
    staying = login(server.base, c["adminEmail"], c["adminPassword"])
    left = await opened(server, cookie=leaving)
    kept = await opened(server, cookie=staying)
    try:
        assert (await follow(left, c["accountId"]))["type"] == "next"
        assert (await follow(kept, c["accountId"]))["type"] == "next"
        # When they sign out in one browser, and nothing changes in the account
        await asyncio.to_thread(logout, server.base, leaving)
        # Then that browser's socket is closed as signed out within a second (not at the
        # next change or the 30 s recheck)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(left, seconds=1)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4401
        assert closed.value.rcvd.reason.startswith("UNAUTHENTICATED")
        # And the other browser's socket stays open and is still told of changes
        await kept.send(json.dumps({"type": "ping"}))
        assert (await receive(kept, seconds=1))["type"] == "pong"
        await asyncio.to_thread(upload, server, 1)
        assert (await receive(kept))["type"] == "next"
    finally:
        await left.close()
        await kept.close()


async def test_queries_do_not_run_over_the_socket(
    server: LiveServer, admin_socket: ClientConnection
) -> None:
    await admin_socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert (await receive(admin_socket))["type"] == "connection_ack"
    await admin_socket.send(
        json.dumps({"id": "q", "type": "subscribe", "payload": {"query": "{ viewer { name } }"}})
    )
    answer = await receive(admin_socket)
    assert answer["type"] == "error", answer
    assert answer["payload"][0]["extensions"]["code"] == "WEBSOCKET_RUNS_SUBSCRIPTIONS_ONLY"


def test_a_subscription_over_http_is_refused(server: LiveServer) -> None:
    response = httpx.post(
        f"{server.base}/graphql",
        json={"query": FOLLOW, "variables": {"id": server.credentials["accountId"]}},
        headers={"Authorization": f"Bearer {server.credentials['operatorToken']}"},
        timeout=30,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "SUBSCRIPTION_NEEDS_WEBSOCKET"


async def test_a_void_pushes_the_new_figures(
    server: LiveServer, admin_socket: ClientConnection
) -> None:
    # Given a recorded upload and a follower of its account
    await asyncio.to_thread(upload, server, 1)
    exams = as_operator(
        server,
        "query($id: ID!) { account(id: $id) { exams(first: 1) { edges { node { id } } } } }",
        {"id": server.credentials["accountId"]},
    )
    exam_id = exams["account"]["exams"]["edges"][0]["node"]["id"]
    first = await follow(admin_socket, server.credentials["accountId"])
    before = first["payload"]["data"]["accountChanged"]["examFigures"]
    # When an operator voids the exam (its unit goes back)
    voided = await asyncio.to_thread(
        as_operator,
        server,
        'mutation($e: ID!) { voidExam(examId: $e, reason: "duplicate") { userErrors { code } } }',
        {"e": exam_id},
    )
    assert voided["voidExam"]["userErrors"] == []
    # Then the follower is told, one exam fewer counted
    pushed = await receive(admin_socket)
    after = pushed["payload"]["data"]["accountChanged"]["examFigures"]
    assert after["used"] + after["arrears"] == before["used"] + before["arrears"] - 1


async def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """The code and reason the server closed the socket with (fails if it answers)."""
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None, "closed without a close frame from the server"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_a_frame_larger_than_an_http_body_closes_the_socket(
    server: LiveServer, admin_socket: ClientConnection
) -> None:
    # Given an initialised socket
    await admin_socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert (await receive(admin_socket))["type"] == "connection_ack"
    # When a subscribe message of 3 MiB arrives (HTTP bodies stop at 2 MiB)
    query = "subscription { " + "x" * (3 * 1024 * 1024) + " }"
    await admin_socket.send(
        json.dumps({"id": "big", "type": "subscribe", "payload": {"query": query}})
    )
    # Then the server closes the socket as the frame exceeds its size, without reading it
    code, _ = await closed_with(admin_socket)
    assert code == 1009  # message too big


async def test_a_frame_within_the_cap_reaches_the_query_limits(
    server: LiveServer, admin_socket: ClientConnection
) -> None:
    # Given an initialised socket
    await admin_socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert (await receive(admin_socket))["type"] == "connection_ack"
    # When a subscribe message just under the cap arrives
    query = "subscription { " + "x" * (MAX_BODY - 4096) + " }"
    await admin_socket.send(
        json.dumps({"id": "long", "type": "subscribe", "payload": {"query": query}})
    )
    # Then it is refused by the query limits, a typed error, and the socket stays open
    answer = await receive(admin_socket)
    assert answer["type"] == "error", answer
    assert answer["payload"][0]["extensions"]["code"] == "QUERY_TOO_LONG"
    first = await subscribe(admin_socket, server.credentials["accountId"])
    assert first["type"] == "next", first


async def init_answer(ws: ClientConnection) -> dict[str, Any]:
    """The server's answer to `connection_init`: its message, or {"closed": (code, reason)}
    ((None, "") when it closed without a close frame)."""
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    try:
        return await receive(ws)
    except ConnectionClosed as closed:
        rcvd = closed.rcvd
        return {"closed": (rcvd.code, rcvd.reason) if rcvd is not None else (None, "")}


async def initialised(server: LiveServer, cookie: str) -> tuple[ClientConnection, dict[str, Any]]:
    """A socket with the session, and the server's answer to its `connection_init`."""
    ws = await opened(server, cookie=cookie)
    return ws, await init_answer(ws)


async def accepted_again(server: LiveServer, cookie: str) -> ClientConnection:
    """A new socket, once the server has let go of a closed one: a socket's end reaches
    the server's handler a moment after the client sees it closed."""
    for _ in range(100):
        ws, answer = await initialised(server, cookie)
        if answer.get("type") == "connection_ack":
            return ws
        assert answer["closed"][0] == TOO_MANY_SOCKETS, answer
        await asyncio.sleep(0.05)
    raise AssertionError("the closed socket's place was never given back")


async def test_one_person_has_a_bounded_number_of_live_sockets(server: LiveServer) -> None:
    c = server.credentials
    account = c["accountId"]
    # Given a person signed in twice (two browsers) with the cap of sockets open between them
    first = login(server.base, c["operatorEmail"], c["operatorPassword"])
    second = login(server.base, c["operatorEmail"], c["operatorPassword"])
    sockets: list[ClientConnection] = []
    try:
        for n in range(MAX_SOCKETS_PER_PRINCIPAL):
            ws = await opened(server, cookie=first if n % 2 else second)
            sockets.append(ws)
            answer = await follow(ws, account)
            assert answer["type"] == "next", (n, answer)
        # When they open one more, from either session
        for cookie in (first, second):
            ws, answer = await initialised(server, cookie)
            # Then it is refused with a typed close that the console does not retry
            assert answer.get("closed") is not None, answer
            code, reason = answer["closed"]
            assert code == TOO_MANY_SOCKETS == 4429
            assert reason.startswith("TOO_MANY_SOCKETS")
        # And another person is not affected
        admin = login(server.base, c["adminEmail"], c["adminPassword"])
        other = await opened(server, cookie=admin)
        sockets.append(other)
        assert (await follow(other, account))["type"] == "next"
        # When one of the person's sockets is closed, one new socket gets its place
        await sockets.pop(0).close()
        sockets.append(await accepted_again(server, first))
        _, answer = await initialised(server, first)
        assert answer.get("closed", (None,))[0] == TOO_MANY_SOCKETS, answer
        # And a socket whose connection breaks without a close gives its place back too
        sockets.pop(0).transport.abort()
        replacement = await accepted_again(server, second)
        sockets.append(replacement)
        assert (await subscribe(replacement, account))["type"] == "next"
    finally:
        for ws in sockets:
            await ws.close()


async def test_an_operator_token_has_its_own_bounded_sockets(server: LiveServer) -> None:
    token = server.credentials["operatorToken"]
    sockets: list[ClientConnection] = []

    async def by_token() -> tuple[ClientConnection, dict[str, Any]]:
        ws = await connect(
            ws_url(server),
            subprotocols=[PROTOCOL],  # type: ignore[list-item]
            additional_headers={"Authorization": f"Bearer {token}"},
        )
        return ws, await init_answer(ws)

    try:
        for _ in range(MAX_SOCKETS_PER_PRINCIPAL):
            ws, answer = await by_token()
            sockets.append(ws)
            assert answer["type"] == "connection_ack", answer
        _, answer = await by_token()
        assert answer.get("closed", (None,))[0] == TOO_MANY_SOCKETS, answer
    finally:
        for ws in sockets:
            await ws.close()


async def test_ending_a_persons_sessions_closes_all_their_sockets_at_once(
    server: LiveServer,
) -> None:
    # Last in the module: it signs the demo administrator out everywhere.
    # Given the administrator signed in in two browsers, following the account in both
    c = server.credentials
    sockets = [
        await opened(server, cookie=login(server.base, c["adminEmail"], c["adminPassword"]))
        for _ in range(2)
    ]
    people = as_operator(
        server,
        "query($id: ID!) { account(id: $id) { users(first: 20) { edges { node { id email } } } } }",
        {"id": c["accountId"]},
    )
    (admin,) = (
        edge["node"]["id"]
        for edge in people["account"]["users"]["edges"]
        if edge["node"]["email"] == c["adminEmail"]
    )
    try:
        for socket in sockets:
            assert (await follow(socket, c["accountId"]))["type"] == "next"
        # When an operator signs her out everywhere, and nothing changes in the account
        ended = as_operator(
            server,
            "mutation($u: ID!) { endUserSessions(userId: $u) {"
            " endedSessions userErrors { code } } }",
            {"u": admin},
        )
        # (and the sessions earlier tests of this module left open)
        assert ended["endUserSessions"]["endedSessions"] >= 2
        # Then both sockets are closed as signed out within a second
        for socket in sockets:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(socket, seconds=1)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4401
    finally:
        for socket in sockets:
            await socket.close()
