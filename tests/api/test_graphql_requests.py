"""Reading GraphQL requests off HTTP (api/requests.py, api/execution.py): what cannot be
read as one operation is refused with a status and a code, in both languages, before
anything runs; what can is run the same by POST and GET (queries only by GET)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from imaging_billing.api.context import Services
from imaging_billing.api.execution import MAX_CACHED_QUERY, Executor
from imaging_billing.api.schema import schema
from imaging_billing.domain.errors import MESSAGES

from ..factories import create_account, create_operator_token

ACCOUNTS = "{ accounts(first: 5) { totalCount } }"


async def _post(
    client: httpx.AsyncClient, token: str, body: bytes, **headers: str
) -> httpx.Response:
    sent = {"authorization": f"Bearer {token}", "content-type": "application/json", **headers}
    return await client.post("/graphql", content=body, headers=sent)


def _refusal(response: httpx.Response) -> dict[str, Any]:
    (error,) = response.json()["errors"]
    assert "data" not in response.json()
    extensions: dict[str, Any] = error["extensions"]
    return {"message": error["message"], **extensions}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "REQUEST_NOT_JSON"),
        (b"[" * 100_000, 400, "REQUEST_NOT_JSON"),
        (b'"just a string"', 400, "REQUEST_SHAPE"),
        (b'[{"query": "{ __typename }"}]', 400, "REQUEST_SHAPE"),
        (b"{}", 400, "REQUEST_SHAPE"),
        (b'{"query": 5}', 400, "REQUEST_SHAPE"),
        (b'{"query": "   "}', 400, "REQUEST_SHAPE"),
        (b'{"query": "{ __typename }", "variables": [1]}', 400, "REQUEST_SHAPE"),
        (b'{"query": "{ __typename }", "variables": "x"}', 400, "REQUEST_SHAPE"),
        (b'{"query": "{ __typename }", "operationName": 5}', 400, "REQUEST_SHAPE"),
        (
            b'{"query": "query A { __typename } query B { __typename }"}',
            400,
            "OPERATION_NAME_REQUIRED",
        ),
        (b'{"query": "query A { __typename }", "operationName": "Z"}', 400, "OPERATION_UNKNOWN"),
    ],
)
async def test_a_request_that_is_not_one_operation_is_refused_with_its_code(
    services: Services, client: httpx.AsyncClient, body: bytes, status: int, code: str
) -> None:
    token = await create_operator_token(services)
    # when the body is sent, in Chinese (the default) and in English
    zh = await _post(client, token, body, **{"x-request-id": "req-1"})
    en = await _post(client, token, body, **{"accept-language": "en"})
    # then it is refused with the status and code, messages in both languages
    assert (zh.status_code, en.status_code) == (status, status), zh.text
    refusal = _refusal(zh)
    assert refusal["code"] == code
    zh_text, en_text = refusal["messageZh"], refusal["messageEn"]
    assert refusal["message"] == zh_text
    assert _refusal(en)["message"] == en_text
    assert refusal["requestId"] == zh.headers["x-request-id"] != "req-1"
    if code != "OPERATION_UNKNOWN":
        assert (zh_text, en_text) == MESSAGES[code]


async def test_a_body_that_is_not_json_content_is_refused_with_415(
    services: Services, client: httpx.AsyncClient
) -> None:
    token = await create_operator_token(services)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", ""):
        response = await _post(
            client, token, b'{"query": "{ __typename }"}', **{"content-type": content_type}
        )
        assert response.status_code == 415, content_type
        assert _refusal(response)["code"] == "REQUEST_CONTENT_TYPE"


async def test_an_unreadable_anonymous_request_only_learns_it_is_unauthenticated(
    client: httpx.AsyncClient,
) -> None:
    for body in (b"{not json", b'"x"', b'{"query": "{ accounts(first: 1) { totalCount } }"}'):
        response = await client.post(
            "/graphql", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 401
        assert _refusal(response)["code"] == "UNAUTHENTICATED"


async def test_the_named_operation_runs_and_its_cost_is_charged(
    services: Services, client: httpx.AsyncClient
) -> None:
    token = await create_operator_token(services)
    await create_account(services, name="Ruijin")
    query = (
        "query Names { accounts(first: 5) { totalCount } }"
        " query Other { accounts(first: 50) { totalCount } }"
    )
    body = json.dumps({"query": query, "operationName": "Names"}).encode()
    response = await _post(client, token, body)
    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] == {"accounts": {"totalCount": 1}}
    # the cost is that of the operation run (1 + 5 x 1), not of the whole document
    assert payload["extensions"]["cost"]["requestedQueryCost"] == 6


async def test_get_runs_queries_and_refuses_mutations_with_405(
    services: Services, client: httpx.AsyncClient
) -> None:
    token = await create_operator_token(services)
    headers = {"authorization": f"Bearer {token}"}
    read = await client.get("/graphql", params={"query": ACCOUNTS}, headers=headers)
    assert read.json()["data"] == {"accounts": {"totalCount": 0}}
    variables = {"query": "query($n: Int!) { accounts(first: $n) { totalCount } }"}
    read = await client.get(
        "/graphql", params={**variables, "variables": '{"n": 2}'}, headers=headers
    )
    assert read.json()["data"] == {"accounts": {"totalCount": 0}}
    bad = await client.get("/graphql", params={**variables, "variables": "{n"}, headers=headers)
    assert (bad.status_code, _refusal(bad)["code"]) == (400, "REQUEST_NOT_JSON")
    create = 'mutation { createAccount(name: "By GET") { account { id } } }'
    write = await client.get("/graphql", params={"query": create}, headers=headers)
    assert (write.status_code, write.headers["allow"]) == (405, "POST")
    assert _refusal(write)["code"] == "GET_RUNS_QUERIES_ONLY"
    again = await client.get("/graphql", params={"query": ACCOUNTS}, headers=headers)
    assert again.json()["data"] == {"accounts": {"totalCount": 0}}  # nothing was created


def test_documents_are_kept_by_text_unless_long() -> None:
    executor = Executor(schema._schema)
    # a query sent again is parsed and validated once
    assert executor.prepare(ACCOUNTS) is executor.prepare(ACCOUNTS)
    # one padded past what the cache keeps is prepared each time, and still runs
    long = ACCOUNTS + "\n#" + "x" * MAX_CACHED_QUERY
    first, second = executor.prepare(long), executor.prepare(long)
    assert first is not second
    assert first.document is not None
    assert not first.errors
    # an invalid one is kept with its errors and no document
    broken = executor.prepare("{ accounts(first: 5) { nope } }")
    assert broken.document is None
    assert [e.message for e in broken.errors] == [
        "Cannot query field 'nope' on type 'AccountConnection'."
    ]
