"""Query bombs (issue 9, §1): documents built to make validation or costing slow are
refused on a linear pass, with a typed code, before graphql-core validates anything;
anonymous callers are judged on a small parse and get UNAUTHENTICATED, nothing validated.

Speed is measured by `make bench` (H1); here each bomb is re-sent and the tests assert
the answer and that validation was not reached (a counter on `validate_document`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    OperationDefinitionNode,
    get_introspection_query,
    parse,
    print_ast,
    visit,
)
from graphql.language import Visitor

from imaging_billing.api import execution
from imaging_billing.api.context import Services
from imaging_billing.api.cost import query_cost
from imaging_billing.api.execution import Executor
from imaging_billing.api.schema import schema
from imaging_billing.domain.errors import MESSAGES

from ..factories import create_operator_token
from ..support import Api

ROOT = Path(__file__).resolve().parents[2]


def fragment_bomb(levels: int) -> str:
    """`fragment F0 on Query { ...F1 ...F1 }` … : each level doubles what a naive walk
    expands (the probe: 17 levels, some 730 bytes)."""
    chain = " ".join(f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels))
    return f"query {{ ...F0 }} {chain} fragment F{levels} on Query {{ __typename }}"


LOGINS = (
    "mutation { "
    + 'login(email: "a@b.cn", password: "wrong wrong") { viewer { role } } ' * 800
    + "}"
)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many documents reached graphql-core's validation."""
    calls: list[int] = []
    real = execution.validate_document

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(execution, "validate_document", counted)
    return calls


async def _post(client: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    body = json.dumps({"query": query})
    hdrs = {"content-type": "application/json", "accept-language": "en", **headers}
    return await client.post("/graphql", content=body, headers=hdrs)


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


# --- anonymous: judged before any validation -----------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        fragment_bomb(17),
        LOGINS,
        fragment_bomb(17) + "\n# varied 4711",  # a new comment each time misses the cache
        'mutation { login(email: "a@b.cn", password: "x") { ...V } } fragment V on Login'
        "Payload { viewer { role } }",
        'mutation { login(email: "a@b.cn", password: "x") { ... on LoginPayload { viewer'
        " { role } } } }",
        'mutation { a: login(email: "a@b.cn", password: "x") { viewer { role } }'
        ' b: login(email: "c@d.cn", password: "y") { viewer { role } } }',
        "{ __typename " + "x " * 300 + "}",  # past the anonymous token cap
    ],
    ids=[
        "fragment-bomb",
        "800-logins",
        "varied-comment",
        "spread",
        "inline",
        "login-twice",
        "long",
    ],
)
async def test_an_anonymous_bomb_gets_401_without_being_validated(
    client: httpx.AsyncClient, validations: list[int], query: str
) -> None:
    # given no credential, when a bomb (or anything but one plain login) is posted
    response = await _post(client, query)
    # then it is refused as unauthenticated, and nothing was validated
    assert response.status_code == 401
    assert _code(response) == "UNAUTHENTICATED"
    assert "data" not in response.json()
    assert validations == []


async def test_an_anonymous_login_is_still_validated_and_runs(
    client: httpx.AsyncClient, validations: list[int]
) -> None:
    # given no credential, when one plain login is posted
    query = 'mutation { login(email: "x@y.cn", password: "wrong wrong") { userErrors { code } } }'
    response = await _post(client, query)
    # then it was validated and ran: a typed refusal, not an authentication error
    assert response.status_code == 200
    assert response.json()["data"]["login"]["userErrors"] == [{"code": "LOGIN_FAILED"}]
    assert validations == [1]


# --- every principal: caps with typed codes, before validation ------------------------------


def _fields(count: int) -> str:
    return "{ viewer { " + " ".join(f"f{n}" for n in range(count)) + " } }"


def _spreads(count: int) -> str:
    return "{ viewer { " + "...V " * count + "} } fragment V on Viewer { role }"


