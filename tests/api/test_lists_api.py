"""Long lists in the console: numbered pages over keyset cursors, exam filters, the
ledger per day, audit search by words."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.services.clock import ManualClock

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api, Gateway
from .test_exports_api import add_consumption

UPLOADS = """
mutation($inst: ID!, $items: [ExamUploadInput!]!) {
  recordExamUploads(institutionId: $inst, items: $items) { accepted }
}"""

EXAMS = """
query($id: ID!, $first: Int!, $after: String, $since: DateTime, $until: DateTime,
      $inst: ID) {
  account(id: $id) {
    exams(first: $first, after: $after, since: $since, until: $until, institutionId: $inst) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { cursor node { studyInstanceUid institution { name } } }
    }
  }
}"""

LEDGER = """
query($id: ID!, $first: Int!, $after: String) {
  account(id: $id) { ledger(first: $first, after: $after) {
    totalCount edges { node { id } } pageInfo { endCursor } } }
}"""

DAYS = """
query($id: ID!, $since: DateTime, $until: DateTime, $types: [LedgerEntryType!]) {
  account(id: $id) { ledgerDays(since: $since, until: $until, types: $types) {
    day entries quantity byType { type entries quantity } } }
}"""

AUDIT = """
query($search: String, $first: Int!, $after: String) {
  auditLog(first: $first, after: $after, search: $search) {
    totalCount edges { node { operation principal result } }
  }
}"""


def position(n: int) -> str:
    """The cursor of the row at 0-based position n: page N starts after (N-1)*size - 1."""
    return base64.urlsafe_b64encode(f"o:{n}".encode()).decode()


async def upload(api: Api, gateway: Gateway, first: int, count: int) -> None:
    items = [{"studyInstanceUid": f"1.2.840.{n}"} for n in range(first, first + count)]
    await api.gateway(gateway, UPLOADS, {"inst": gateway.id, "items": items})


async def given_exams(services: Services, api: Api, clock: ManualClock) -> dict[str, Any]:
    """45 exams at the main site on 1 March, 15 at the branch on 3 March."""
    account = await create_account(services)
    main = await create_institution(services, account, name="Main")
    branch = await create_institution(services, account, name="Branch")
    await credit_lot(services, account)
    await upload(api, main, 0, 45)
    clock.advance(timedelta(days=2))
    await upload(api, branch, 100, 15)
    return {
        "id": str(encode("Account", account)),
        "token": await create_operator_token(services),
        "branch": branch.id,
    }


async def test_a_position_cursor_opens_page_n_and_paging_goes_on_by_key(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given 60 exams, pages of 10
    given = await given_exams(services, api, clock)
    walk: list[str] = []
    after = None
    for _ in range(6):
        page = (
            await api.operator(
                given["token"], EXAMS, {"id": given["id"], "first": 10, "after": after}
            )
        )["account"]["exams"]
        walk += [e["node"]["studyInstanceUid"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    # when page 4 is opened by its position, then the next page by the answer's cursor
    jumped = (
        await api.operator(
            given["token"], EXAMS, {"id": given["id"], "first": 10, "after": position(29)}
        )
    )["account"]["exams"]
    onwards = (
        await api.operator(
            given["token"],
            EXAMS,
            {"id": given["id"], "first": 10, "after": jumped["pageInfo"]["endCursor"]},
        )
    )["account"]["exams"]
    # then the same rows as walking page by page, and keyset cursors again
    assert [e["node"]["studyInstanceUid"] for e in jumped["edges"]] == walk[30:40]
    assert [e["node"]["studyInstanceUid"] for e in onwards["edges"]] == walk[40:50]
    assert base64.urlsafe_b64decode(jumped["edges"][0]["cursor"]).startswith(b"k:")
    assert jumped["totalCount"] == 60


async def test_a_jump_past_the_cap_is_refused(services: Services, api: Api) -> None:
    # given an account
    account = await create_account(services)
    token = await create_operator_token(services)
    # when a page 100,002 rows in is asked
    response = await api.raw(
        LEDGER,
        {"id": str(encode("Account", account)), "first": 1, "after": position(100_001)},
        authorization=f"Bearer {token}",
    )
    # then PAGE_JUMP_TOO_FAR, naming the argument
    error = response.json()["errors"][0]["extensions"]
    assert (error["code"], error["field"]) == ("PAGE_JUMP_TOO_FAR", "after")


async def test_exams_filtered_by_upload_day_and_institution(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given 45 exams on 1 March (main site) and 15 on 3 March (branch)
    given = await given_exams(services, api, clock)
    march_3 = datetime(2026, 3, 3, tzinfo=UTC)

    async def exams(**filters: Any) -> dict[str, Any]:
        variables = {"id": given["id"], "first": 100, **filters}
        found: dict[str, Any] = (await api.operator(given["token"], EXAMS, variables))["account"]
        return found["exams"]

    # when the list is narrowed by day, by institution, and by both
    by_day = await exams(since=march_3.isoformat())
    before = await exams(until=march_3.isoformat())
    by_site = await exams(inst=given["branch"])
    both = await exams(inst=given["branch"], until=march_3.isoformat())
    # then each total counts exactly the matching exams
    assert by_day["totalCount"] == 15
    assert {e["node"]["institution"]["name"] for e in by_day["edges"]} == {"Branch"}
    assert before["totalCount"] == 45
    assert by_site["totalCount"] == 15
    assert both["totalCount"] == 0


async def test_ledger_days_sum_each_type_per_shanghai_day(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given a lot bought at 16:00 Shanghai on 1 March, 10 consumptions from 23:55
    # (5 that day, 5 after midnight Shanghai time)
    account = await create_account(services)
    token = await create_operator_token(services)
    await credit_lot(services, account)
    clock.advance(timedelta(hours=7, minutes=55))
    await add_consumption(services, account, 10)
    clock.advance(timedelta(hours=1))
    acc_id = str(encode("Account", account))
    # when the days are asked, and one day's entries are opened with `ledger`
    days = (await api.operator(token, DAYS, {"id": acc_id}))["account"]["ledgerDays"]
    consumed = (await api.operator(token, DAYS, {"id": acc_id, "types": ["CONSUMPTION"]}))[
        "account"
    ]["ledgerDays"]
    # then newest day first, per type, days split at Shanghai midnight
    assert days == [
        {
            "day": "2026-03-02",
            "entries": 5,
            "quantity": -5,
            "byType": [{"type": "CONSUMPTION", "entries": 5, "quantity": -5}],
        },
        {
            "day": "2026-03-01",
            "entries": 6,
            "quantity": 9_995,
            "byType": [
                {"type": "CONSUMPTION", "entries": 5, "quantity": -5},
                {"type": "PURCHASE", "entries": 1, "quantity": 10_000},
            ],
        },
    ]
    assert [d["entries"] for d in consumed] == [5, 5]


async def test_ledger_days_refuse_more_than_a_year(services: Services, api: Api) -> None:
    # given an account
    account = await create_account(services)
    token = await create_operator_token(services)
    # when two years of days are asked
    response = await api.raw(
        DAYS,
        {
            "id": str(encode("Account", account)),
            "since": "2024-01-01T00:00:00+08:00",
            "until": "2026-01-01T00:00:00+08:00",
        },
        authorization=f"Bearer {token}",
    )
    # then DAY_RANGE
    assert response.json()["errors"][0]["extensions"]["code"] == "DAY_RANGE"


async def test_audit_search_matches_words_literally(services: Services, api: Api) -> None:
    # given an operator who created an account named "50%_off 医院" and refused one
    token = await create_operator_token(services)
    create = "mutation($n: String!) { createAccount(name: $n) { userErrors { code } } }"
    await api.operator(token, create, {"n": "50%_off 医院"})
    await api.operator(token, create, {"n": "Plain"})
    await api.operator(token, create, {"n": ""})

    async def search(words: str) -> list[dict[str, Any]]:
        found = await api.operator(token, AUDIT, {"search": words, "first": 50})
        return [e["node"] for e in found["auditLog"]["edges"]]

    # when the log is searched by words
    hospital = await search("医院")
    percent = await search("50%_")
    # unescaped, `_` would match the "tea" of "createaccount", `%` anything with an "o"
    underscore = await search("t_a")
    anything = await search("%o")
    refused = await search("createaccount NAME_REQUIRED")
    both = await search("CREATEACCOUNT plain")
    # then words match the arguments, results and operations, case-insensitively
    assert [r["operation"] for r in hospital] == ["createAccount"]
    assert len(percent) == 1
    assert underscore == []
    assert anything == []
    assert [r["result"] for r in refused] == ["NAME_REQUIRED"]
    assert len(both) == 1


async def test_audit_search_is_bounded(services: Services, api: Api) -> None:
    # given an operator
    token = await create_operator_token(services)
    # when a search of 101 characters is sent
    response = await api.raw(
        AUDIT, {"search": "x" * 101, "first": 5}, authorization=f"Bearer {token}"
    )
    # then SEARCH_TOO_LONG
    assert response.json()["errors"][0]["extensions"]["code"] == "SEARCH_TOO_LONG"
