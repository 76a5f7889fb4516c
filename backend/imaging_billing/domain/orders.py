"""Ordering rules (R-ORD-1..4): validating lines, the pricing formulas, licence checks.

Pure: callers pass the price list, holdings and `today` in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from .catalog import PRODUCTS, Family, Feature, Product, ServiceKind, ServiceVariant
from .errors import RuleViolation
from .exams import VOLUME_STORAGE_YEARS
from .money import MAX_FEN
from .text import clean_text

MAX_QUANTITY = 10**9  # as MAX_LOT: larger is a typo, not a purchase
# R-ORD-2: the rule a product's quantity breaks.
QUANTITY_RULES: Mapping[Family, str] = {
    Family.EXAM: "R_EXAM_1_UNIT",
    Family.AI_PACK: "R_AI_1_UNIT",
    Family.LICENCE: "R_LIC_1_QUANTITY",
    Family.AI_LICENCE: "R_LIC_1_QUANTITY",  # R-AI-4: one per product set and institution
    Family.SERVICE: "R_SVC_3_QUANTITY",
}
# The guide's baskets hold a handful of products (a lot, a pack, a licence per site and
# a service or two): 50 lines is plenty, and it keeps validating, pricing and storing an
# order small whatever a caller sends.
MAX_ORDER_LINES = 50
# Each service bought is a service of its own (R-SVC-1: one row, used on its own): a line
# of more than this many is a typo, and would write that many rows in one transaction.
MAX_SERVICES_PER_LINE = 100


class OrderState(StrEnum):
    PENDING_PAYMENT = "PENDING_PAYMENT"
    PAID = "PAID"
    FULFILLED = "FULFILLED"
    CANCELLED = "CANCELLED"


class Channel(StrEnum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"


@dataclass(frozen=True)
class LineRequest:
    product: str
    quantity: int
    years: int | None = None
    institution_id: int | None = None
    institution_name: str | None = None  # services for an institution not yet on the platform
    variant: ServiceVariant | None = None
    starts_on: date | None = None  # maintenance start (R-SVC-3 decision)


@dataclass(frozen=True)
class PricedLine:
    request: LineRequest
    product: Product
    years: int | None
    unit_price_fen: int
    amount_fen: int


@dataclass(frozen=True)
class Quote:
    lines: tuple[PricedLine, ...]
    total_fen: int


def check_line_count(lines: Sequence[object]) -> None:
    """An order or a quote has 1 to MAX_ORDER_LINES lines; checked before any pricing."""
    if not lines:
        raise RuleViolation("ORDER_EMPTY", "lines")
    if len(lines) > MAX_ORDER_LINES:
        raise RuleViolation("ORDER_TOO_MANY_LINES", "lines", {"limit": MAX_ORDER_LINES})


def product_of(code: str, field: str) -> Product:
    product = PRODUCTS.get(code)
    if product is None:
        raise RuleViolation("PRODUCT_UNKNOWN", field)
    return product


def check_quantity(quantity: int, product: Product, field: str) -> None:
    """R-ORD-2: whole units of the product (R-EXAM-1: 10,000s; R-AI-1: 1,000s), at least
    one; a licence exactly one (R-LIC-1); services at most MAX_SERVICES_PER_LINE.
    Otherwise refused with the rule it breaks, zero and negative quantities included."""
    single = product.family in (Family.LICENCE, Family.AI_LICENCE)
    most = MAX_SERVICES_PER_LINE if product.family is Family.SERVICE else MAX_QUANTITY
    if not 0 < quantity <= most or quantity % product.unit or (single and quantity != 1):
        raise RuleViolation(QUANTITY_RULES[product.family], field)


def line_years(line: LineRequest, product: Product, field: str) -> int | None:
    """The years a line is priced over, or None when the price is not per year."""
    if product.code == "EXAM_VOLUME":
        if line.years not in (None, VOLUME_STORAGE_YEARS):
            raise RuleViolation("R_EXAM_1_YEARS", f"{field}.years")
        return None
    if product.code == "EXAM_ANNUAL":
        if line.years is None or not 1 <= line.years <= 100:
            raise RuleViolation("R_EXAM_1_YEARS", f"{field}.years")
        return line.years
    if product.service is ServiceKind.MAINTENANCE:
        if line.years is None or not 1 <= line.years <= 100:
            raise RuleViolation("R_SVC_3_YEARS", f"{field}.years")
        return line.years
    return None


def validate_line(
    line: LineRequest, index: int, *, online: bool, today: date, for_quote: bool = False
) -> Product:
    """Units, channel and per-institution rules of one line (R-ORD-2).

    A quote prices a basket before institutions are chosen, so it skips those checks."""
    field = f"lines[{index}]"
    product = product_of(line.product, f"{field}.product")
    if online and not product.online:
        raise RuleViolation("R_AI_4_OFFLINE_ONLY", f"{field}.product")
    check_quantity(line.quantity, product, f"{field}.quantity")
    if line.institution_name is not None and line.institution_name.strip():
        clean_text(
            line.institution_name, f"{field}.institutionName", code="R_SVC_4_REMARK", limit=200
        )
    if for_quote:
        pass
    elif product.family is Family.SERVICE:
        if line.institution_id is None and not (line.institution_name or "").strip():
            raise RuleViolation("R_SVC_4_REMARK", f"{field}.institutionId")
    elif product.per_institution and line.institution_id is None:
        raise RuleViolation("R_ORD_2_INSTITUTION", f"{field}.institutionId")
    line_years(line, product, field)
    if line.starts_on is not None and not today <= line.starts_on < add_years_date(today, 1):
        raise RuleViolation("R_SVC_3_START", f"{field}.startsOn")
    return product


def add_years_date(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def line_amount(unit_price_fen: int, quantity: int, years: int | None) -> int:
    """R-EXAM-1 / R-ORD-4: quantity × unit price, × years when priced per year."""
    amount = quantity * unit_price_fen * (years or 1)
    if amount > MAX_FEN:
        raise RuleViolation("R_GEN_3_AMOUNT", "quantity")
    return amount


def quote(
    lines: Sequence[LineRequest],
    prices: Mapping[str, int],
    *,
    online: bool,
    today: date,
    for_quote: bool = False,
) -> Quote:
    """Price every line at the unit prices in force (R-GEN-3, R-ORD-4)."""
    check_line_count(lines)
    priced: list[PricedLine] = []
    for index, line in enumerate(lines):
        product = validate_line(line, index, online=online, today=today, for_quote=for_quote)
        price = prices.get(product.code)
        if price is None:
            raise RuleViolation("PRICE_MISSING", f"lines[{index}].product")
        years = line_years(line, product, f"lines[{index}]")
        amount = line_amount(price, line.quantity, years)
        priced.append(PricedLine(line, product, years, price, amount))
    return Quote(tuple(priced), sum(p.amount_fen for p in priced))


def check_licences(lines: Iterable[LineRequest], held: Mapping[int, set[Feature]]) -> None:
    """R-LIC-4: options need the base suite (held or in this order); nothing twice."""
    lines = list(lines)
    buying: dict[int, set[Feature]] = {}
    for index, line in enumerate(lines):
        product = PRODUCTS[line.product]
        if product.feature is None or line.institution_id is None:
            continue
        mine = buying.setdefault(line.institution_id, set())
        if product.feature in held.get(line.institution_id, set()) or product.feature in mine:
            raise RuleViolation("R_LIC_4_ALREADY_HELD", f"lines[{index}].product")
        mine.add(product.feature)
    for index, line in enumerate(lines):
        product = PRODUCTS[line.product]
        if product.feature is None or product.feature is Feature.BASE_SUITE:
            continue
        assert line.institution_id is not None
        has_base = Feature.BASE_SUITE in held.get(line.institution_id, set())
        if not has_base and Feature.BASE_SUITE not in buying[line.institution_id]:
            raise RuleViolation("R_LIC_4_BASE_REQUIRED", f"lines[{index}].product")


def require_terms(accepted: bool) -> None:
    if not accepted:
        raise RuleViolation("R_ORD_2_TERMS", "acceptTerms")


def can_cancel(state: OrderState) -> None:
    """R-GEN-5: only before payment."""
    if state is OrderState.CANCELLED:
        raise RuleViolation("ORDER_NOT_PAYABLE", "orderId")
    if state is not OrderState.PENDING_PAYMENT:
        raise RuleViolation("R_GEN_5_NO_REFUND", "orderId")


def service_window(purchased: date, starts_on: date | None, years: int) -> tuple[date, date]:
    """R-SVC-3: maintenance runs `years` from its start (purchase day unless later)."""
    start = starts_on or purchased
    return start, add_years_date(start, years)