def _aliases_through_a_fragment() -> str:
    aliased = " ".join(f"a{n}: role" for n in range(16))
    return f"{{ viewer {{ ...V }} me: viewer {{ ...V }} }} fragment V on Viewer {{ {aliased} }}"


def _deep_through_fragments(levels: int) -> str:
    """A field `levels` levels below the root field, every two levels in a fragment."""
    hops = [
        ("Account", "institutions(first: 1)"),
        ("InstitutionConnection", "edges"),
        ("InstitutionEdge", "node"),
        ("Institution", "account"),
    ]
    fragments = []
    level, n = 1, 0  # the level of fragment Ln's first field
    while level <= levels:
        on, field = hops[(level - 1) % 4]
        if level == levels:
            body = "__typename"
        elif level + 1 == levels:
            body = f"{field} {{ __typename }}"
        else:
            body = f"{field} {{ {hops[level % 4][1]} {{ ...L{n + 1} }} }}"
        fragments.append(f"fragment L{n} on {on} {{ {body} }}")
        level, n = level + 2, n + 1
    return "query($id: ID!) { account(id: $id) { ...L0 } } " + " ".join(fragments)


def test_depth_hidden_in_fragments_is_counted_as_executed() -> None:
    executor = Executor(schema._schema)
    # given the same chain 10 and 11 levels deep, when each is prepared
    ten, eleven = (
        executor.prepare(_deep_through_fragments(10)),
        executor.prepare(_deep_through_fragments(11)),
    )
    # then 10 levels are valid and 11 are refused
    assert ten.errors == ()
    assert [e.extensions["code"] for e in eleven.errors if e.extensions] == ["QUERY_TOO_DEEP"]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        (fragment_bomb(17), "TOO_MANY_FRAGMENTS"),
        ("{ " + "viewer { role } " * 150 + "}", "DUPLICATE_ROOT_FIELD"),
        (LOGINS.replace("wrong wrong", "x"), "QUERY_TOO_MANY_TOKENS"),
        ("{ viewer { " + "role " * 400 + "} }", "DUPLICATE_FIELD"),
        (
            "{ accounts(first: 1) { " + "edges { node { id } } " * 100 + "} }",
            "DUPLICATE_FIELD",
        ),
        ("{ viewer { " + "... on Viewer { role } " * 100 + "} }", "DUPLICATE_FIELD"),
        (_fields(501), "TOO_MANY_FIELDS"),
        (_spreads(31), "TOO_MANY_FRAGMENT_SPREADS"),
        (_aliases_through_a_fragment(), "TOO_MANY_ALIASES"),
        (_deep_through_fragments(11), "QUERY_TOO_DEEP"),
        ("{ viewer { role } }\n#" + "x" * 70_000, "QUERY_TOO_LONG"),
    ],
    ids=[
        "fragment-bomb",
        "800-root-fields",
        "800-logins",
        "nested-repeats",
        "repeated-subtrees",
        "inline-repeats",
        "fields",
        "spreads",
        "aliases-via-fragment",
        "depth-via-fragments",
        "long-text",
    ],
)
async def test_a_bomb_from_an_operator_is_refused_with_its_code_before_validation(
    services: Services,
    client: httpx.AsyncClient,
    validations: list[int],
    query: str,
    code: str,
) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when the bomb is posted
    response = await _post(client, query, authorization=f"Bearer {token}")
    # then it is refused with its code and both messages, and validation never ran
    assert response.status_code == 200
    payload = response.json()
    assert payload["data"] is None
    (error,) = payload["errors"]
    assert error["extensions"]["code"] == code
    zh, en = MESSAGES[code]
    assert error["extensions"]["messageZh"].startswith(zh.split("{")[0])
    assert error["extensions"]["messageEn"].startswith(en.split("{")[0])
    assert validations == []


