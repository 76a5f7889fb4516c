"""Exam reconciliation's pure rules: which studies each side lacks, and the limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.reconciliation import (
    MAX_RECONCILE_STUDIES,
    check_studies,
    check_window,
    compare,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_missing_and_unexpected_are_each_sides_differences() -> None:
    # given a gateway that sent a, b, c and a ledger that holds b, c and, in the window, c, d
    sent = ["1.2.1", "1.2.2", "1.2.3"]
    # when they are compared
    found = compare(sent, known={"1.2.2", "1.2.3"}, in_window={"1.2.3", "1.2.4"})
    # then a is missing (to re-report), d unexpected (for an operator), b and c matched
    assert found.missing == ["1.2.1"]
    assert found.unexpected == ["1.2.4"]
    assert (found.sent, found.matched) == (3, 2)


def test_a_study_known_outside_the_window_is_not_missing() -> None:
    # given a study the ledger recorded late, outside the gateway's window
    # when the gateway lists it
    found = compare(["1.2.9"], known={"1.2.9"}, in_window=set())
    # then nothing differs
    assert found.missing == []
    assert found.unexpected == []


def test_a_listed_study_held_voided_is_a_difference_of_its_own() -> None:
    # given a gateway that still stores 1.2.5, which an operator voided, and 1.2.6
    # when it lists both
    found = compare(
        ["1.2.5", "1.2.6"], known={"1.2.5", "1.2.6"}, in_window={"1.2.6"}, voided={"1.2.5"}
    )
    # then the voided one is neither matched nor missing (re-reporting draws nothing)
    assert (found.voided, found.missing, found.unexpected) == (["1.2.5"], [], [])
    assert (found.sent, found.matched) == (2, 1)


def test_more_studies_than_the_limit_are_refused_naming_it() -> None:
    # given one study over the limit
    uids = [f"1.2.{n}" for n in range(MAX_RECONCILE_STUDIES + 1)]
    # when they are checked
    with pytest.raises(RuleViolation) as refused:
        check_studies(uids)
    # then the refusal names the field and the limit
    assert refused.value.code == "BATCH_TOO_LARGE"
    assert refused.value.field == "studyInstanceUids"
    assert refused.value.params == {"limit": 10_000}


def test_the_limit_itself_and_repeated_studies_are_accepted_once_each() -> None:
    # given exactly the limit, with the first study repeated at the end
    uids = [f"1.2.{n}" for n in range(MAX_RECONCILE_STUDIES - 1)] + ["1.2.0"]
    # when they are checked
    checked = check_studies(uids)
    # then each study counts once
    assert len(checked) == MAX_RECONCILE_STUDIES - 1


def test_an_invalid_uid_or_an_empty_window_is_refused() -> None:
    with pytest.raises(RuleViolation) as bad_uid:
        check_studies(["not a uid"])
    assert bad_uid.value.code == "R_EXAM_4_STUDY_UID"
    with pytest.raises(RuleViolation) as empty:
        check_window(T0, T0)
    assert empty.value.code == "RECONCILE_WINDOW"
    assert check_window(T0, T0 + timedelta(hours=1)).ends_at == T0 + timedelta(hours=1)
