"""Order numbers and the payee a bank transfer is made to (R-ORD-1 "pay").

A person pays an online order by bank transfer: they need to know whom to pay (the
payee an operator keeps current) and what to write on the transfer so the operator
can match it to one order (the order number). Pure: callers pass the day in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from .errors import RuleViolation
from .text import clean_text

ORDER_NUMBER_PREFIX = "IB"
MAX_PAYEE_TEXT = 200
# Mainland bank account numbers run from about 10 to 25 digits; 8-32 leaves room for
# foreign accounts without accepting a phone number or a typo of a few digits.
ACCOUNT_DIGITS = re.compile(r"\d{8,32}")
_GROUPING = re.compile(r"[ \-]")


def order_number(day: date, sequence: int) -> str:
    """`IB` + the Asia/Shanghai day the order was placed + its place that day, from 0001.

    Past 9,999 orders in a day the sequence simply grows a digit: still unique, still
    in order."""
    if sequence < 1:
        raise ValueError("order sequences start at 1")
    return f"{ORDER_NUMBER_PREFIX}{day:%Y%m%d}{sequence:04d}"


@dataclass(frozen=True)
class Payee:
    name: str
    bank: str
    account_number: str  # digits only; shown in groups by the console


def check_payee(name: str, bank: str, account_number: str) -> Payee:
    """The payee as typed: a name and a bank (storable text), and an account number
    of 8-32 digits, spaces and hyphens between groups allowed and dropped."""
    name = clean_text(name, "name", code="PAYEE_NAME_REQUIRED", limit=MAX_PAYEE_TEXT)
    bank = clean_text(bank, "bank", code="PAYEE_BANK_REQUIRED", limit=MAX_PAYEE_TEXT)
    digits = _GROUPING.sub("", account_number.strip())
    if not ACCOUNT_DIGITS.fullmatch(digits) or not digits.isascii():
        raise RuleViolation("PAYEE_ACCOUNT_NUMBER_INVALID", "accountNumber")
    return Payee(name, bank, digits)
