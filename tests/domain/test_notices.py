"""Notices to the business and management platforms (R-ARR-2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from imaging_billing.domain.notices import (
    EXPIRY_WARNINGS,
    NoticeKind,
    NoticeTarget,
    notice_rows,
    once_key,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("kind", list(NoticeKind))
def test_r_arr_2_every_notice_goes_to_both_platforms(kind: NoticeKind) -> None:
    # given any notice kind for an account
    # when its rows are built
    rows = notice_rows(kind, account_id=42, now=NOW)
    # then there is exactly one row per target: BUSINESS and MANAGEMENT
    assert len(rows) == 2
    assert sorted(row["target"] for row in rows) == ["BUSINESS", "MANAGEMENT"]
    assert {row["target"] for row in rows} == {t.value for t in NoticeTarget}
    # and both rows tell the same story
    for row in rows:
        assert row["kind"] == kind.value
        assert row["account_id"] == 42
        assert row["created_at"] == NOW
        assert row["lot_id"] is None
        assert row["detail"] == "{}"


def test_r_arr_2_rows_are_plain_strings_for_storage() -> None:
    # given an arrears-started notice
    rows = notice_rows(NoticeKind.ARREARS_STARTED, account_id=1, now=NOW)
    # then kind and target are stored as plain strings, not enum members
    for row in rows:
        assert type(row["kind"]) is str
        assert type(row["target"]) is str


def test_r_arr_2_lot_expiry_notice_names_its_lot_and_detail() -> None:
    # given a lot with a remainder expiring in 7 days
    expires_at = NOW + timedelta(days=7)
    detail = {"remaining": 3_500, "expiresAt": expires_at}
    # when its notice rows are built
    rows = notice_rows(NoticeKind.LOT_EXPIRING_7D, account_id=5, now=NOW, lot_id=17, detail=detail)
    # then both rows name the lot and carry the same JSON detail (datetimes as text)
    assert [row["lot_id"] for row in rows] == [17, 17]
    assert rows[0]["detail"] == rows[1]["detail"]
    assert json.loads(rows[0]["detail"]) == {
        "expiresAt": str(expires_at),
        "remaining": 3_500,
    }


def test_r_arr_2_detail_json_is_stable_regardless_of_key_order() -> None:
    # given the same detail built in two key orders
    a = notice_rows(NoticeKind.LOW_BALANCE, account_id=1, now=NOW, detail={"b": 1, "a": 2})
    b = notice_rows(NoticeKind.LOW_BALANCE, account_id=1, now=NOW, detail={"a": 2, "b": 1})
    # then the stored text is identical (sorted keys)
    assert a[0]["detail"] == b[0]["detail"] == '{"a": 2, "b": 1}'


def test_r_arr_2_rows_are_independent_dicts() -> None:
    # given the two rows of one notice
    business, management = notice_rows(NoticeKind.UPLOADS_SUSPENDED, account_id=1, now=NOW)
    # when one is changed by a caller / then the other is not
    business["lot_id"] = 99
    assert management["lot_id"] is None


def test_r_arr_2_expiry_warnings_are_30_then_7_days_before() -> None:
    # given the configured expiry warnings (R-ARR-2 decision)
    # then there is a 30-day and a 7-day warning, each with its own flag column
    assert [(kind, lead) for kind, lead, _ in EXPIRY_WARNINGS] == [
        (NoticeKind.LOT_EXPIRING_30D, timedelta(days=30)),
        (NoticeKind.LOT_EXPIRING_7D, timedelta(days=7)),
    ]
    columns = [column for _, _, column in EXPIRY_WARNINGS]
    assert columns == ["notified_30d", "notified_7d"]


def test_r_arr_2_all_decided_notice_kinds_exist() -> None:
    # given R-ARR-2 and its decision: low balance, arrears start, suspension, resume,
    # 30- and 7-day expiry warnings, and issue 12's forfeits of lots and AI packs and
    # AI credit running low / then each has a notice kind
    assert {k.value for k in NoticeKind} == {
        "LOT_EXPIRED",
        "AI_PACK_LOW",
        "AI_PACK_EXPIRED",
        "LOW_BALANCE",
        "ARREARS_STARTED",
        "UPLOADS_SUSPENDED",
        "UPLOADS_RESUMED",
        "LOT_EXPIRING_30D",
        "LOT_EXPIRING_7D",
    }


def test_a_keyed_notice_carries_its_key_to_both_platforms() -> None:
    # given a once-only notice for lot 7
    key = once_key(NoticeKind.LOT_EXPIRED, 7)
    rows = notice_rows(
        NoticeKind.LOT_EXPIRED, account_id=1, now=datetime(2026, 1, 1, tzinfo=UTC), key=key
    )
    # then both rows carry the same key (unique per target in the store)
    assert key == "LOT_EXPIRED:7"
    assert [(r["target"], r["key"]) for r in rows] == [("BUSINESS", key), ("MANAGEMENT", key)]
