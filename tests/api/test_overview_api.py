"""What the overview and the operators' account list show: daily usage, the run-out
estimate (R-EXAM-6), and accounts filtered by status and sorted by arrears."""

from __future__ import annotations

from datetime import timedelta

from imaging_billing.api.context import Services
from imaging_billing.api.ids import encode
from imaging_billing.services.clock import ManualClock

from ..factories import create_account, create_institution, create_operator_token, credit_lot
from ..support import Api

UPLOADS = """mutation($i: ID!, $items: [ExamUploadInput!]!) {
  recordExamUploads(institutionId: $i, items: $items) { accepted } }"""
USAGE = """query($id: ID!) { account(id: $id) {
  dailyUsage(days: 3) { day exams }
  runOut { averageDaily reason at daysLeft on projectedForfeitTotal
           lots { lotId expiresAt projectedForfeit } } } }"""
ACCOUNTS = """query($status: AccountStatus, $order: AccountOrder!, $after: String) {
  accounts(first: 2, after: $after, status: $status, orderBy: $order) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { name status } } } }"""


def items(prefix: int, count: int) -> list[dict[str, str]]:
    return [{"studyInstanceUid": f"1.2.{prefix}.{n}"} for n in range(count)]


async def test_daily_usage_counts_shanghai_days_and_estimates_the_run_out(
    services: Services, api: Api, clock: ManualClock
) -> None:
    # given an account using 300 exams on one day and 150 the next
    account = await create_account(services)
    gateway = await create_institution(services, account)
    lot = await credit_lot(services, account, quantity=10_000)
    token = await create_operator_token(services)
    await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": items(1, 300)})
    clock.advance(timedelta(days=1))
    await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": items(2, 150)})
    # when the overview asks for the last three days
    shown = (await api.operator(token, USAGE, {"id": str(encode("Account", account))}))["account"]
    # then each Shanghai day has its count, oldest first, zero where nothing was uploaded
    # (the clock starts 2026-03-01 08:00 UTC = 16:00 in Shanghai)
    assert shown["dailyUsage"] == [
        {"day": "2026-02-28", "exams": 0},
        {"day": "2026-03-01", "exams": 300},
        {"day": "2026-03-02", "exams": 150},
    ]
    # and at the 30-day pace (450 / 30 = 15 a day) the 9,550 left would last 636 days,
    # but the lot expires in 364 (R-EXAM-2): it runs out then, forfeiting what is left
    # (R-GEN-9): 9,550 - 364 x 15 = 4,090; the lot is named by its ID
    assert shown["runOut"] == {
        "averageDaily": 15.0,
        "reason": "LAST_LOT_EXPIRES",
        "at": "2027-03-01T08:00:00+00:00",
        "daysLeft": 364,
        "on": "2027-03-01",
        "projectedForfeitTotal": 4_090,
        "lots": [
            {
                "lotId": str(encode("ExamLot", lot)),
                "expiresAt": "2027-03-01T08:00:00+00:00",
                "projectedForfeit": 4_090,
            }
        ],
    }


async def test_operators_filter_accounts_by_status_and_sort_by_arrears(
    services: Services, api: Api, clock: ManualClock
) -> None:
    token = await create_operator_token(services)
    # given three accounts: one active, one with 5 arrears, one with 2 arrears
    await create_account(services, name="Active")
    for name, count in (("Five", 5), ("Two", 2)):
        account = await create_account(services, name=name)
        gateway = await create_institution(services, account)
        await api.gateway(gateway, UPLOADS, {"i": gateway.id, "items": items(count, count)})
    # when sorted by arrears, two per page
    first = (await api.operator(token, ACCOUNTS, {"order": "ARREARS"}))["accounts"]
    after = first["pageInfo"]["endCursor"]
    second = await api.operator(token, ACCOUNTS, {"order": "ARREARS", "after": after})
    # then the largest arrears come first, and the pages continue
    assert [e["node"]["name"] for e in first["edges"]] == ["Five", "Two"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["name"] for e in second["accounts"]["edges"]] == ["Active"]
    # and the status filter follows the 24-hour clock
    arrears = await api.operator(token, ACCOUNTS, {"order": "ID", "status": "IN_ARREARS"})
    assert arrears["accounts"]["totalCount"] == 2
    clock.advance(timedelta(hours=24))
    suspended = await api.operator(token, ACCOUNTS, {"order": "ID", "status": "SUSPENDED"})
    assert suspended["accounts"]["totalCount"] == 2
    active = await api.operator(token, ACCOUNTS, {"order": "ID", "status": "ACTIVE"})
    assert [e["node"]["name"] for e in active["accounts"]["edges"]] == ["Active"]
