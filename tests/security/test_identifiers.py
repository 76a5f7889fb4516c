"""One canonical form per ID and cursor: variants never resolve, out-of-range numbers
are a typed refusal, never INTERNAL."""

from __future__ import annotations

import base64
import json

import pytest

from imaging_billing import security
from imaging_billing.api import ids
from imaging_billing.api.connections import after_offset, after_pk, cursor_of, offset_cursor
from imaging_billing.api.context import Services
from imaging_billing.domain.errors import RuleViolation

from ..factories import create_account, create_institution, create_operator_token
from ..support import Api, Gateway

NODE = "query($id: ID!) { node(id: $id) { ... on Account { name } } }"
RECONCILE = "query($a: ID!) { reconcileAccount(accountId: $a) { ok } }"
ACCOUNTS = (
    "query($after: String, $o: AccountOrder) {"
    " accounts(first: 5, after: $after, orderBy: $o) { totalCount } }"
)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def variants(pk: int) -> list[str]:
    """IDs that decoded leniently name Account `pk` (the canonical one is b64('Account:2'))."""
    canonical = b64(f"Account:{pk}")
    found = [
        b64(f"Account:0{pk}"),  # leading zero
        b64("Account:٢"),  # Arabic-Indic two
        b64(f"Account:+{pk}"),
        b64(f"Account: {pk} "),  # spaces inside
        b64(f"Account:{pk}\n"),
        f" {canonical} ",  # spaces around
        canonical + "=",  # padding added
        canonical + "==",
        canonical[:4] + "\n" + canonical[4:],  # a character base64 skips
        canonical[:4] + "*" + canonical[4:],
        base64.urlsafe_b64encode(f"Account:{pk}".encode()).decode() + "=",
    ]
    return [value for value in found if value != canonical]


def test_dropped_padding_does_not_resolve() -> None:
    assert ids.decode(b64("Account:20"), "Account", missing="ACCOUNT_NOT_FOUND", field="") == 20
    with pytest.raises(RuleViolation):
        ids.decode(b64("Account:20").rstrip("="), "Account", missing="ACCOUNT_NOT_FOUND", field="")


@pytest.mark.parametrize("value", variants(2))
def test_decode_refuses_every_variant_of_a_canonical_id(value: str) -> None:
    assert ids.decode(b64("Account:2"), "Account", missing="ACCOUNT_NOT_FOUND", field="a") == 2
    with pytest.raises(RuleViolation) as refused:
        ids.decode(value, "Account", missing="ACCOUNT_NOT_FOUND", field="a")
    assert refused.value.code == "ACCOUNT_NOT_FOUND"


def test_decode_refuses_keys_out_of_range() -> None:
    for node_id in ("0", "-1", str(2**63), "9" * 30):
        with pytest.raises(RuleViolation):
            ids.decode(b64(f"Account:{node_id}"), "Account", missing="ACCOUNT_NOT_FOUND", field="")
    assert (
        ids.decode(b64(f"Account:{2**63 - 1}"), "Account", missing="ACCOUNT_NOT_FOUND", field="")
        == 2**63 - 1
    )


async def test_non_canonical_ids_do_not_resolve_over_the_api(services: Services, api: Api) -> None:
    # given an account (its pk is 1 in a fresh database) and an operator
    token = await create_operator_token(services)
    account = await create_account(services, name="Alpha")
    canonical = str(ids.encode("Account", account))
    # when the canonical ID is used it resolves
    assert (await api.operator(token, NODE, {"id": canonical}))["node"] == {"name": "Alpha"}
    ok = await api.operator(token, RECONCILE, {"a": canonical})
    assert ok["reconcileAccount"]["ok"] is True
    # then every variant is "not found"
    for value in variants(account):
        assert (await api.operator(token, NODE, {"id": value}))["node"] is None, value
        refused = (await api.raw(RECONCILE, {"a": value}, authorization=f"Bearer {token}")).json()
        assert refused["errors"][0]["extensions"]["code"] == "ACCOUNT_NOT_FOUND", value


async def test_a_non_canonical_institution_id_does_not_sign(services: Services, api: Api) -> None:
    # given a gateway that signs with a variant of its own ID (leading zero)
    gateway = await create_institution(services, await create_account(services))
    variant = b64(f"Institution:0{gateway.institution_pk}")
    body = json.dumps({"query": "{ viewer { name } }"}).encode()
    canonical = _signed_as(gateway, gateway.id, body, api)
    assert (await api.client.post("/graphql", content=body, headers=canonical)).status_code == 200
    # when the same token signs the variant
    headers = _signed_as(gateway, variant, body, api)
    # then it is not authenticated
    response = await api.client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def _signed_as(gateway: Gateway, institution_id: str, body: bytes, api: Api) -> dict[str, str]:
    ts = str(int(api.clock.now().timestamp() * 1000))
    signed = security.SignedRequest.of(institution_id, ts, body)
    return {
        "x-institution-id": institution_id,
        "x-timestamp": ts,
        "x-signature": security.sign_with_token(gateway.token, signed),
        "content-type": "application/json",
    }


@pytest.mark.parametrize(
    ("cursor", "order"),
    [
        (b64("k:99999999999999999999"), "ID"),
        (b64(f"k:{2**63}"), "ID"),
        (b64("k:-1"), "ID"),
        (b64("k:٢"), "ID"),
        (b64("k:02"), "ID"),
        (b64("k:2").rstrip("=") + "==", "ID"),
        ("k:1", "ID"),
        ("\u00e9", "ID"),
        (b64("o:99999999999999999999"), "ARREARS"),
        (b64(f"o:{2**31}"), "ARREARS"),
        (b64("o:-1"), "ARREARS"),
    ],
)
async def test_a_bad_cursor_is_cursor_invalid_not_internal(
    services: Services, api: Api, cursor: str, order: str
) -> None:
    # given an operator paging accounts
    token = await create_operator_token(services)
    await create_account(services)
    # when the cursor is out of range or not in the form the server gives out
    response = await api.raw(
        ACCOUNTS, {"after": cursor, "o": order}, authorization=f"Bearer {token}"
    )
    # then it is refused as CURSOR_INVALID, in both languages
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "CURSOR_INVALID", error
    assert error["extensions"]["field"] == "after"
    assert error["extensions"]["messageEn"] == "Invalid cursor"
    assert error["extensions"]["messageZh"] == "分页游标无效"


def test_cursors_the_server_gives_out_are_read_back() -> None:
    for pk in (0, 1, 7, 2**63 - 1):
        assert after_pk(cursor_of(pk)) == pk
    for position in (0, 1, 99, 2**31 - 1):
        assert after_offset(offset_cursor(position)) == position + 1