async def test_an_unknown_fragment_is_a_validation_error(
    services: Services, client: httpx.AsyncClient
) -> None:
    # given an operator, when a document spreads a fragment it does not define
    token = await create_operator_token(services)
    response = await _post(client, "{ ...Nope }", authorization=f"Bearer {token}")
    # then validation names it (the depth limiter once failed on the lookup)
    assert response.status_code == 200
    assert response.json()["errors"][0]["message"] == "Unknown fragment 'Nope'."


async def test_a_fragment_chain_within_the_caps_is_costed_by_expanding_each_fragment_once(
    services: Services, client: httpx.AsyncClient
) -> None:
    # given an operator and a chain of 9 fragments each spreading the next twice
    token = await create_operator_token(services)
    # when it is posted
    response = await _post(client, fragment_bomb(9), authorization=f"Bearer {token}")
    # then it is valid, and costs what it would return: 2^9 `__typename`s
    payload = response.json()
    assert payload["data"] == {"__typename": "Query"}
    assert payload["extensions"]["cost"]["requestedQueryCost"] == 2**9


def test_query_cost_is_exact_for_a_long_fragment_chain() -> None:
    # given a chain of 40 fragments (no walk that expands each spread could finish it)
    document = parse(fragment_bomb(40))
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    # when it is costed, then every `__typename` it would return is counted
    assert query_cost(document, operation, {}) == 2**40


# --- the console's own documents --------------------------------------------------------------


def _console_documents() -> dict[str, str]:
    """Each operation of frontend/src, with the fragments it uses, as the console sends it."""
    fragments: dict[str, FragmentDefinitionNode] = {}
    operations: list[OperationDefinitionNode] = []
    for path in sorted((ROOT / "frontend" / "src").rglob("*.graphql")):
        for definition in parse(path.read_text()).definitions:
            if isinstance(definition, FragmentDefinitionNode):
                fragments[definition.name.value] = definition
            elif isinstance(definition, OperationDefinitionNode):
                operations.append(definition)

    def used(node: Any, names: set[str]) -> set[str]:
        class Spreads(Visitor):
            def enter_fragment_spread(self, spread: FragmentSpreadNode, *_: Any) -> None:
                if spread.name.value not in names:
                    names.add(spread.name.value)
                    used(fragments[spread.name.value], names)

        visit(node, Spreads())
        return names

    documents = {}
    for operation in operations:
        needed = [fragments[name] for name in sorted(used(operation, set()))]
        assert operation.name is not None
        documents[operation.name.value] = print_ast(DocumentNode(definitions=(operation, *needed)))
    return documents


def test_every_console_document_and_the_introspection_query_pass_the_caps() -> None:
    # given every document the console sends, and GraphiQL's schema query
    documents = _console_documents()
    assert len(documents) > 20
    documents["Introspection"] = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
        one_of=True,
    )
    executor = Executor(schema._schema)
    # when each is prepared, then each is within the caps and valid
    for name, text in documents.items():
        prepared = executor.prepare(text)
        assert prepared.errors == (), (name, prepared.errors)
        assert prepared.document is not None


async def test_a_refusal_before_execution_speaks_the_requests_language(
    services: Services, api: Api
) -> None:
    # given an operator
    token = await create_operator_token(services)
    query = "{ a: __typename " + " ".join(f"x{n}: __typename" for n in range(40)) + " }"
    # when the same over-aliased query is sent in Chinese, then in English
    zh = await api.raw(query, authorization=f"Bearer {token}", **{"accept-language": "zh-CN"})
    en = await api.raw(query, authorization=f"Bearer {token}", **{"accept-language": "en"})
    # then each answer's message is in its own language (the document was judged once)
    zh_error, en_error = zh.json()["errors"][0], en.json()["errors"][0]
    assert zh_error["extensions"]["code"] == en_error["extensions"]["code"] == "TOO_MANY_ALIASES"
    assert zh_error["message"] == zh_error["extensions"]["messageZh"]
    assert en_error["message"] == en_error["extensions"]["messageEn"]
    assert zh_error["message"] != en_error["message"]
