"""Request ids are the server's: a client's X-Request-Id is only a correlation kept
beside it, sanitised, and never names the request in the log."""

from __future__ import annotations

import pytest

from imaging_billing.api.context import Services
from imaging_billing.api.request_ids import correlation_id

from ..factories import create_operator_token
from ..support import Api

AUDIT = """{ auditLog(first: 5) { edges { node { operation requestId correlationId } } } }"""
CREATE = 'mutation { createAccount(name: "North") { account { id } userErrors { code } } }'


async def test_a_clients_request_id_is_kept_as_correlation_not_as_the_request_id(
    services: Services, api: Api
) -> None:
    token = await create_operator_token(services)
    # when two requests arrive with the same client-chosen X-Request-Id
    sent = [
        await api.raw(CREATE, authorization=f"Bearer {token}", **{"x-request-id": "victim-1"})
        for _ in range(2)
    ]
    # then each gets the server's own id, in the header and in the log
    ids = [response.headers["x-request-id"] for response in sent]
    assert len(set(ids)) == 2
    assert "victim-1" not in ids
    log = (await api.operator(token, AUDIT))["auditLog"]["edges"]
    recorded = [(e["node"]["requestId"], e["node"]["correlationId"]) for e in log]
    assert recorded == [(ids[1], "victim-1"), (ids[0], "victim-1")]


async def test_a_refusal_names_the_servers_request_id(api: Api) -> None:
    # when an anonymous request is refused
    response = await api.raw("{ accounts(first: 1) { totalCount } }", **{"x-request-id": "mine"})
    # then the refusal and the header carry the server's id, not the client's
    assert response.status_code == 401
    extensions = response.json()["errors"][0]["extensions"]
    assert extensions["requestId"] == response.headers["x-request-id"] != "mine"


@pytest.mark.parametrize(
    ("header", "kept"),
    [
        ("abc-123", "abc-123"),
        ("  padded  ", "padded"),
        ("x" * 100, "x" * 64),
        ("line\nbreak", None),
        ("tab\there", None),
        ("caf\u00e9", None),
        ("\u202eevil", None),
        ("", None),
        (None, None),
    ],
)
def test_only_printable_ascii_is_kept_as_a_correlation(
    header: str | None, kept: str | None
) -> None:
    assert correlation_id(header) == kept
