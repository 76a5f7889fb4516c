"""Issue 9 §5: names cannot carry bidi overrides, control or invisible formatting
characters (they make a name show as something it is not: "\u202eexe.pdf").
Refused with TEXT_CHARACTERS on the field, nothing stored; joiners (emoji sequences,
Arabic and Indic scripts) and combining marks stay allowed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode

from ..factories import create_account, create_operator_token
from ..support import Api
from . import people_support as support
from .people_support import INVITE, Browser, given_people

browsers = support.browsers  # fixture

REFUSED = {
    "LRE": "\u202a",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRO": "\u202d",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
    "LRM": "\u200e",
    "RLM": "\u200f",
    "ALM": "\u061c",
    "ZWSP": "\u200b",
    "BOM": "\ufeff",
    "soft-hyphen": "\u00ad",
    "C1-NEL": "\u0085",
    "DEL": "\x7f",
    "ESC": "\x1b",
    "line-separator": "\u2028",
}
ALLOWED = [
    "👨\u200d👩\u200d👧 Family Clinic",
    "مستشفى الملك فهد",
    "Cafe\u0301 Hospital",
    "北京协和医院",
]

CREATE_ACCOUNT = """mutation($n: String!) { createAccount(name: $n) {
  account { id } userErrors { code field } } }"""
CREATE_INSTITUTION = """mutation($a: ID!, $n: String!) { createInstitution(accountId: $a,
  name: $n) { institution { id } token userErrors { code field } } }"""


def spoofed(char: str) -> str:
    """A name that shows reversed or hides a character, as an attacker would send it."""
    return f"Alpha {char}latipsoH{char} Clinic"


async def count(services: Services, table: str) -> int:
    async with services.db.read() as conn:
        return int((await conn.execute(sa.text(f"SELECT count(*) FROM {table}"))).scalar_one())


@pytest.mark.parametrize("char", REFUSED.values(), ids=REFUSED.keys())
async def test_account_and_institution_names_refuse_control_and_formatting_characters(
    services: Services, api: Api, char: str
) -> None:
    # given an operator and an account
    token = await create_operator_token(services)
    account = str(encode("Account", await create_account(services)))
    accounts, institutions = await count(services, "account"), await count(services, "institution")
    # when an account and an institution are named with the character inside
    name = spoofed(char)
    made = (await api.operator(token, CREATE_ACCOUNT, {"n": name}))["createAccount"]
    site = (await api.operator(token, CREATE_INSTITUTION, {"a": account, "n": name}))[
        "createInstitution"
    ]
    # then both are refused on the name, and nothing is stored
    assert made == {"account": None, "userErrors": [{"code": "TEXT_CHARACTERS", "field": "name"}]}
    assert site["userErrors"] == [{"code": "TEXT_CHARACTERS", "field": "name"}]
    assert (site["institution"], site["token"]) == (None, None)
    assert await count(services, "account") == accounts
    assert await count(services, "institution") == institutions


@pytest.mark.parametrize("char", REFUSED.values(), ids=REFUSED.keys())
async def test_user_names_refuse_control_and_formatting_characters(
    services: Services, browsers: Callable[..., Browser], char: str
) -> None:
    # given an account admin, signed in
    people = await given_people(services)
    admin = browsers()
    await admin.login(people.admin)
    # when she invites a person whose name holds the character
    variables = {
        "e": "new@alpha.example.cn",
        "n": spoofed(char),
        "r": "ACCOUNT_VIEWER",
        "a": people.account_id,
    }
    out = (await admin.data(INVITE, variables))["inviteUser"]
    # then it is refused on the name and no invitation exists
    assert out["userErrors"] == [{"code": "TEXT_CHARACTERS", "field": "name"}]
    assert out["invitationToken"] is None
    assert await count(services, "invitation") == 0


@pytest.mark.parametrize("name", ALLOWED)
async def test_joiners_combining_marks_and_other_scripts_are_kept(
    services: Services, api: Api, name: str
) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when an account is named with emoji joiners, Arabic, combining accents or Chinese
    made = (await api.operator(token, CREATE_ACCOUNT, {"n": name}))["createAccount"]
    # then it is stored exactly
    assert made["userErrors"] == []
    read = await api.operator(
        token, "query($a: ID!) { account(id: $a) { name } }", {"a": made["account"]["id"]}
    )
    assert read["account"]["name"] == name
