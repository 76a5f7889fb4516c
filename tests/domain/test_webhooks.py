"""The pure rules of webhook delivery: signatures as the reference library makes them,
the retry schedule with its jitter, which addresses are refused, event filters."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.webhooks import (
    JITTER,
    RETRY_SCHEDULE,
    AccountRef,
    EventType,
    check_addresses,
    check_url,
    envelope,
    format_secret,
    next_attempt,
    refused_address,
    signature,
    wants,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@given(
    raw=st.binary(min_size=24, max_size=64),
    msg_id=st.from_regex(r"[A-Za-z0-9_]{1,40}", fullmatch=True),
    body=st.text(max_size=200),
)
def test_a_signature_is_the_one_the_reference_library_makes(
    raw: bytes, msg_id: str, body: str
) -> None:
    # given any secret, message id and body; when both sign at one instant
    ours = signature(raw, msg_id, int(NOW.timestamp()), body.encode())
    theirs = Webhook(format_secret(raw)).sign(msg_id, NOW, body)
    # then the signatures are the same
    assert ours == theirs


def test_a_secret_is_whsec_and_the_base64_of_its_bytes() -> None:
    assert format_secret(b"\x00" * 24) == "whsec_" + base64.b64encode(b"\x00" * 24).decode()


@given(attempts=st.integers(0, len(RETRY_SCHEDULE) - 1), jitter=st.floats(0, 0.999))
def test_each_retry_waits_its_step_stretched_by_at_most_the_jitter(
    attempts: int, jitter: float
) -> None:
    due = next_attempt(attempts, NOW, lambda: jitter)
    assert due is not None
    wait = RETRY_SCHEDULE[attempts]
    assert wait <= due - NOW <= wait * (1 + JITTER)


def test_after_the_last_step_there_is_no_retry() -> None:
    assert next_attempt(len(RETRY_SCHEDULE), NOW, lambda: 0.0) is None
    assert RETRY_SCHEDULE == (
        timedelta(0),
        timedelta(seconds=5),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=5),
        timedelta(hours=10),
        timedelta(hours=10),
    )


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("10.0.0.8", True),
        ("172.16.5.4", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("fe80::1%eth0", True),
        ("fd00::1", True),
        ("0.0.0.0", True),
        ("100.64.0.1", True),  # carrier-grade NAT: not reachable from the internet
        ("::ffff:10.0.0.1", True),
        ("224.0.0.1", True),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
    ],
)
def test_only_public_addresses_are_allowed(address: str, refused: bool) -> None:
    assert refused_address(address) is refused


def test_a_private_address_passes_when_private_ones_are_allowed() -> None:
    check_addresses(["127.0.0.1"], allow_private=True)
    with pytest.raises(RuleViolation) as error:
        check_addresses(["8.8.8.8", "10.0.0.1"], allow_private=False)
    assert error.value.code == "R_ARR_2_WEBHOOK_URL_PRIVATE"
    with pytest.raises(RuleViolation) as error:
        check_addresses([], allow_private=True)
    assert error.value.code == "R_ARR_2_WEBHOOK_URL_UNRESOLVED"


def test_a_url_gives_its_host() -> None:
    assert check_url(" https://hooks.example.cn:8443/in?x=1 ") == (
        "https://hooks.example.cn:8443/in?x=1",
        "hooks.example.cn",
    )
    with pytest.raises(RuleViolation) as error:
        check_url("https://hooks.example.cn:99999/")
    assert error.value.code == "R_ARR_2_WEBHOOK_URL_INVALID"


def test_an_empty_filter_takes_every_event_and_tests_always_pass() -> None:
    assert wants("", "order.paid")
    assert wants("account.low_balance", "account.low_balance")
    assert not wants("account.low_balance", "order.paid")
    assert wants("account.low_balance", EventType.TEST.value)


def test_the_envelope_is_versioned_json_with_the_account_and_the_data() -> None:
    body = envelope(
        EventType.ORDER_PAID,
        event_id="ord_1_business",
        occurred_at=NOW,
        account=AccountRef("QWNjb3VudDox", "Alpha 医院"),
        data={"totalFen": 150},
    )
    assert json.loads(body) == {
        "version": 1,
        "type": "order.paid",
        "id": "ord_1_business",
        "occurredAt": "2026-03-01T08:00:00Z",
        "account": {"id": "QWNjb3VudDox", "name": "Alpha 医院"},
        "data": {"totalFen": 150},
    }
