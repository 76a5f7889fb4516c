"""Order numbers and the payee (domain/payee.py): pure, no database."""

from __future__ import annotations

from datetime import date

import pytest

from imaging_billing.domain.errors import RuleViolation
from imaging_billing.domain.payee import check_payee, order_number


def test_order_number_is_prefix_day_and_four_digit_sequence() -> None:
    assert order_number(date(2026, 12, 2), 1) == "IB202612020001"
    assert order_number(date(2026, 12, 2), 42) == "IB202612020042"
    # past 9,999 in a day the number grows a digit rather than repeating
    assert order_number(date(2026, 12, 2), 10_000) == "IB2026120210000"
    with pytest.raises(ValueError, match="start at 1"):
        order_number(date(2026, 12, 2), 0)


def test_payee_keeps_digits_of_a_grouped_account_number_and_trims_names() -> None:
    payee = check_payee(" 示例公司 ", "示例银行", "6222-0200 1234 5678 901")
    assert (payee.name, payee.bank, payee.account_number) == (
        "示例公司",
        "示例银行",
        "6222020012345678901",
    )


@pytest.mark.parametrize(
    ("name", "bank", "account", "code", "field"),
    [
        ("", "Bank", "12345678", "PAYEE_NAME_REQUIRED", "name"),
        ("Payee", " ", "12345678", "PAYEE_BANK_REQUIRED", "bank"),
        ("Payee", "Bank", "1234567", "PAYEE_ACCOUNT_NUMBER_INVALID", "accountNumber"),
        ("Payee", "Bank", "1" * 33, "PAYEE_ACCOUNT_NUMBER_INVALID", "accountNumber"),
        ("Payee", "Bank", "6222O20012345678", "PAYEE_ACCOUNT_NUMBER_INVALID", "accountNumber"),
        ("Payee", "Bank", "６２２２０２００１２", "PAYEE_ACCOUNT_NUMBER_INVALID", "accountNumber"),
        ("Pay\u202eee", "Bank", "12345678", "TEXT_CHARACTERS", "name"),
    ],
)
def test_payee_refusals_name_the_field(
    name: str, bank: str, account: str, code: str, field: str
) -> None:
    with pytest.raises(RuleViolation) as refused:
        check_payee(name, bank, account)
    assert (refused.value.code, refused.value.field) == (code, field)
